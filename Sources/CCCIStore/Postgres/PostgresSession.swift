import CCCICore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// One PostgreSQL connection used synchronously, on a thread of the store's own pool (never an
/// event loop's): what lets the queue's transactions — whose bodies are synchronous, as SQLite's
/// are — run on PostgreSQL unchanged. Every statement waits for its answer.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    /// The rows `query` returns.
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        try connection.query(query, logger: logger).wait().rows
    }

    /// Runs `query`; returns how many rows it changed.
    @discardableResult
    func execute(_ query: PostgresQuery) throws -> Int {
        try connection.query(query, logger: logger).wait().metadata.rows ?? 0
    }

    /// The first column of the first row (`nil`: no row, or NULL).
    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> T? {
        guard let row = try rows(query).first else { return nil }
        let cell = row.makeRandomAccess()[0]
        guard cell.bytes != nil else { return nil }
        return try cell.decode(T.self, context: .default)
    }

    /// Each row's `record` column decoded as `T` (a record kept as JSON).
    func records<T: Decodable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> [T] {
        try rows(query).map { try PostgresRecords.decode(T.self, from: $0) }
    }

    func record<T: Decodable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> T? {
        try records(query, as: T.self).first
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// Holds the queue's lock until the transaction ends: writes to the queue, from any node, are
    /// one at a time — as SQLite's single writer makes them — so that a decision read and written
    /// in one transaction (the pull request has no running job; the comment was not acted on)
    /// still holds when it commits.
    func lockQueue() throws {
        try execute("SELECT pg_advisory_xact_lock(\(PostgresStore.queueLock))")
    }

    /// Tells every listening node the queue changed — when (and only if) this transaction commits.
    func notifyQueueChanged() throws {
        try execute("SELECT pg_notify(\(PostgresStore.queueChannel), '')")
    }

    func renewLease(of node: String, now: Date) throws {
        try execute(
            """
            INSERT INTO node_lease (node, seen_at) VALUES (\(node), \(now.storedSeconds))
            ON CONFLICT (node) DO UPDATE SET seen_at = EXCLUDED.seen_at
            """)
    }
}

/// Records kept as JSON in a `record` column, beside the columns queries filter on.
enum PostgresRecords {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from row: PostgresRow) throws -> T {
        let text = try row.makeRandomAccess()["record"].decode(String.self, context: .default)
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

extension Date {
    /// The instant as PostgreSQL columns keep it here: seconds since 1970, a double (exact for
    /// what `Date` holds, and ordered as `Date` is).
    var storedSeconds: Double { timeIntervalSince1970 }
}
