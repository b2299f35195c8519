import CCCICore
import Foundation
import GRDB

/// The embedded store: SQLite through GRDB, in WAL mode (a `DatabasePool`), migrated on open.
/// Migrations are named and never edited once shipped; add a new one instead.
public final class SQLiteStore: ResultStore {
    private let writer: any DatabaseWriter

    /// Opens (creating and migrating) the database at `path`.
    public init(path: URL) throws {
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        writer = try DatabasePool(path: path.path, configuration: configuration)
        try Self.migrator.migrate(writer)
    }

    /// An in-memory store (for tests of logic above the store).
    public init() throws {
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
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
        return migrator
    }

    public func record(_ results: RunResults) async throws {
        let json = String(decoding: try results.encoded(), as: UTF8.self)
        try await writer.write { db in
            try RunRecord(results: results, json: json).save(db)
            try TierRecord.filter(TierRecord.Columns.runID == results.runID).deleteAll(db)
            for (tier, result) in results.tiers {
                try TierRecord(
                    runID: results.runID, tier: tier, status: result.status.rawValue,
                    durationSeconds: result.durationSeconds, reason: result.reason
                ).insert(db)
            }
        }
    }

    public func runs(recipe: String?, limit: Int) async throws -> [RunSummary] {
        try await writer.read { db in
            var request = RunRecord.order(RunRecord.Columns.startedAt.desc).limit(limit)
            if let recipe { request = request.filter(RunRecord.Columns.recipe == recipe) }
            let runs = try request.fetchAll(db)
            let tiers = try TierRecord.filter(runs.map(\.id).contains(TierRecord.Columns.runID)).fetchAll(db)
            let byRun = Dictionary(grouping: tiers, by: \.runID)
            return runs.map { run in
                RunSummary(
                    runID: run.id, recipe: run.recipe, headCommit: run.headCommit, headVersion: run.headVersion,
                    outcome: run.outcome, exitCode: run.exitCode, level: run.level, ladderVersion: run.ladderVersion,
                    startedAt: run.startedAt, durationSeconds: run.durationSeconds,
                    tiers: Dictionary(
                        uniqueKeysWithValues: (byRun[run.id] ?? []).map {
                            ($0.tier, TierStatus(rawValue: $0.status) ?? .skip)
                        }),
                    runDirectory: run.runDirectory)
            }
        }
    }

    public func results(runID: String) async throws -> RunResults? {
        let json = try await writer.read { db in try RunRecord.fetchOne(db, key: runID)?.resultsJSON }
        guard let json else { return nil }
        return try JSONCoding.decoder.decode(RunResults.self, from: Data(json.utf8))
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
        outcome = results.outcome
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
