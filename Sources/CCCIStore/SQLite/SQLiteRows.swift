import CCCICore
import Foundation
import GRDB

/// A record the SQLite store keeps as one row of ``table``: its coding keys are the columns.
protocol SQLiteTable: Codable, Sendable {
    static var table: String { get }
    /// Takes the row id SQLite gave an inserted row (records with an integer id).
    mutating func inserted(rowID: Int64)
}

extension SQLiteTable {
    mutating func inserted(rowID: Int64) {}
}

/// A record as a row: GRDB's conformances live here, never on the public records, so that callers
/// and other stores never see them. It encodes and decodes through the record's own `Codable`.
struct Stored<Value: SQLiteTable>: Codable, FetchableRecord, MutablePersistableRecord {
    static var databaseTableName: String { Value.table }

    var value: Value

    init(_ value: Value) { self.value = value }
    init(from decoder: any Decoder) throws { value = try Value(from: decoder) }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    mutating func didInsert(_ inserted: InsertionSuccess) { value.inserted(rowID: inserted.rowID) }
}

extension Job: SQLiteTable {
    static var table: String { "job" }
    mutating func inserted(rowID: Int64) { id = rowID }
}

extension Reply: SQLiteTable {
    static var table: String { "reply" }
    mutating func inserted(rowID: Int64) { id = rowID }
}

extension TestmeRequest: SQLiteTable { static var table: String { "testme" } }
extension PullHead: SQLiteTable { static var table: String { "pull_head" } }
extension SweepRecord: SQLiteTable { static var table: String { "sweep" } }

/// A canonical as the row of the node that keeps it: the record's columns and `node`.
struct CanonicalRow: SQLiteTable {
    static var table: String { "canonical" }

    var node: String
    var record: CanonicalRecord

    private enum Keys: String, CodingKey { case node }

    init(node: String, record: CanonicalRecord) {
        self.node = node
        self.record = record
    }

    init(from decoder: any Decoder) throws {
        node = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .node)
        record = try CanonicalRecord(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(node, forKey: .node)
    }
}

/// A webhook delivery already handled (the forge's delivery id).
struct DeliveryRecord: SQLiteTable {
    static var table: String { "delivery" }
    var id: String
    var receivedAt: Date
}

/// One row of `run`: the columns lists and the matrix read, and the whole results document.
struct RunRow: SQLiteTable {
    static var table: String { "run" }

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

    init(_ results: RunResults, json: String) {
        let summary = RunSummary(results)
        id = summary.runID
        recipe = summary.recipe
        ref = results.ref
        pr = results.pr
        headCommit = summary.headCommit
        headVersion = summary.headVersion
        baseVersion = results.baseVersion
        driver = results.driver
        mode = results.mode
        outcome = summary.outcome.rawValue
        exitCode = summary.exitCode
        level = summary.level
        ladderVersion = summary.ladderVersion
        startedAt = summary.startedAt
        finishedAt = results.finishedAt
        durationSeconds = summary.durationSeconds
        runDirectory = summary.runDirectory
        resultsJSON = json
    }
}

/// One row of `tier`.
struct TierRow: SQLiteTable {
    static var table: String { "tier" }
    var runID: String
    var tier: String
    var status: String
    var durationSeconds: Double
    var reason: String?
}

/// The columns a list of runs reads (never the results document), in `SELECT` order.
enum RunColumns {
    static let list =
        "id, recipe, headCommit, headVersion, outcome, exitCode, level, ladderVersion, startedAt, "
        + "durationSeconds, runDirectory"

    /// A summary from a row of ``list`` (any table alias) and its tiers' verdicts.
    static func summary(_ row: Row, tiers: [String: TierStatus]) -> RunSummary {
        RunSummary(
            runID: row["id"], recipe: row["recipe"], headCommit: row["headCommit"], headVersion: row["headVersion"],
            outcome: RunOutcome(rawValue: row["outcome"]) ?? .fail, exitCode: row["exitCode"], level: row["level"],
            ladderVersion: row["ladderVersion"], startedAt: row["startedAt"],
            durationSeconds: row["durationSeconds"], tiers: tiers, runDirectory: row["runDirectory"])
    }
}

extension StoreError {
    /// A failure of SQLite at `path`, with the fix its result code suggests.
    init(path: String, operation: String, underlying: (any Error)?, reason explanation: String? = nil) {
        if let explanation {
            self.init(path: path, operation: operation, reason: explanation)
        } else if let database = underlying as? DatabaseError {
            let hint: Hint? =
                switch database.resultCode.primaryResultCode {
                case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH: .access
                case .SQLITE_NOTADB, .SQLITE_CORRUPT: .notAStore
                case .SQLITE_BUSY, .SQLITE_LOCKED: .busy
                case .SQLITE_FULL: .full
                default: nil
                }
            self.init(
                path: path, operation: operation, reason: database.message ?? "\(database.resultCode)", hint: hint)
        } else {
            self.init(path: path, operation: operation, reason: underlying.map { "\($0)" })
        }
    }
}
