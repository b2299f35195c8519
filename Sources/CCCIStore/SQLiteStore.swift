import CCCICore
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// The embedded store: SQLite through GRDB, in WAL mode (a `DatabasePool`), migrated on open.
/// Migrations are named and never edited once shipped; add a new one instead.
public final class SQLiteStore: ResultStore {
    let writer: any DatabaseWriter
    /// The database file's device and inode when it was opened (`nil`: in memory, read-only).
    let fileIdentity: (device: UInt64, inode: UInt64)?

    /// Opens (creating and migrating) the database at `path`. Errors name the file and say what
    /// to do, never SQLite's bare codes.
    public init(path: URL) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(
                at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            writer = try DatabasePool(path: path.path, configuration: configuration)
            try Self.migrator.migrate(writer)
        } catch {
            throw StoreError(path: path.path, operation: "open", underlying: error)
        }
        var info = stat()
        fileIdentity = stat(path.path, &info) == 0 ? (UInt64(info.st_dev), UInt64(info.st_ino)) : nil
    }

    /// Opens the database at `path` for reading only (`ccci results`): it works on a store this
    /// user cannot write, and never creates or migrates one.
    public init(readingFrom path: URL) throws(StoreError) {
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
    public init() throws {
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
        fileIdentity = nil
    }

    static var migrator: DatabaseMigrator {
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
        try RunRecord(results: results, json: json).save(db)
        try TierRecord.filter(TierRecord.Columns.runID == results.runID).deleteAll(db)
        for (tier, result) in results.tiers {
            try TierRecord(
                runID: results.runID, tier: tier, status: result.status.rawValue,
                durationSeconds: result.durationSeconds, reason: result.reason
            ).insert(db)
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
            var request = RunRow.all().order(RunRecord.Columns.startedAt.desc).limit(limit)
            if let recipe { request = request.filter(RunRecord.Columns.recipe == recipe) }
            return try Self.summaries(of: request.fetchAll(db), in: db)
        }
    }

    /// `runs` as summaries, with their tiers' verdicts (one query for all of them).
    static func summaries(of runs: [RunRow], in db: Database) throws -> [RunSummary] {
        let tiers = try TierRecord.filter(runs.map(\.id).contains(TierRecord.Columns.runID)).fetchAll(db)
        let byRun = Dictionary(grouping: tiers, by: \.runID)
        return runs.map { run in
            RunSummary(
                runID: run.id, recipe: run.recipe, headCommit: run.headCommit, headVersion: run.headVersion,
                outcome: RunOutcome(rawValue: run.outcome) ?? .fail, exitCode: run.exitCode, level: run.level,
                ladderVersion: run.ladderVersion,
                startedAt: run.startedAt, durationSeconds: run.durationSeconds,
                tiers: Dictionary(
                    uniqueKeysWithValues: (byRun[run.id] ?? []).map {
                        ($0.tier, TierStatus(rawValue: $0.status) ?? .skip)
                    }),
                runDirectory: run.runDirectory)
        }
    }

    public func results(runID: String) async throws -> RunResults? {
        let json: String?
        do {
            json = try await writer.read { db in
                guard try db.tableExists("run") else { return nil }
                return try RunRecord.fetchOne(db, key: runID)?.resultsJSON
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
}

/// One row of `run`.
struct RunRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "run"

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let recipe = Column(CodingKeys.recipe)
        static let startedAt = Column(CodingKeys.startedAt)
    }

    var id: String
    var recipe: String
    var ref: String?
    var pr: Int?
    var headCommit: String
    var headVersion: String?
    var baseVersion: String?
    var driver: String
    var mode: String
    var outcome: String
    var exitCode: Int
    var level: Int
    var ladderVersion: String
    var startedAt: Date
    var finishedAt: Date
    var durationSeconds: Double
    var runDirectory: String
    var resultsJSON: String

    init(results: RunResults, json: String) {
        id = results.runID
        recipe = results.recipe
        ref = results.ref
        pr = results.pr
        headCommit = results.headCommit
        headVersion = results.headVersion
        baseVersion = results.baseVersion
        driver = results.driver
        mode = results.mode
        outcome = results.outcome.rawValue
        exitCode = Int(results.exitCode)
        level = results.level
        ladderVersion = results.ladder.version
        startedAt = results.startedAt
        finishedAt = results.finishedAt
        durationSeconds = results.durationSeconds
        runDirectory = results.artifacts.runDirectory
        resultsJSON = json
    }
}

/// A row of `run` without its results document: what lists need.
struct RunRow: Decodable, FetchableRecord, TableRecord {
    static let databaseTableName = "run"
    static var databaseSelection: [any SQLSelectable] {
        [
            Column("id"), Column("recipe"), Column("headCommit"), Column("headVersion"), Column("outcome"),
            Column("exitCode"), Column("level"), Column("ladderVersion"), Column("startedAt"),
            Column("durationSeconds"),
            Column("runDirectory"),
        ]
    }

    var id: String
    var recipe: String
    var headCommit: String
    var headVersion: String?
    var outcome: String
    var exitCode: Int
    var level: Int
    var ladderVersion: String
    var startedAt: Date
    var durationSeconds: Double
    var runDirectory: String
}

/// One row of `tier`.
struct TierRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "tier"

    enum Columns {
        static let runID = Column(CodingKeys.runID)
    }

    var runID: String
    var tier: String
    var status: String
    var durationSeconds: Double
    var reason: String?
}

/// The store could not be used: says which file, what cc-ci was doing, and the likely fix.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let operation: String
    /// SQLite's own account, when there is one.
    public let reason: String?
    let code: ResultCode?

    init(path: String, operation: String, underlying: (any Error)?, reason explanation: String? = nil) {
        self.path = path
        self.operation = operation
        if let explanation {
            code = nil
            reason = explanation
        } else if let database = underlying as? DatabaseError {
            code = database.resultCode.primaryResultCode
            reason = database.message ?? "\(database.resultCode)"
        } else {
            code = nil
            reason = underlying.map { "\($0)" }
        }
    }

    public var description: String {
        guard let reason else {
            return
                "no results store at \(path) yet — no run has been recorded on this node (or CCCI_HOME points elsewhere)"
        }
        var text = "cannot \(operation) the results store \(path): \(reason)"
        switch code {
        case .SQLITE_CANTOPEN?, .SQLITE_PERM?, .SQLITE_READONLY?, .SQLITE_AUTH?:
            text += " — check that this user may read (and, for runs, write) the file and its directory"
        case .SQLITE_NOTADB?, .SQLITE_CORRUPT?:
            text += " — the file is not a cc-ci store (move it aside; a new one is created on the next run)"
        case .SQLITE_BUSY?, .SQLITE_LOCKED?:
            text += " — another process holds it; try again"
        case .SQLITE_FULL?:
            text += " — the disk is full"
        default:
            break
        }
        return text
    }
}
