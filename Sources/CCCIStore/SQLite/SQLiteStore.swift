import CCCICore
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// The embedded store: SQLite through GRDB, in WAL mode (a `DatabasePool`), migrated on open.
/// Migrations are named and never edited once shipped; add a new one instead. Opened through
/// ``Store/open(_:)``; several processes of one node share the file.
public final class SQLiteStore: NodeStore {
    let writer: any DatabaseWriter
    /// The database file's device and inode when it was opened (`nil`: in memory, read-only).
    let fileIdentity: (device: UInt64, inode: UInt64)?
    /// The node this store speaks for: the jobs it claims and the canonicals it keeps are its own.
    let node: String

    /// Opens (creating and migrating) the database at `path`, for node `node`. Errors name the
    /// file and say what to do, never SQLite's bare codes.
    public init(path: URL, node: String = NodeConfig.defaultNodeName) throws(StoreError) {
        self.node = node
        do {
            try FileManager.default.createDirectory(
                at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            writer = try DatabasePool(path: path.path, configuration: configuration)
            try Self.migrator(node: node).migrate(writer)
        } catch {
            throw StoreError(path: path.path, operation: "open", underlying: error)
        }
        var info = stat()
        fileIdentity = stat(path.path, &info) == 0 ? (UInt64(info.st_dev), UInt64(info.st_ino)) : nil
    }

    /// Opens the database at `path` for reading only (`ccci results`): it works on a store this
    /// user cannot write, and never creates or migrates one.
    public init(readingFrom path: URL, node: String = NodeConfig.defaultNodeName) throws(StoreError) {
        self.node = node
        guard FileManager.default.fileExists(atPath: path.path) else {
            throw StoreError(path: path.path, operation: "open", underlying: nil)
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        func open(_ name: String) throws -> DatabaseQueue {
            let queue = try DatabaseQueue(path: name, configuration: configuration)
            _ = try queue.read { db in try db.tableExists("run") }
            return queue
        }
        do {
            writer = try open(path.path)
        } catch {
            // A WAL database whose -shm/-wal files are gone and cannot be created (a read-only
            // directory) opens only as immutable: readable, with no locking.
            do {
                writer = try open("file:\(path.path)?immutable=1")
            } catch {
                throw StoreError(path: path.path, operation: "read", underlying: error)
            }
        }
        fileIdentity = nil
    }

    /// An in-memory store (for tests of logic above the store).
    public init(node: String = "test") throws {
        self.node = node
        writer = try DatabaseQueue()
        try Self.migrator(node: node).migrate(writer)
        fileIdentity = nil
    }

    /// Where the database lives (for messages).
    public var location: String { path }

    /// The migrations; `node` is the node that migrates (it adopts what an older store kept
    /// without one).
    static func migrator(node: String) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-runs-and-tiers") { db in
            try db.create(table: "run") { table in
                table.primaryKey("id", .text)
                table.column("recipe", .text).notNull().indexed()
                table.column("ref", .text)
                table.column("pr", .integer)
                table.column("headCommit", .text).notNull()
                table.column("headVersion", .text)
                table.column("baseVersion", .text)
                table.column("driver", .text).notNull()
                table.column("mode", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("exitCode", .integer).notNull()
                table.column("level", .integer).notNull()
                table.column("ladderVersion", .text).notNull()
                table.column("startedAt", .datetime).notNull().indexed()
                table.column("finishedAt", .datetime).notNull()
                table.column("durationSeconds", .double).notNull()
                table.column("runDirectory", .text).notNull()
                table.column("resultsJSON", .text).notNull()
            }
            try db.create(table: "tier") { table in
                table.column("runID", .text).notNull().references("run", onDelete: .cascade)
                table.column("tier", .text).notNull()
                table.column("status", .text).notNull()
                table.column("durationSeconds", .double).notNull()
                table.column("reason", .text)
                table.primaryKey(["runID", "tier"])
            }
        }
        // `ccci serve`'s durable queue: jobs, the outbox of forge replies, webhook deliveries seen.
        migrator.registerMigration("v2-job-queue") { db in try createQueueTables(db) }
        // The dashboard reads each recipe's newest runs: one index walk per recipe.
        migrator.registerMigration("v3-run-by-recipe-and-time") { db in
            try db.create(index: "run_on_recipe_startedAt", on: "run", columns: ["recipe", "startedAt"])
        }
        // Each recipe's newest run and recent levels, kept with every write: the matrix is one
        // read of at most one row per recipe, whatever the history's length.
        migrator.registerMigration("v4-recipe-status") { db in
            try db.create(table: "recipe_status") { table in
                table.primaryKey("recipe", .text)
                table.column("runID", .text).notNull()
                // `install=pass,upgrade=fail,…` of the newest run; levels oldest first, `3,4`.
                table.column("tiers", .text).notNull()
                table.column("trend", .text).notNull()
            }
            for recipe in try String.fetchAll(db, sql: "SELECT DISTINCT recipe FROM run") {
                try refreshStatus(of: recipe, in: db)
            }
        }
        // A counter every write to `run` moves (by trigger, so a `ccci run` process' writes move it
        // too): the dashboard keeps what it rendered until the counter moves.
        migrator.registerMigration("v5-generation") { db in
            try db.execute(
                sql: """
                    CREATE TABLE generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
                    INSERT INTO generation (id, value) VALUES (1, 0);
                    CREATE TRIGGER run_inserted AFTER INSERT ON run BEGIN UPDATE generation SET value = value + 1; END;
                    CREATE TRIGGER run_updated AFTER UPDATE ON run BEGIN UPDATE generation SET value = value + 1; END;
                    CREATE TRIGGER run_deleted AFTER DELETE ON run BEGIN UPDATE generation SET value = value + 1; END;
                    """)
        }
        // Warm canonicals and the sweeps' reports (SPEC F-CANON, F-SWEEP).
        migrator.registerMigration("v6-canonicals-and-sweeps") { db in try createWarmTables(db) }
        // `!testme --quick` jobs.
        migrator.registerMigration("v7-quick-jobs") { db in
            try db.alter(table: "job") { table in table.add(column: "quick", .boolean).notNull().defaults(to: false) }
        }
        // `ccci serve` under attack: comments acted on (replays change nothing), pull request heads
        // ordered by the forge's clock, replies retried with backoff, jobs found by repository.
        migrator.registerMigration("v8-serve-intake") { db in try createIntakeTables(db) }
        // Several nodes, one store: a job's pid and a canonical's warm app are the node's that
        // claimed or promoted them. What was running or warm belongs to the node that migrates.
        migrator.registerMigration("v9-nodes") { db in try addNodes(db, adoptedBy: node) }
        // Each node's lease: when its server last said it is alive (another node takes over the
        // running jobs of a node silent for longer than the lease).
        migrator.registerMigration("v10-node-leases") { db in
            try db.create(table: "node_lease") { table in
                table.primaryKey("node", .text)
                table.column("seenAt", .datetime).notNull()
            }
        }
        // Jobs handed to a CI engine (SPEC F-ENGINE): when, and the engine's handle for them.
        migrator.registerMigration("v11-dispatch") { db in
            try db.alter(table: "job") { table in
                table.add(column: "dispatchedAt", .datetime)
                table.add(column: "dispatchRef", .text)
            }
        }
        return migrator
    }

    public func record(_ results: RunResults) async throws {
        do {
            try await insert(results)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path: path, operation: "write to", underlying: error)
        }
    }

