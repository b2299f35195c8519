import CCCICore
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

extension SQLiteStore {
    /// Migration `v8-serve-intake` (shipped: never edit, add a new migration): comments acted on,
    /// pull request heads, replies retried with backoff, jobs found by repository.
    static func createIntakeTables(_ db: Database) throws {
        // The forge compares owner and repository names without case: so does the queue.
        try db.execute(sql: "UPDATE job SET repository = lower(repository)")
        try db.execute(sql: "UPDATE reply SET repository = lower(repository)")
        try db.create(index: "job_on_repository_pr", on: "job", columns: ["repository", "pr"])
        try db.alter(table: "reply") { table in table.add(column: "nextAttemptAt", .datetime) }
        try db.create(index: "reply_on_kind_repository_sha", on: "reply", columns: ["kind", "repository", "sha"])
        try db.create(index: "reply_on_jobID", on: "reply", columns: ["jobID"])
        try db.create(table: "testme") { table in
            table.column("repository", .text).notNull()
            table.column("commentID", .integer).notNull()
            table.column("issue", .integer).notNull()
            table.column("author", .text).notNull()
            table.column("recipe", .text).notNull()
            table.column("stages", .text)
            table.column("quick", .boolean).notNull()
            table.column("commentUpdatedAt", .datetime)
            table.column("receivedAt", .datetime).notNull()
            table.column("outcome", .text).notNull()
            table.column("jobID", .integer)
            table.column("attempts", .integer).notNull()
            table.column("nextAttemptAt", .datetime)
            table.column("lastError", .text)
            table.primaryKey(["repository", "commentID"])
        }
        try db.create(index: "testme_on_refusals", on: "testme", columns: ["repository", "issue", "author", "outcome"])
        try db.create(index: "testme_on_outcome_next", on: "testme", columns: ["outcome", "nextAttemptAt"])
        // `/healthz` writes here to prove the store can be written.
        try db.create(table: "health") { table in
            table.primaryKey("id", .integer).check { $0 == 1 }
            table.column("checkedAt", .datetime).notNull()
        }
        try db.create(table: "pull_head") { table in
            table.column("repository", .text).notNull()
            table.column("pr", .integer).notNull()
            table.column("head", .text)
            table.column("pushedAt", .datetime)
            table.column("updatedAt", .datetime)
            table.primaryKey(["repository", "pr"])
        }
    }

    public func dueTestmeRequests(now: Date, limit: Int) async throws -> [TestmeRequest] {
        try await reading("read the queue of") { db in
            try Stored<TestmeRequest>.filter(
                Column("outcome") == TestmeRequest.Outcome.waiting.rawValue && Column("nextAttemptAt") <= now
            ).order(Column("receivedAt")).limit(limit).fetchAll(db).map(\.value)
        }
    }

    public func nextTestmeAttempt() async throws -> Date? {
        try await reading("read the queue of") { db in
            try Date.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM testme WHERE outcome = 'waiting'")
        }
    }

    public func testmeRequest(repository: String, commentID: Int64) async throws -> TestmeRequest? {
        try await reading("read the queue of") { db in
            try SQLiteQueueTransaction(db: db, now: Date()).testmeRequest(repository: repository, commentID: commentID)
        }
    }
}

extension SQLiteStore {
    /// Proves the store can be written: the database file is still the one opened (not removed
    /// or replaced under the server), and a write transaction commits within `timeout` (another
    /// process holding the write lock, a full disk, a read-only file system all fail it).
    public func probeWrite(within timeout: Duration) async throws {
        if let opened = fileIdentity {
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw StoreError(
                    path: path, operation: "write", underlying: nil, reason: "the database file is gone")
            }
            guard info.st_dev == opened.device, info.st_ino == opened.inode else {
                throw StoreError(
                    path: path, operation: "write", underlying: nil,
                    reason: "the database file was replaced since the server opened it — restart it")
            }
        }
        let writer = self.writer
        try await probe(path, within: timeout, suspect: "another process holds the database's lock?") {
            try await writer.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO health (id, checkedAt) VALUES (1, ?)", arguments: [Date()])
            }
        }
    }
}
