import CCCICore
import Foundation
import GRDB

/// The state of a queued test request (SPEC F-QUEUE).
public enum JobState: String, Sendable, Codable, Hashable, CaseIterable, DatabaseValueConvertible {
    case queued
    case running
    case passed
    case failed
    /// Superseded by a push, or cancelled by an operator.
    case cancelled
    /// Interrupted twice by the server stopping: given up.
    case interrupted

    /// Queued or running: the job still holds its (recipe, PR, head).
    public var isActive: Bool { self == .queued || self == .running }
}

/// One `!testme` request: what to test, who asked, where it is, and how it ended.
public struct Job: Sendable, Hashable, Codable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job"

    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let recipe = Column(CodingKeys.recipe)
        public static let repository = Column(CodingKeys.repository)
        public static let pr = Column(CodingKeys.pr)
        public static let headSHA = Column(CodingKeys.headSHA)
        public static let state = Column(CodingKeys.state)
        public static let runID = Column(CodingKeys.runID)
    }

    public var id: Int64?
    /// The catalogue recipe.
    public var recipe: String
    /// The forge repository, `owner/name` in lower case (the forge compares them without case):
    /// with the pull request number, what a job belongs to.
    public var repository: String
    public var pr: Int
    /// The pull request's head commit when the request was accepted.
    public var headSHA: String
    /// `--stages` as given (comma-separated); `nil`: every stage.
    public var stages: String?
    /// `!testme --quick`: the quick lane on the recipe's warm canonical.
    public var quick = false
    /// The forge user who asked.
    public var requester: String
    /// The `!testme` comment.
    public var commentID: Int64?
    /// cc-ci's own comment on the pull request (the acknowledgement, edited with the result).
    public var replyCommentID: Int64?
    public var state: JobState
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// 1, then 2 after the server was stopped once while it ran.
    public var attempt: Int
    /// The run of the current (or last) attempt.
    public var runID: String?
    public var exitCode: Int?
    public var level: Int?
    /// The `ccci run` process (its process group leader) while it runs, and its start time.
    public var pid: Int32?
    public var processStart: Int64?
    /// Set when the job must stop (a push superseded it, an operator cancelled it); the worker ends
    /// it as `cancelled`.
    public var cancelReason: String?
    /// Why the job ended as it did, in a sentence.
    public var note: String?
    /// Replies to the forge that could not be delivered.
    public var replyError: String?

    public init(
        recipe: String, repository: String, pr: Int, headSHA: String, stages: String?, requester: String,
        commentID: Int64?, queuedAt: Date = Date(), quick: Bool = false
    ) {
        self.quick = quick
        self.recipe = recipe
        self.repository = repository.lowercased()
        self.pr = pr
        self.headSHA = headSHA
        self.stages = stages
        self.requester = requester
        self.commentID = commentID
        self.state = .queued
        self.queuedAt = queuedAt
        self.attempt = 1
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// The job's id (a stored job always has one).
    public var number: Int64 { id ?? 0 }
}

/// A reply to the forge waiting to be delivered, or delivered (the outbox). Replies are
/// delivered one at a time in the order they were written, so a job's acknowledgement always
/// comes before its result.
public struct Reply: Sendable, Hashable, Codable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "reply"

    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let jobID = Column(CodingKeys.jobID)
        public static let state = Column(CodingKeys.state)
        public static let deliveredAt = Column(CodingKeys.deliveredAt)
        public static let nextAttemptAt = Column(CodingKeys.nextAttemptAt)
        public static let kind = Column(CodingKeys.kind)
        public static let repository = Column(CodingKeys.repository)
        public static let sha = Column(CodingKeys.sha)
    }

    public enum Kind: String, Sendable, Codable, Hashable, DatabaseValueConvertible {
        /// A new comment on the pull request.
        case comment
        /// The job's own comment: edited when it exists, else posted (and remembered on the job).
        case jobComment
        /// A commit status on ``sha``.
        case status
    }

    public enum State: String, Sendable, Codable, Hashable, DatabaseValueConvertible {
        /// To deliver (again, after ``Reply/nextAttemptAt`` when an attempt failed).
        case pending
        case sent
        /// Given up on: the forge refused it for good, or it waited too long.
        case failed
        /// Not sent: a newer reply says the same thing better (a later commit status of the same
        /// commit, a later text of the same job's comment).
        case superseded
    }

    public var id: Int64?
    public var jobID: Int64?
    /// `owner/name`.
    public var repository: String
    /// The pull request (issue) number.
    public var issue: Int
    public var kind: Kind
    public var body: String?
    public var sha: String?
    /// `pending`, `success`, `failure`, `error`.
    public var statusState: String?
    public var statusDescription: String?
    public var targetURL: String?
    public var state: State = .pending
    public var attempts = 0
    public var error: String?
    public var createdAt = Date()
    public var deliveredAt: Date?
    /// When a reply whose delivery failed is tried again (`nil`: at once).
    public var nextAttemptAt: Date?

    /// A comment (``Kind/comment`` or ``Kind/jobComment``).
    public static func comment(
        _ body: String, on issue: Int, in repository: String, job: Int64?, kind: Kind = .comment
    )
        -> Reply
    {
        Reply(id: nil, jobID: job, repository: repository.lowercased(), issue: issue, kind: kind, body: body)
    }

    /// A commit status in context `cc-ci`.
    public static func status(
        _ state: String, description: String, targetURL: String?, sha: String, issue: Int, in repository: String,
        job: Int64?
    ) -> Reply {
        Reply(
            id: nil, jobID: job, repository: repository.lowercased(), issue: issue, kind: .status, sha: sha,
            statusState: state, statusDescription: description, targetURL: targetURL)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// How a job's `replyError` starts while one of its replies waits for the forge.
    public static let waitingPrefix = "waiting for the forge"
}