    /// Records many finished runs in one transaction (an import, a benchmark's seed).
    public func record(contentsOf batch: [RunResults]) async throws {
        do {
            let rows = try batch.map { ($0, String(decoding: try $0.encoded(), as: UTF8.self)) }
            try await writer.write { db in
                for (results, json) in rows { try Self.insert(results, json: json, in: db) }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path: path, operation: "write to", underlying: error)
        }
    }

    /// Where the database lives (for messages).
    var path: String { (writer as? DatabasePool)?.path ?? (writer as? DatabaseQueue)?.path ?? "the results store" }

    private func insert(_ results: RunResults) async throws {
        let json = String(decoding: try results.encoded(), as: UTF8.self)
        try await writer.write { db in try Self.insert(results, json: json, in: db) }
    }

    /// Writes one run and its tiers (replacing an earlier record of the same run), and its
    /// recipe's status row.
    static func insert(_ results: RunResults, json: String, in db: Database) throws {
        var run = Stored(RunRow(results, json: json))
        try run.save(db)
        try Stored<TierRow>.filter(Column("runID") == results.runID).deleteAll(db)
        for (tier, result) in results.tiers {
            var row = Stored(
                TierRow(
                    runID: results.runID, tier: tier, status: result.status.rawValue,
                    durationSeconds: result.durationSeconds, reason: result.reason))
            try row.insert(db)
        }
        try refreshStatus(of: results.recipe, in: db)
    }

