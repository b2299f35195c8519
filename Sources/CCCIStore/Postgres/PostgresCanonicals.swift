import CCCICore
import Foundation
import PostgresNIO

/// Warm canonicals (each node's own, by `node`) and the sweeps' reports.
extension PostgresStore {
    public func canonical(_ recipe: String) async throws -> CanonicalRecord? {
        let node = self.node
        return try await session("read the canonical of \(recipe) from") { session in
            try session.record("SELECT record FROM canonical WHERE node = \(node) AND recipe = \(recipe)")
        }
    }

    public func nodesWithHealthyCanonical(of recipe: String) async throws -> [String] {
        let records: [(String, CanonicalRecord)] = try await session("read the canonicals from") { session in
            try session.rows("SELECT node, record FROM canonical WHERE recipe = \(recipe) ORDER BY node").map { row in
                (
                    try row.makeRandomAccess()["node"].decode(String.self),
                    try PostgresRecords.decode(CanonicalRecord.self, from: row)
                )
            }
        }
        return records.filter { $0.1.status == "healthy" }.map(\.0)
    }

    public func canonicals() async throws -> [CanonicalRecord] {
        let node = self.node
        return try await session("read the canonicals from") { session in
            try session.records("SELECT record FROM canonical WHERE node = \(node) ORDER BY recipe")
        }
    }

    @discardableResult
    public func swapCanonical(expected: CanonicalRecord?, with record: CanonicalRecord) async throws -> Bool {
        let node = self.node
        defer { generations.forget() }
        return try await transaction("write the canonical of \(record.recipe) to") { session in
            try session.execute("SELECT pg_advisory_xact_lock(\(Self.canonicalLock))")
            let found: CanonicalRecord? = try session.record(
                "SELECT record FROM canonical WHERE node = \(node) AND recipe = \(record.recipe) FOR UPDATE"
            )
            guard found?.version == expected?.version, found?.commit == expected?.commit else { return false }
            try Self.save(record, node: node, in: session)
            return true
        }
    }

    static func save(_ record: CanonicalRecord, node: String, in session: PostgresSession) throws {
        try session.execute(
            """
            INSERT INTO canonical (node, recipe, version, commit_id, record)
            VALUES (\(node), \(record.recipe), \(record.version), \(record.commit), \(try PostgresRecords.encode(record)))
            ON CONFLICT (node, recipe) DO UPDATE SET version = EXCLUDED.version, commit_id = EXCLUDED.commit_id,
                record = EXCLUDED.record
            """)
    }

    public func markCanonical(_ recipe: String, status: String, volumeBytes: Int64?) async throws {
        let node = self.node
        defer { generations.forget() }
        try await transaction("update the canonical of \(recipe) in") { session in
            guard
                var record: CanonicalRecord = try session.record(
                    "SELECT record FROM canonical WHERE node = \(node) AND recipe = \(recipe) FOR UPDATE"
                )
            else { return }
            record.status = status
            if let volumeBytes { record.volumeBytes = volumeBytes }
            record.updatedAt = Date()
            try Self.save(record, node: node, in: session)
        }
    }

    @discardableResult
    public func dropCanonical(_ recipe: String) async throws -> Bool {
        let node = self.node
        defer { generations.forget() }
        return try await session("remove the canonical of \(recipe) from") { session in
            try session.execute("DELETE FROM canonical WHERE node = \(node) AND recipe = \(recipe)") > 0
        }
    }

    public func record(sweep: SweepRecord) async throws {
        try await session("write the sweep report to") { session in
            try session.execute(
                """
                INSERT INTO sweep (id, started_at, record)
                VALUES (\(sweep.id), \(sweep.startedAt.storedSeconds), \(try PostgresRecords.encode(sweep)))
                ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at, record = EXCLUDED.record
                """)
        }
    }

    public func sweeps(limit: Int) async throws -> [SweepRecord] {
        try await session("read the sweeps from") { session in
            try session.records("SELECT record FROM sweep ORDER BY started_at DESC LIMIT \(limit)")
        }
    }
}
