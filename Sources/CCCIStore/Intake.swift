import CCCICore
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// A `!testme` comment cc-ci acted on, by the forge's own comment id — which the webhook's
/// signature covers, unlike the delivery id header — so that a replayed or redelivered comment
/// is recognised and changes nothing, and a comment whose forge calls failed waits here to be
/// tried again.
///
/// A comment is claimed (``Outcome/waiting``, with a lease in ``nextAttemptAt``) before the forge
/// is asked anything; it then ends in one of the other outcomes. A server that dies in between
/// leaves it `waiting`, and it is taken up again once the lease has passed.
public struct TestmeRequest: Sendable, Hashable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "testme"

    public enum Columns {
        public static let repository = Column(CodingKeys.repository)
        public static let commentID = Column(CodingKeys.commentID)
        public static let issue = Column(CodingKeys.issue)
        public static let author = Column(CodingKeys.author)
        public static let outcome = Column(CodingKeys.outcome)
        public static let nextAttemptAt = Column(CodingKeys.nextAttemptAt)
        public static let receivedAt = Column(CodingKeys.receivedAt)
    }

    public enum Outcome: String, Sendable, Codable, Hashable, DatabaseValueConvertible {
        /// Being handled, or waiting for the forge to answer (tried again at ``nextAttemptAt``).
        case waiting
        /// A job was queued for it.
        case queued
        /// A job of the same head was active: the comment was pointed at it.
        case coalesced
        /// The commenter may not start runs.
        case refused
        /// The options could not be read: the usage was the answer.
        case usage
        /// Nothing to do (the pull request is closed or gone).
        case ignored
        /// The forge did not answer for too long: given up, and the pull request told.
        case expired
    }

    /// `owner/name`, lower case.
    public var repository: String
    public var commentID: Int64
    /// The pull request.
    public var issue: Int
    /// The commenter (login).
    public var author: String
    public var recipe: String
    /// `--stages` as `ccci run` takes it (`nil`: every stage).
    public var stages: String?
    public var quick: Bool
    /// The comment's `updated_at` as the forge said it.
    public var commentUpdatedAt: Date?
    public var receivedAt: Date
    public var outcome: Outcome
    /// The job it queued or was pointed at.
    public var jobID: Int64?
    /// Forge calls that failed for it.
    public var attempts: Int
    /// While ``Outcome/waiting``: when it may be taken up (again).
    public var nextAttemptAt: Date?
    public var lastError: String?

    public init(
        repository: String, commentID: Int64, issue: Int, author: String, recipe: String, stages: String?,
        quick: Bool, commentUpdatedAt: Date?, receivedAt: Date, outcome: Outcome = .waiting
    ) {
        self.repository = repository.lowercased()
        self.commentID = commentID
        self.issue = issue
        self.author = author
        self.recipe = recipe
        self.stages = stages
        self.quick = quick
        self.commentUpdatedAt = commentUpdatedAt
        self.receivedAt = receivedAt
        self.outcome = outcome
        self.attempts = 0
    }
}

/// What cc-ci knows of a pull request's head from the forge's own events, so that concurrent and
/// replayed events are ordered by the forge's clock, not by arrival.
///
/// ``updatedAt`` is a watermark: the newest `updated_at` the forge gave for the pull request, in
/// a `pull_request` event or an API answer. An event older than it is stale (a replay, or a
/// late delivery already overtaken). ``head`` is the head of the newest push event accepted and
/// ``pushedAt`` when it arrived (this node's clock): a `!testme` that asked the forge for the
/// head *before* that moment tests the pushed head, not the older one the forge gave it.
public struct PullHead: Sendable, Hashable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "pull_head"

    /// `owner/name`, lower case.
    public var repository: String
    public var pr: Int
    public var head: String?
    public var pushedAt: Date?
    public var updatedAt: Date?

    public init(repository: String, pr: Int, head: String? = nil, pushedAt: Date? = nil, updatedAt: Date? = nil) {
        self.repository = repository.lowercased()
        self.pr = pr
        self.head = head
        self.pushedAt = pushedAt
        self.updatedAt = updatedAt
    }

    /// Whether a pull request event that says `head` as of the forge's `updatedAt` is older than
    /// what is known: before the watermark, or at it with the head already recorded (the same
    /// event again).
    public func isStale(head eventHead: String, updatedAt eventTime: Date?) -> Bool {
        guard let eventTime, let updatedAt else { return eventHead == head }
        if eventTime < updatedAt { return true }
        return eventTime == updatedAt && eventHead == head
    }
}

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

    /// The `!testme` requests waiting for the forge whose time has come, oldest first.
    public func dueTestmeRequests(now: Date = Date(), limit: Int = 20) async throws -> [TestmeRequest] {
        try await writer.read { db in
            try TestmeRequest.filter(
                TestmeRequest.Columns.outcome == TestmeRequest.Outcome.waiting
                    && TestmeRequest.Columns.nextAttemptAt <= now
            ).order(TestmeRequest.Columns.receivedAt).limit(limit).fetchAll(db)
        }
    }

    /// When the next waiting `!testme` request is due (`nil`: none waits).
    public func nextTestmeAttempt() async throws -> Date? {
        try await writer.read { db in
            try Date.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM testme WHERE outcome = 'waiting'")
        }
    }

    /// The comment's record, when it was acted on.
    public func testmeRequest(repository: String, commentID: Int64) async throws -> TestmeRequest? {
        try await writer.read { db in
            try TestmeRequest.fetchOne(db, key: ["repository": repository.lowercased(), "commentID": commentID])
        }
    }
}

extension QueueTransaction {
    /// The comment's record, when it was acted on.
    public func testmeRequest(repository: String, commentID: Int64) throws -> TestmeRequest? {
        try TestmeRequest.fetchOne(db, key: ["repository": repository.lowercased(), "commentID": commentID])
    }

    /// Writes a comment's record.
    public func save(_ request: TestmeRequest) throws {
        try request.save(db)
    }

    /// Whether `author` was refused on this pull request before (they are told once).
    public func wasRefused(repository: String, issue: Int, author: String) throws -> Bool {
        try TestmeRequest.filter(
            TestmeRequest.Columns.repository == repository.lowercased() && TestmeRequest.Columns.issue == issue
                && TestmeRequest.Columns.author == author
                && TestmeRequest.Columns.outcome == TestmeRequest.Outcome.refused
        ).fetchCount(db) > 0
    }

    /// What is known of the pull request's head.
    public func pullHead(repository: String, pr: Int) throws -> PullHead? {
        try PullHead.fetchOne(db, key: ["repository": repository.lowercased(), "pr": pr])
    }

    /// Writes what is known of the pull request's head.
    public func save(_ head: PullHead) throws {
        try head.save(db)
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
        let path = self.path
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await writer.write { db in
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO health (id, checkedAt) VALUES (1, ?)", arguments: [Date()])
                }
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            defer { group.cancelAll() }
            guard let wrote = try await group.next(), wrote else {
                throw StoreError(
                    path: path, operation: "write", underlying: nil,
                    reason: "a write did not finish within \(timeout) (another process holds the database's lock?)")
            }
        }
    }
}