    /// How many levels a recipe's trend keeps.
    static let trendLength = 10

    /// Recomputes `recipe`'s row of `recipe_status` from its newest cold runs (one index walk).
    /// Quick runs are left out: they prove less (no fresh install, level 0), and the matrix and
    /// badges say what the recipe's cold runs proved.
    static func refreshStatus(of recipe: String, in db: Database) throws {
        let newest = try Row.fetchAll(
            db,
            sql: "SELECT id, level FROM run WHERE recipe = ? AND mode = 'cold' ORDER BY startedAt DESC LIMIT ?",
            arguments: [recipe, trendLength])
        guard let latest = newest.first else { return }
        let runID: String = latest["id"]
        let trend = newest.reversed().map { String($0["level"] as Int) }.joined(separator: ",")
        let tiers = try Row.fetchAll(
            db, sql: "SELECT tier, status FROM tier WHERE runID = ? ORDER BY tier", arguments: [runID]
        )
        .map { "\($0["tier"] as String)=\($0["status"] as String)" }.joined(separator: ",")
        try db.execute(
            sql: "INSERT OR REPLACE INTO recipe_status (recipe, runID, tiers, trend) VALUES (?, ?, ?, ?)",
            arguments: [recipe, runID, tiers, trend])
    }

    public func runs(recipe: String?, limit: Int) async throws -> [RunSummary] {
        do {
            return try await summaries(recipe: recipe, limit: limit)
        } catch {
            throw StoreError(path: path, operation: "read", underlying: error)
        }
    }

    private func summaries(recipe: String?, limit: Int) async throws -> [RunSummary] {
        try await writer.read { db in
            guard try db.tableExists("run") else { return [] }
            let runs = try Row.fetchAll(
                db,
                sql: "SELECT \(RunColumns.list) FROM run" + (recipe == nil ? "" : " WHERE recipe = ?")
                    + " ORDER BY startedAt DESC LIMIT ?",
                arguments: recipe.map { [$0, limit] } ?? [limit])
            // Their tiers' verdicts, in one query for all of them.
            let ids: [String] = runs.map { $0["id"] }
            let tiers = try Stored<TierRow>.filter(ids.contains(Column("runID"))).fetchAll(db).map(\.value)
            let byRun = Dictionary(grouping: tiers, by: \.runID)
            return runs.map { run in
                let verdicts = (byRun[run["id"]] ?? []).map { ($0.tier, TierStatus(rawValue: $0.status) ?? .skip) }
                return RunColumns.summary(run, tiers: Dictionary(uniqueKeysWithValues: verdicts))
            }
        }
    }

    public func results(runID: String) async throws -> RunResults? {
        let json: String?
        do {
            json = try await writer.read { db in
                guard try db.tableExists("run") else { return nil }
                return try String.fetchOne(db, sql: "SELECT resultsJSON FROM run WHERE id = ?", arguments: [runID])
            }
        } catch {
            throw StoreError(path: path, operation: "read", underlying: error)
        }
        guard let json else { return nil }
        do {
            return try JSONCoding.decoder.decode(RunResults.self, from: Data(json.utf8))
        } catch {
            throw StoreError(
                path: path, operation: "read run \(runID) from", underlying: nil,
                reason: "its results document cannot be read (\(JSONCoding.explain(error))) — it was written by "
                    + "another cc-ci version; the run's own results.json is in its run directory")
        }
    }

    /// Reads in one transaction; a database failure becomes a ``StoreError`` that says what was
    /// being done (`operation`), anything else `body` throws passes through.
    func reading<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws
        -> T
    {
        do {
            return try await writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: operation, underlying: error)
        }
    }

    /// Writes in one transaction (all of `body`, or nothing), as ``reading(_:_:)`` reads.
    func writing<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws
        -> T
    {
        do {
            return try await writer.write(body)
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: operation, underlying: error)
        }
    }
}
