import CCCICore
import Foundation
import GRDB

/// A recipe's warm canonical (SPEC F-CANON): the version the warm app runs, as a promotion
/// proved it — the tested version and its release tag's own commit, never "the newest tag".
public struct CanonicalRecord: Sendable, Hashable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "canonical"

    public var recipe: String
    public var version: String
    /// The commit the release tag points at (what was tested and deployed).
    public var commit: String
    /// `healthy` once promoted; `broken` when a failed promotion could not bring it back.
    public var status: String
    /// The warm app's domain (`<recipe>.warm.<ci-domain>`).
    public var domain: String
    /// The warm app's volumes (full names), comma-separated.
    public var volumes: String
    /// Their size on disk when recorded.
    public var volumeBytes: Int64
    /// The run whose green cold result was promoted.
    public var runID: String
    public var promotedAt: Date
    public var updatedAt: Date

    public init(
        recipe: String, version: String, commit: String, status: String = "healthy", domain: String,
        volumes: [String], volumeBytes: Int64, runID: String, promotedAt: Date, updatedAt: Date? = nil
    ) {
        self.recipe = recipe
        self.version = version
        self.commit = commit
        self.status = status
        self.domain = domain
        self.volumes = volumes.sorted().joined(separator: ",")
        self.volumeBytes = volumeBytes
        self.runID = runID
        self.promotedAt = promotedAt
        self.updatedAt = updatedAt ?? promotedAt
    }

    public var volumeNames: [String] { volumes.split(separator: ",").map(String.init) }

    enum CodingKeys: String, CodingKey {
        case recipe, version, commit, status, domain, volumes
        case volumeBytes = "volume_bytes"
        case runID = "run_id"
        case promotedAt = "promoted_at"
        case updatedAt = "updated_at"
    }
}

/// One sweep's report, kept in the store (its JSON as the sweep printed it).
public struct SweepRecord: Sendable, Hashable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "sweep"

    public var id: String
    public var startedAt: Date
    public var finishedAt: Date
    public var dryRun: Bool
    public var reportJSON: String

    public init(id: String, startedAt: Date, finishedAt: Date, dryRun: Bool, reportJSON: String) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.dryRun = dryRun
        self.reportJSON = reportJSON
    }

    enum CodingKeys: String, CodingKey {
        case id
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case dryRun = "dry_run"
        case reportJSON = "report_json"
    }
}

extension SQLiteStore {
    static func createWarmTables(_ db: Database) throws {
        try db.create(table: "canonical") { table in
            table.primaryKey("recipe", .text)
            table.column("version", .text).notNull()
            table.column("commit", .text).notNull()
            table.column("status", .text).notNull()
            table.column("domain", .text).notNull()
            table.column("volumes", .text).notNull()
            table.column("volume_bytes", .integer).notNull()
            table.column("run_id", .text).notNull()
            table.column("promoted_at", .datetime).notNull()
            table.column("updated_at", .datetime).notNull()
        }
        // A promotion or a drop moves the generation the dashboard's cache is keyed by.
        try db.execute(
            sql: """
                CREATE TRIGGER canonical_inserted AFTER INSERT ON canonical BEGIN UPDATE generation SET value = value + 1; END;
                CREATE TRIGGER canonical_updated AFTER UPDATE ON canonical BEGIN UPDATE generation SET value = value + 1; END;
                CREATE TRIGGER canonical_deleted AFTER DELETE ON canonical BEGIN UPDATE generation SET value = value + 1; END;
                """)
        try db.create(table: "sweep") { table in
            table.primaryKey("id", .text)
            table.column("started_at", .datetime).notNull().indexed()
            table.column("finished_at", .datetime).notNull()
            table.column("dry_run", .boolean).notNull()
            table.column("report_json", .text).notNull()
        }
    }

    /// The canonical of `recipe`, if it has one.
    public func canonical(_ recipe: String) async throws -> CanonicalRecord? {
        try await reading("read the canonical of \(recipe) from") { db in
            try CanonicalRecord.fetchOne(db, key: recipe)
        }
    }

    /// Every canonical, by recipe.
    public func canonicals() async throws -> [CanonicalRecord] {
        try await reading("read the canonicals from") { db in
            try CanonicalRecord.order(Column("recipe")).fetchAll(db)
        }
    }

    /// Swaps `recipe`'s canonical for `record` — only while it is still `expected` (what the
    /// promotion started from: same version and commit, or none), so a canonical changed or
    /// dropped meanwhile is never overwritten blindly. Returns whether it swapped.
    @discardableResult
    public func swapCanonical(expected: CanonicalRecord?, with record: CanonicalRecord) async throws -> Bool {
        try await writing("write the canonical of \(record.recipe) to") { db in
            let current = try CanonicalRecord.fetchOne(db, key: record.recipe)
            guard current?.version == expected?.version, current?.commit == expected?.commit else { return false }
            try record.save(db)
            return true
        }
    }

    /// Updates the status (and the volume size) of `recipe`'s canonical, if it has one.
    public func markCanonical(_ recipe: String, status: String, volumeBytes: Int64? = nil) async throws {
        try await writing("update the canonical of \(recipe) in") { db in
            guard var record = try CanonicalRecord.fetchOne(db, key: recipe) else { return }
            record.status = status
            if let volumeBytes { record.volumeBytes = volumeBytes }
            record.updatedAt = Date()
            try record.update(db)
        }
    }

    /// Removes `recipe`'s canonical record; returns whether there was one.
    @discardableResult
    public func dropCanonical(_ recipe: String) async throws -> Bool {
        try await writing("remove the canonical of \(recipe) from") { db in
            try CanonicalRecord.deleteOne(db, key: recipe)
        }
    }

    /// Keeps a sweep's report.
    public func record(sweep: SweepRecord) async throws {
        try await writing("write the sweep report to") { db in try sweep.save(db) }
    }

    /// The newest sweeps first.
    public func sweeps(limit: Int) async throws -> [SweepRecord] {
        try await reading("read the sweeps from") { db in
            try SweepRecord.order(Column("started_at").desc).limit(limit).fetchAll(db)
        }
    }

    private func reading<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    )
        async throws -> T
    {
        do {
            return try await writer.read(body)
        } catch {
            throw StoreError(path: path, operation: operation, underlying: error)
        }
    }

    private func writing<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    )
        async throws -> T
    {
        do {
            return try await writer.write(body)
        } catch {
            throw StoreError(path: path, operation: operation, underlying: error)
        }
    }
}
