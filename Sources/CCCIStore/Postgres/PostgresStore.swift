import CCCICore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// The store several nodes share: PostgreSQL through postgres-nio (SPEC F-PG). Opened through
/// ``Store/open(_:)`` from `store = "postgres://user@host:5432/ccci"`, the password read from
/// `store_password_file`. Migrations are named, never edited once shipped, and run at open under
/// an advisory lock, so that two nodes starting together migrate once.
///
/// Records are kept as JSON in a `record` column beside the columns queries filter and order on;
/// instants are seconds since 1970. Writes to the queue from every node take one advisory lock for
/// their transaction (``PostgresSession/lockQueue()``): a claim, an intake decision or a reply's
/// bookkeeping reads and writes as if it were alone, as it does on SQLite.
public final class PostgresStore: NodeStore {
    /// The advisory lock every queue write holds for its transaction.
    static let queueLock: Int64 = 0x6363_6369_0000_0001
    /// The advisory lock a node holds while it migrates.
    static let migrationLock: Int64 = 0x6363_6369_0000_0002
    /// The advisory lock a canonical's compare-and-swap holds.
    static let canonicalLock: Int64 = 0x6363_6369_0000_0003
    /// The channel every change to the queue is notified on.
    static let queueChannel = "ccci_queue"

    let address: NodeConfig.PostgresLocation
    let node: String
    let client: PostgresClient
    /// The generation, kept fresh by notifications (``generation()``).
    let generations = GenerationWatch()
    let threads: NIOThreadPool
    let logger: Logger
    private let running: Task<Void, Never>