/// A webhook delivery already handled (the forge's delivery id).
struct DeliveryRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery"

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let receivedAt = Column(CodingKeys.receivedAt)
    }

    var id: String
    var receivedAt: Date
}

/// Queue operations inside one write transaction: everything a webhook or a worker decides is
/// written together, or not at all.
public struct QueueTransaction {
    let db: Database
    /// The transaction's clock reading.
    public let now: Date

    /// The queued or running job of this pull request and head that covers a request (`quick` or
    /// not): a cold job covers a quick request too, a quick job only a quick one.
    public func activeJob(repository: String, recipe: String, pr: Int, headSHA: String, quick: Bool) throws -> Job? {
        try activeJobs(repository: repository, recipe: recipe, pr: pr).first {
            $0.headSHA == headSHA && (quick || !$0.quick)
        }
    }

    /// Job `id`, in any state.
    public func job(_ id: Int64) throws -> Job? {
        try Job.fetchOne(db, key: id)
    }

    /// The queued and running jobs of a pull request: the forge repository's (any case) and the
    /// recipe's — a repository of another owner named like the recipe never reaches them.
    public func activeJobs(repository: String, recipe: String, pr: Int) throws -> [Job] {
        try Job.filter(
            Job.Columns.repository == repository.lowercased() && Job.Columns.recipe == recipe && Job.Columns.pr == pr
                && [JobState.queued, .running].contains(Job.Columns.state)
        ).order(Job.Columns.id).fetchAll(db)
    }

    /// Adds a job to the queue.
    public func insert(_ job: Job) throws -> Job {
        var job = job
        try job.insert(db)
        return job
    }

    /// The job's place in the queue (1: next to be claimed), counting queued jobs only.
    public func position(of job: Job) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM job WHERE state = 'queued' AND id <= ?", arguments: [job.number]) ?? 0
    }

    /// Writes a job back.
    public func update(_ job: Job) throws {
        try job.update(db)
    }

    /// Adds a reply to the outbox.
    public func add(_ reply: Reply) throws {
        var reply = reply
        reply.createdAt = now
        try reply.insert(db)
    }
}

extension SQLiteStore {
    /// The queue's tables (migration `v2-job-queue`, shipped: never edit, add a new migration).
    static func createQueueTables(_ db: Database) throws {
        try db.create(table: "job") { table in
            table.autoIncrementedPrimaryKey("id")
            table.column("recipe", .text).notNull()
            table.column("repository", .text).notNull()
            table.column("pr", .integer).notNull()
            table.column("headSHA", .text).notNull()
            table.column("stages", .text)
            table.column("requester", .text).notNull()
            table.column("commentID", .integer)
            table.column("replyCommentID", .integer)
            table.column("state", .text).notNull().indexed()
            table.column("queuedAt", .datetime).notNull()
            table.column("startedAt", .datetime)
            table.column("finishedAt", .datetime)
            table.column("attempt", .integer).notNull()
            table.column("runID", .text).indexed()
            table.column("exitCode", .integer)
            table.column("level", .integer)
            table.column("pid", .integer)
            table.column("processStart", .integer)
            table.column("cancelReason", .text)
            table.column("note", .text)
            table.column("replyError", .text)
        }
        try db.create(index: "job_on_recipe_pr", on: "job", columns: ["recipe", "pr"])
        try db.create(table: "reply") { table in
            table.autoIncrementedPrimaryKey("id")
            table.column("jobID", .integer).references("job")
            table.column("repository", .text).notNull()
            table.column("issue", .integer).notNull()
            table.column("kind", .text).notNull()
            table.column("body", .text)
            table.column("sha", .text)
            table.column("statusState", .text)
            table.column("statusDescription", .text)
            table.column("targetURL", .text)
            table.column("state", .text).notNull().indexed()
            table.column("attempts", .integer).notNull()
            table.column("error", .text)
            table.column("createdAt", .datetime).notNull()
            table.column("deliveredAt", .datetime)
        }
        try db.create(table: "delivery") { table in
            table.primaryKey("id", .text)
            table.column("receivedAt", .datetime).notNull().indexed()
        }
    }

