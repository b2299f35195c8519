import CCCICore
import Foundation
import GRDB

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

    /// Migration `v9-nodes` (shipped: never edit, add a new migration): jobs record the node that
    /// claimed them, canonicals the node that runs their warm app (their key becomes node and
    /// recipe). What an older store kept running or warm belongs to `node`, the node migrating it.
    static func addNodes(_ db: Database, adoptedBy node: String) throws {
        try db.alter(table: "job") { table in table.add(column: "node", .text) }
        try db.execute(sql: "UPDATE job SET node = ? WHERE state = 'running'", arguments: [node])
        try db.create(index: "job_on_node_state", on: "job", columns: ["node", "state"])
        try db.create(table: "canonical_by_node") { table in
            table.column("node", .text).notNull()
            table.column("recipe", .text).notNull()
            table.column("version", .text).notNull()
            table.column("commit", .text).notNull()
            table.column("status", .text).notNull()
            table.column("domain", .text).notNull()
            table.column("volumes", .text).notNull()
            table.column("volume_bytes", .integer).notNull()
            table.column("run_id", .text).notNull()
            table.column("promoted_at", .datetime).notNull()
            table.column("updated_at", .datetime).notNull()
            table.primaryKey(["node", "recipe"])
        }
        try db.execute(
            sql: """
                INSERT INTO canonical_by_node
                SELECT ?, recipe, version, "commit", status, domain, volumes, volume_bytes, run_id, promoted_at,
                       updated_at FROM canonical;
                DROP TABLE canonical;
                ALTER TABLE canonical_by_node RENAME TO canonical;
                CREATE TRIGGER canonical_inserted AFTER INSERT ON canonical BEGIN UPDATE generation SET value = value + 1; END;
                CREATE TRIGGER canonical_updated AFTER UPDATE ON canonical BEGIN UPDATE generation SET value = value + 1; END;
                CREATE TRIGGER canonical_deleted AFTER DELETE ON canonical BEGIN UPDATE generation SET value = value + 1; END;
                """, arguments: [node])
    }

    /// This node's canonicals.
    private func mine() -> QueryInterfaceRequest<Stored<CanonicalRow>> {
        Stored<CanonicalRow>.filter(Column("node") == node)
    }

    public func canonical(_ recipe: String) async throws -> CanonicalRecord? {
        let request = mine().filter(Column("recipe") == recipe)
        return try await reading("read the canonical of \(recipe) from") { db in try request.fetchOne(db)?.value.record
        }
    }

    public func nodesWithHealthyCanonical(of recipe: String) async throws -> [String] {
        let request = Stored<CanonicalRow>.filter(Column("recipe") == recipe)
        return try await reading("read the canonicals from") { db in
            try request.fetchAll(db).filter { $0.value.record.status == "healthy" }.map(\.value.node).sorted()
        }
    }

    public func canonicals() async throws -> [CanonicalRecord] {
        let request = mine().order(Column("recipe"))
        return try await reading("read the canonicals from") { db in try request.fetchAll(db).map(\.value.record) }
    }

    /// Swaps `recipe`'s canonical for `record` — only while it is still `expected` (what the
    /// promotion started from: same version and commit, or none), so a canonical changed or
    /// dropped meanwhile is never overwritten blindly. Returns whether it swapped.
    @discardableResult
    public func swapCanonical(expected: CanonicalRecord?, with record: CanonicalRecord) async throws -> Bool {
        let current = mine().filter(Column("recipe") == record.recipe)
        let node = self.node
        return try await writing("write the canonical of \(record.recipe) to") { db in
            let found = try current.fetchOne(db)?.value.record
            guard found?.version == expected?.version, found?.commit == expected?.commit else { return false }
            var row = Stored(CanonicalRow(node: node, record: record))
            try row.save(db)
            return true
        }
    }

    public func markCanonical(_ recipe: String, status: String, volumeBytes: Int64?) async throws {
        let current = mine().filter(Column("recipe") == recipe)
        try await writing("update the canonical of \(recipe) in") { db in
            guard var row = try current.fetchOne(db)?.value else { return }
            row.record.status = status
            if let volumeBytes { row.record.volumeBytes = volumeBytes }
            row.record.updatedAt = Date()
            try Stored(row).update(db)
        }
    }

    @discardableResult
    public func dropCanonical(_ recipe: String) async throws -> Bool {
        let current = mine().filter(Column("recipe") == recipe)
        return try await writing("remove the canonical of \(recipe) from") { db in try current.deleteAll(db) > 0 }
    }

    public func record(sweep: SweepRecord) async throws {
        try await writing("write the sweep report to") { db in
            var row = Stored(sweep)
            try row.save(db)
        }
    }

    public func sweeps(limit: Int) async throws -> [SweepRecord] {
        try await reading("read the sweeps from") { db in
            try Stored<SweepRecord>.order(Column("started_at").desc).limit(limit).fetchAll(db).map(\.value)
        }
    }
}