    /// Connects to `location` as node `node`, migrating the database unless `migrate` is false (a
    /// reader then needs a store at this version). `connections` bounds the pool. Errors name the
    /// URL without its secret and say what to do.
    public static func open(
        _ location: NodeConfig.PostgresLocation, node: String, connections: Int, migrate: Bool = true
    ) async throws(StoreError) -> PostgresStore {
        let logger = Logger(label: "ccci.store")
        let password: String?
        if let file = location.passwordFile {
            do {
                password = try SecretFile.read(file, minimumLength: 1)
            } catch {
                throw StoreError(
                    path: location.description, operation: "open",
                    reason: "store_password_file \(file) \(error.description)")
            }
        } else {
            password = nil
        }
        let tls: PostgresClient.Configuration.TLS
        let connectionTLS: PostgresConnection.Configuration.TLS
        do {
            switch location.tls {
            case .disable:
                tls = .disable
                connectionTLS = .disable
            case .prefer:
                tls = .prefer(.makeClientConfiguration())
                connectionTLS = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require:
                tls = .require(.makeClientConfiguration())
                connectionTLS = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw StoreError(path: location.description, operation: "open", reason: "cannot set up TLS: \(error)")
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.maximumConnections = max(2, connections)
        configuration.options.minimumConnections = 0
        let threads = NIOThreadPool(numberOfThreads: max(2, connections))
        threads.start()
        // Opening is one connection of its own, so that what is wrong (the password, the address,
        // the database) is said at once — a pool would retry it in the background.
        var first = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: password,
            database: location.database, tls: connectionTLS)
        first.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(configuration: first, id: 0, logger: logger)
            defer { Task { try? await connection.close() } }
            try await threads.runIfActive {
                try prepare(
                    PostgresSession(connection: connection, logger: logger), location: location, node: node,
                    migrate: migrate)
            }
        } catch let error as StoreError {
            threads.shutdownGracefully { _ in }
            throw error
        } catch {
            threads.shutdownGracefully { _ in }
            throw StoreError(postgres: location, operation: "open", error: error)
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return PostgresStore(address: location, node: node, client: client, threads: threads, logger: logger)
    }

    private init(
        address: NodeConfig.PostgresLocation, node: String, client: PostgresClient, threads: NIOThreadPool,
        logger: Logger
    ) {
        self.address = address
        self.node = node
        self.client = client
        self.threads = threads
        self.logger = logger
        running = Task { await client.run() }
    }

    deinit { close() }

    /// Ends the pool's connections and threads.
    public func close() {
        generations.stop()
        running.cancel()
        threads.shutdownGracefully { _ in }
    }

    public var location: String { address.description }

    // MARK: Sessions

    /// Runs `body` on a connection of the pool, on a thread of the store's own. A failure of the
    /// database or the connection becomes a ``StoreError`` saying what was being done
    /// (`operation`); anything else `body` throws passes through.
    func session<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        let threads = self.threads
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                try await threads.runIfActive {
                    do {
                        return try body(PostgresSession(connection: connection, logger: logger))
                    } catch let error as PSQLError {
                        throw error
                    } catch {
                        throw PassedThrough(error: error)
                    }
                }
            }
        } catch let thrown as PassedThrough {
            throw thrown.error
        } catch {
            throw StoreError(postgres: address, operation: operation, error: error)
        }
    }

    /// ``session(_:_:)`` in one transaction: all of `body`, or nothing.
    func transaction<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        try await session(operation) { session in try session.transaction { try body(session) } }
    }

    // MARK: Migrations

    /// The migrations, in order. Shipped ones are never edited: add a new one.
    static let migrations: [(name: String, statements: [String])] = [
        (
            "v1-store",
            [
                """
                CREATE TABLE run (
                    id text PRIMARY KEY, recipe text NOT NULL, mode text NOT NULL, level integer NOT NULL,
                    started_at double precision NOT NULL, summary text NOT NULL, results text NOT NULL)
                """,
                "CREATE INDEX run_on_recipe_started ON run (recipe, started_at)",
                "CREATE INDEX run_on_started ON run (started_at)",
                "CREATE TABLE recipe_status (recipe text PRIMARY KEY, run_id text NOT NULL, record text NOT NULL)",
                "CREATE TABLE generation (id integer PRIMARY KEY CHECK (id = 1), value bigint NOT NULL)",
                "INSERT INTO generation (id, value) VALUES (1, 0)",
                // Every change to the runs or the canonicals, from any node, moves the generation.
                """
                CREATE FUNCTION ccci_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; RETURN NULL; END $$
                """,
                """
                CREATE TRIGGER run_changed AFTER INSERT OR UPDATE OR DELETE ON run
                FOR EACH STATEMENT EXECUTE FUNCTION ccci_bump_generation()
                """,
                """
                CREATE TABLE canonical (
                    node text NOT NULL, recipe text NOT NULL, version text NOT NULL, commit_id text NOT NULL,
                    record text NOT NULL, PRIMARY KEY (node, recipe))
                """,
                """
                CREATE TRIGGER canonical_changed AFTER INSERT OR UPDATE OR DELETE ON canonical
                FOR EACH STATEMENT EXECUTE FUNCTION ccci_bump_generation()
                """,
                """
                CREATE TABLE sweep (id text PRIMARY KEY, started_at double precision NOT NULL, record text NOT NULL)
                """,
                """
                CREATE TABLE job (
                    id bigint PRIMARY KEY, node text, state text NOT NULL, repository text NOT NULL,
                    recipe text NOT NULL, pr integer NOT NULL, run_id text, record text NOT NULL)
                """,
                "CREATE SEQUENCE job_id_seq OWNED BY job.id",
                "CREATE INDEX job_on_state ON job (state, id)",
                "CREATE INDEX job_on_repository_pr ON job (repository, pr)",
                "CREATE INDEX job_on_node_state ON job (node, state)",
                "CREATE INDEX job_on_run_id ON job (run_id)",
                """
                CREATE TABLE reply (
                    id bigint PRIMARY KEY, job_id bigint, kind text NOT NULL, repository text NOT NULL, sha text,
                    state text NOT NULL, next_attempt_at double precision, delivered_at double precision,
                    record text NOT NULL)
                """,
                "CREATE SEQUENCE reply_id_seq OWNED BY reply.id",
                "CREATE INDEX reply_on_state ON reply (state, id)",
                "CREATE INDEX reply_on_kind_repository_sha ON reply (kind, repository, sha)",
                "CREATE INDEX reply_on_job_id ON reply (job_id)",
                "CREATE TABLE delivery (id text PRIMARY KEY, received_at double precision NOT NULL)",
                "CREATE INDEX delivery_on_received_at ON delivery (received_at)",
                """
                CREATE TABLE testme (
                    repository text NOT NULL, comment_id bigint NOT NULL, issue integer NOT NULL, author text NOT NULL,
                    outcome text NOT NULL, received_at double precision NOT NULL,
                    next_attempt_at double precision, record text NOT NULL, PRIMARY KEY (repository, comment_id))
                """,
                "CREATE INDEX testme_on_refusals ON testme (repository, issue, author, outcome)",
                "CREATE INDEX testme_on_outcome_next ON testme (outcome, next_attempt_at)",
                """
                CREATE TABLE pull_head (
                    repository text NOT NULL, pr integer NOT NULL, record text NOT NULL, PRIMARY KEY (repository, pr))
                """,
                "CREATE TABLE health (id integer PRIMARY KEY CHECK (id = 1), checked_at double precision NOT NULL)",
                // Each node's lease: when its server last said it is alive.
                "CREATE TABLE node_lease (node text PRIMARY KEY, seen_at double precision NOT NULL)",
            ]
        ),
        (
            // A finished run's files, for the pages of every node.
            "v2-run-files",
            [
                """
                CREATE TABLE run_file (
                    run_id text NOT NULL, name text NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (run_id, name))
                """
            ]
        ),
        (
            // Every node's dashboard learns a new generation from its notification, not a read
            // per request.
            "v3-generation-notify",
            [
                """
                CREATE OR REPLACE FUNCTION ccci_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE bumped bigint;
                BEGIN
                    UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value INTO bumped;
                    PERFORM pg_notify('ccci_generation', bumped::text);
                    RETURN NULL;
                END $$
                """
            ]
        ),
    ]

    /// Checks the database is a cc-ci store this version understands and, with `migrate`,
    /// brings it up to date — under the migration lock, each migration in its own transaction.
    private static func prepare(
        _ session: PostgresSession, location address: NodeConfig.PostgresLocation, node: String, migrate: Bool
    ) throws {
        let location = address.description
        try session.execute("SELECT pg_advisory_lock(\(Self.migrationLock))")
        defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(Self.migrationLock))") }
        let known = Self.migrations.map(\.name)
        let hasLedger = try session.value("SELECT to_regclass('ccci_migration') IS NOT NULL", as: Bool.self) ?? false
        var applied: [String] = []
        if hasLedger {
            applied = try session.rows("SELECT name FROM ccci_migration ORDER BY name").map {
                try $0.decode(String.self, context: .default)
            }
        } else {
            let tables =
                try session.value(
                    """
                    SELECT count(*) FROM information_schema.tables
                    WHERE table_schema = current_schema() AND table_name <> 'ccci_migration'
                    """, as: Int64.self) ?? 0
            guard tables == 0 else {
                throw StoreError(
                    path: location, operation: "open",
                    reason: "the database holds \(tables) tables but no cc-ci store — name an empty database "
                        + "(`createdb ccci`) or the one cc-ci created")
            }
        }
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw StoreError(
                path: location, operation: "open",
                reason: "the store was migrated by a newer cc-ci (migration `\(unknown)`) — upgrade cc-ci on this "
                    + "node; nothing was written")
        }
        let pending = Self.migrations.filter { !applied.contains($0.name) }
        guard !pending.isEmpty else { return }
        guard migrate else {
            throw StoreError(
                path: location, operation: "read",
                reason: hasLedger
                    ? "the store is older than this cc-ci (\(pending.map(\.name).joined(separator: ", ")) not "
                        + "applied) — start `ccci serve` or `ccci run` on a node to migrate it"
                    : nil)
        }
        try session.execute(
            "CREATE TABLE IF NOT EXISTS ccci_migration (name text PRIMARY KEY, applied_at double precision NOT NULL, node text NOT NULL)"
        )
        for migration in pending {
            try session.transaction {
                for statement in migration.statements { try session.execute(PostgresQuery(unsafeSQL: statement)) }
                try session.execute(
                    "INSERT INTO ccci_migration (name, applied_at, node) VALUES (\(migration.name), \(Date().storedSeconds), \(node))"
                )
            }
        }
    }

    // MARK: Run history

    public func record(_ results: RunResults) async throws {
        try await record(contentsOf: [results])
    }

    public func record(contentsOf batch: [RunResults]) async throws {
        let rows = try batch.map { results in
            (
                results, String(decoding: try results.encoded(), as: UTF8.self),
                try PostgresRecords.encode(RunSummary(results))
            )
        }
        defer { generations.forget() }
        try await transaction("write to") { session in
            for (results, json, summary) in rows {
                try session.execute(
                    """
                    INSERT INTO run (id, recipe, mode, level, started_at, summary, results)
                    VALUES (\(results.runID), \(results.recipe), \(results.mode), \(results.level),
                            \(results.startedAt.storedSeconds), \(summary), \(json))
                    ON CONFLICT (id) DO UPDATE SET recipe = EXCLUDED.recipe, mode = EXCLUDED.mode,
                        level = EXCLUDED.level, started_at = EXCLUDED.started_at, summary = EXCLUDED.summary,
                        results = EXCLUDED.results
                    """)
            }
            for recipe in Set(rows.map(\.0.recipe)) { try Self.refreshStatus(of: recipe, in: session) }
        }
    }

    /// Recomputes `recipe`'s row of the matrix from its newest cold runs (quick runs prove less
    /// and are left out, as on SQLite).
    static func refreshStatus(of recipe: String, in session: PostgresSession) throws {
        let newest = try session.rows(
            """
            SELECT id, level, summary FROM run WHERE recipe = \(recipe) AND mode = 'cold'
            ORDER BY started_at DESC LIMIT \(SQLiteStore.trendLength)
            """)
        guard let latest = newest.first else { return }
        let (runID, _, summaryText) = try latest.decode((String, Int, String).self, context: .default)
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(summaryText.utf8))
        let trend = try newest.reversed().map { try $0.decode((String, Int, String).self, context: .default).1 }
        let status = try PostgresRecords.encode(RecipeStatus(recipe: recipe, latest: summary, trend: trend))
        try session.execute(
            """
            INSERT INTO recipe_status (recipe, run_id, record) VALUES (\(recipe), \(runID), \(status))
            ON CONFLICT (recipe) DO UPDATE SET run_id = EXCLUDED.run_id, record = EXCLUDED.record
            """)
    }

    public func runs(recipe: String?, limit: Int) async throws -> [RunSummary] {
        try await session("read") { session in
            if let recipe {
                return try session.records(
                    "SELECT summary AS record FROM run WHERE recipe = \(recipe) ORDER BY started_at DESC LIMIT \(limit)"
                )
            }
            return try session.records("SELECT summary AS record FROM run ORDER BY started_at DESC LIMIT \(limit)")
        }
    }

    public func results(runID: String) async throws -> RunResults? {
        let json = try await session("read") { session in
            try session.value("SELECT results FROM run WHERE id = \(runID)", as: String.self)
        }
        guard let json else { return nil }
        do {
            return try JSONCoding.decoder.decode(RunResults.self, from: Data(json.utf8))
        } catch {
            throw StoreError(
                path: location, operation: "read run \(runID) from",
                reason: "its results document cannot be read (\(JSONCoding.explain(error))) — it was written by "
                    + "another cc-ci version; the run's own results.json is in its run directory")
        }
    }

    public func recipeMatrix() async throws -> [RecipeStatus] {
        try await session("read") { session in
            try session.records(
                "SELECT s.record FROM recipe_status s JOIN run r ON r.id = s.run_id ORDER BY s.recipe")
        }
    }

    public func recipeStatus(_ recipe: String) async throws -> RecipeStatus? {
        try await session("read") { session in
            try session.record(
                "SELECT s.record FROM recipe_status s JOIN run r ON r.id = s.run_id WHERE s.recipe = \(recipe)"
            )
        }
    }

    // MARK: Health

    public func probeWrite(within timeout: Duration) async throws {
        try await probe(location, within: timeout, suspect: "the server unreachable, or its pool busy?") {
            _ = try await self.session("write") { session in
                try session.execute(
                    """
                    INSERT INTO health (id, checked_at) VALUES (1, \(Date().storedSeconds))
                    ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at
                    """)
            }
        }
    }
}