    /// Runs `body` in one write transaction. With a `delivery` id, records it first; when the
    /// forge delivered it before, nothing is done and the result is `nil`.
    public func transaction<T: Sendable>(
        delivery: String? = nil, now: Date = Date(), _ body: @escaping @Sendable (QueueTransaction) throws -> T
    ) async throws -> T? {
        try await queueAccess("write the queue of") { db in
            if let delivery {
                guard try DeliveryRecord.fetchOne(db, key: delivery) == nil else { return nil }
                try DeliveryRecord(id: delivery, receivedAt: now).insert(db)
            }
            return try body(QueueTransaction(db: db, now: now))
        }
    }

    /// Whether the forge delivered `delivery` before.
    public func hasDelivery(_ delivery: String) async throws -> Bool {
        try await queueRead { db in try DeliveryRecord.fetchOne(db, key: delivery) != nil }
    }

    /// Claims the next job for a worker: the oldest queued job whose pull request has no running
    /// job, preferring recipes with fewer running jobs (so one recipe's pull requests never take
    /// every worker while others wait). It becomes `running` with a run id from `runID`.
    public func claimNextJob(now: Date = Date(), runID: @escaping @Sendable (Job) -> String) async throws -> Job? {
        try await queueAccess("claim a job from") { db in
            guard
                var job = try Job.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM job AS candidate
                        WHERE state = 'queued'
                          AND NOT EXISTS (SELECT 1 FROM job AS other WHERE other.state = 'running'
                                          AND other.repository = candidate.repository AND other.pr = candidate.pr)
                        ORDER BY (SELECT COUNT(*) FROM job AS other
                                  WHERE other.state = 'running' AND other.recipe = candidate.recipe), id
                        LIMIT 1
                        """)
            else { return nil }
            job.state = .running
            job.startedAt = now
            job.runID = runID(job)
            job.pid = nil
            job.processStart = nil
            job.exitCode = nil
            try job.update(db)
            return job
        }
    }

    /// Changes one job (returns it as written; `nil` when there is no such job).
    @discardableResult
    public func updateJob(
        _ id: Int64, now: Date = Date(), _ change: @escaping @Sendable (inout Job, QueueTransaction) throws -> Void
    ) async throws -> Job? {
        try await queueAccess("update a job in") { db in
            guard var job = try Job.fetchOne(db, key: id) else { return nil }
            try change(&job, QueueTransaction(db: db, now: now))
            try job.update(db)
            return job
        }
    }

    /// One job.
    public func job(_ id: Int64) async throws -> Job? {
        try await queueRead { db in try Job.fetchOne(db, key: id) }
    }

    /// Jobs in `states`, oldest first (all jobs when `states` is empty): every one, or a page of
    /// `limit` from `offset` on.
    public func jobs(in states: [JobState] = [], limit: Int? = nil, offset: Int = 0) async throws -> [Job] {
        try await queueRead { db in
            var request = Job.order(Job.Columns.id)
            if !states.isEmpty { request = request.filter(states.contains(Job.Columns.state)) }
            if let limit { request = request.limit(limit, offset: offset) }
            return try request.fetchAll(db)
        }
    }

    /// How many jobs are in `state` (one count, not a fetch).
    public func jobCount(in state: JobState) async throws -> Int {
        try await queueRead { db in try Job.filter(Job.Columns.state == state).fetchCount(db) }
    }

    /// The job whose current run is `runID`.
    public func job(runID: String) async throws -> Job? {
        try await queueRead { db in try Job.filter(Job.Columns.runID == runID).fetchOne(db) }
    }

    /// The oldest reply due for delivery at `now` (pending, and not waiting out a failed attempt).
    public func nextPendingReply(now: Date = Date()) async throws -> Reply? {
        try await queueRead { db in
            try Reply.filter(
                Reply.Columns.state == Reply.State.pending
                    && (Reply.Columns.nextAttemptAt == nil || Reply.Columns.nextAttemptAt <= now)
            ).order(Reply.Columns.id).fetchOne(db)
        }
    }

    /// When the next pending reply that is waiting out a failed attempt is due (`nil`: none waits).
    public func nextReplyAttempt() async throws -> Date? {
        try await queueRead { db in
            try Date.fetchOne(
                db, sql: "SELECT MIN(nextAttemptAt) FROM reply WHERE state = 'pending' AND nextAttemptAt IS NOT NULL")
        }
    }

    /// How many replies wait for delivery.
    public func pendingReplyCount() async throws -> Int {
        try await queueRead { db in try Reply.filter(Reply.Columns.state == Reply.State.pending).fetchCount(db) }
    }

    /// Marks reply `id` superseded when a newer reply replaces it — a later commit status of the
    /// same commit, a later text of the same job's comment — so that an older one never lands
    /// after (and over) a newer one. Returns whether it was.
    public func supersedeIfOutdated(_ id: Int64) async throws -> Bool {
        try await queueAccess("update a reply in") { db in
            guard var reply = try Reply.fetchOne(db, key: id), reply.state == .pending else { return false }
            let newer: QueryInterfaceRequest<Reply>
            switch reply.kind {
            case .status:
                newer = Reply.filter(
                    Reply.Columns.kind == Reply.Kind.status && Reply.Columns.repository == reply.repository
                        && Reply.Columns.sha == reply.sha)
            case .jobComment:
                guard let job = reply.jobID else { return false }
                newer = Reply.filter(Reply.Columns.kind == Reply.Kind.jobComment && Reply.Columns.jobID == job)
            case .comment:
                return false
            }
            let replaced =
                try newer.filter(
                    Reply.Columns.id > id && [Reply.State.pending, .sent].contains(Reply.Columns.state)
                ).fetchCount(db) > 0
            guard replaced else { return false }
            reply.state = .superseded
            try reply.update(db)
            return true
        }
    }

    /// Records a failed attempt of reply `id` that is worth another: it stays pending until
    /// `next`, and its job says what is waiting.
    public func postponeReply(_ id: Int64, error: String, next: Date, now: Date = Date()) async throws {
        try await queueAccess("record a reply in") { db in
            guard var reply = try Reply.fetchOne(db, key: id) else { return }
            reply.attempts += 1
            reply.error = error
            reply.nextAttemptAt = next
            try reply.update(db)
            guard let jobID = reply.jobID, var job = try Job.fetchOne(db, key: jobID) else { return }
            job.replyError =
                "\(Reply.waitingPrefix) (\(reply.kind == .status ? "commit status" : "comment"), attempt "
                + "\(reply.attempts)): \(error)"
            try job.update(db)
        }
    }

    /// Every reply of a job (or, with `nil`, every reply), oldest first.
    public func replies(job: Int64? = nil) async throws -> [Reply] {
        try await queueRead { db in
            var request = Reply.order(Reply.Columns.id)
            if let job { request = request.filter(Reply.Columns.jobID == job) }
            return try request.fetchAll(db)
        }
    }

    /// Records how a delivery attempt ended. A job comment the forge created becomes the job's
    /// comment (so is another comment of a job that has none yet); a reply given up on is noted
    /// on its job.
    public func finishReply(
        _ id: Int64, delivered: Bool, attempts: Int, error: String?, commentID: Int64?, now: Date = Date()
    ) async throws {
        try await queueAccess("record a reply in") { db in
            guard var reply = try Reply.fetchOne(db, key: id) else { return }
            reply.attempts += attempts
            reply.state = delivered ? .sent : .failed
            reply.error = error
            reply.deliveredAt = delivered ? now : nil
            reply.nextAttemptAt = nil
            try reply.update(db)
            guard let jobID = reply.jobID, var job = try Job.fetchOne(db, key: jobID) else { return }
            if let commentID, reply.kind == .jobComment || (reply.kind == .comment && job.replyCommentID == nil) {
                job.replyCommentID = commentID
            }
            // What was waiting for the forge is said no more once it got through.
            if job.replyError?.hasPrefix(Reply.waitingPrefix) == true { job.replyError = nil }
            if !delivered, let error {
                let line = "\(reply.kind == .status ? "commit status" : "comment") not delivered: \(error)"
                job.replyError = [job.replyError, line].compactMap { $0 }.joined(separator: "\n")
            }
            try job.update(db)
        }
    }

    /// Forgets deliveries older than `date` and delivered replies older than `date`.
    @discardableResult
    public func pruneQueueHistory(before date: Date) async throws -> Int {
        try await queueAccess("prune") { db in
            let deliveries = try DeliveryRecord.filter(DeliveryRecord.Columns.receivedAt < date).deleteAll(db)
            let replies = try Reply.filter(
                Reply.Columns.state == Reply.State.sent && Reply.Columns.deliveredAt < date
            ).deleteAll(db)
            return deliveries + replies
        }
    }

    private func queueAccess<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: operation, underlying: error)
        }
    }

    private func queueRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: "read the queue of", underlying: error)
        }
    }
}