/// What a session's body threw, carried past the pool and thrown as it is.
private struct PassedThrough: Error {
    let error: any Error
}

extension StoreError {
    /// A PostgreSQL or connection failure, said with the URL (never its password) and the fix.
    init(postgres location: NodeConfig.PostgresLocation, operation: String, error: any Error) {
        let url = location.description
        if let error = error as? PSQLError {
            let state = error.serverInfo?[.sqlState]
            let message = error.serverInfo?[.message]
            switch (error.code, state) {
            case (.server, "28P01"?), (.server, "28000"?):
                self.init(
                    path: url, operation: operation,
                    reason:
                        "the server refused user \(location.user): \(message ?? "authentication failed") — check the "
                        + "user and the password in store_password_file",
                    hint: .credentials)
            case (.server, "3D000"?):
                self.init(
                    path: url, operation: operation,
                    reason: "there is no database \(location.database) — create it (`createdb -O \(location.user) "
                        + "\(location.database)`)")
            case (.server, _):
                self.init(
                    path: url, operation: operation, reason: message ?? "the server answered \(state ?? "an error")")
            case (.connectionError, _), (.serverClosedConnection, _), (.sslUnsupported, _):
                let cause = error.underlying.map { "\($0)" } ?? "\(error.code)"
                self.init(
                    path: url, operation: operation, reason: "cannot connect: \(cause)", hint: .unreachable)
            default:
                self.init(path: url, operation: operation, reason: "\(error.code)")
            }
        } else {
            self.init(path: url, operation: operation, reason: "cannot connect: \(error)", hint: .unreachable)
        }
    }
}
