import CCCICore
import Foundation
import GRDB

/// ``JobQueueTransaction`` on one SQLite write transaction.
struct SQLiteQueueTransaction: JobQueueTransaction {
    let db: Database
    let now: Date

    func job(_ id: Int64) throws -> Job? {
        try Stored<Job>.fetchOne(db, key: id)?.value
    }

    func activeJobs(repository: String, recipe: String, pr: Int) throws -> [Job] {
        try Stored<Job>.filter(
            Column("repository") == repository.lowercased() && Column("recipe") == recipe && Column("pr") == pr
                && [JobState.queued.rawValue, JobState.running.rawValue].contains(Column("state"))
        ).order(Column("id")).fetchAll(db).map(\.value)
    }

    func insert(_ job: Job) throws -> Job {
        var row = Stored(job)
        try row.insert(db)
        return row.value
    }

    func position(of job: Job) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM job WHERE state = 'queued' AND id <= ?", arguments: [job.number]) ?? 0
    }

    func update(_ job: Job) throws {
        try Stored(job).update(db)
    }

    func add(_ reply: Reply) throws {
        var row = Stored(reply)
        row.value.createdAt = now
        try row.insert(db)
    }

    func testmeRequest(repository: String, commentID: Int64) throws -> TestmeRequest? {
        try Stored<TestmeRequest>.fetchOne(db, key: ["repository": repository.lowercased(), "commentID": commentID])?
            .value
    }

    func save(_ request: TestmeRequest) throws {
        var row = Stored(request)
        try row.save(db)
    }

    func wasRefused(repository: String, issue: Int, author: String) throws -> Bool {
        try Stored<TestmeRequest>.filter(
            Column("repository") == repository.lowercased() && Column("issue") == issue && Column("author") == author
                && Column("outcome") == TestmeRequest.Outcome.refused.rawValue
        ).fetchCount(db) > 0
    }

    func pullHead(repository: String, pr: Int) throws -> PullHead? {
        try Stored<PullHead>.fetchOne(db, key: ["repository": repository.lowercased(), "pr": pr])?.value
    }

    func save(_ head: PullHead) throws {
        var row = Stored(head)
        try row.save(db)
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

    public func transaction<T: Sendable>(
        delivery: String?, now: Date, _ body: @escaping @Sendable (any JobQueueTransaction) throws -> T
    ) async throws -> T? {
        try await writing("write the queue of") { db in
            if let delivery {
                guard try Stored<DeliveryRecord>.fetchOne(db, key: delivery) == nil else { return nil }
                var row = Stored(DeliveryRecord(id: delivery, receivedAt: now))
                try row.insert(db)
            }
            return try body(SQLiteQueueTransaction(db: db, now: now))
        }
    }

    public func hasDelivery(_ delivery: String) async throws -> Bool {
        try await reading("read the queue of") { db in try Stored<DeliveryRecord>.fetchOne(db, key: delivery) != nil }
    }

    /// Claims the next job for a worker of this node: the oldest queued job whose pull request
    /// has no running job, preferring recipes with fewer running jobs (so one recipe's pull
    /// requests never take every worker while others wait). SQLite's one writer makes the read
    /// and the write one step.
    public func claimNextJob(now: Date, runID: @escaping @Sendable (Job) -> String) async throws -> Job? {
        let node = self.node
        return try await writing("claim a job from") { db in
            let running = try String.fetchAll(db, sql: "SELECT recipe FROM job WHERE state = 'running'")
            guard var job = try Self.firstClaimable(in: ClaimOrder(runningRecipes: running), db) else { return nil }
            job.claim(by: node, at: now, runID: runID)
            try Stored(job).update(db)
            try Self.renewLease(of: node, now: now, in: db)
            return job
        }
    }

    /// The oldest queued job of `order`'s first group that has one whose pull request has no
    /// running job: a walk of the `state` index in id order per group, stopping at the first.
    static func firstClaimable(in order: ClaimOrder, _ db: Database) throws -> Job? {
        for group in order.groups {
            let recipes: String
            let names: [String]
            switch group {
            case .idle(let excluded):
                names = excluded
                recipes = excluded.isEmpty ? "" : "AND recipe NOT IN (\(databaseQuestionMarks(count: excluded.count)))"
            case .busy(let included):
                names = included
                recipes = "AND recipe IN (\(databaseQuestionMarks(count: included.count)))"
            }
            let job = try Stored<Job>.fetchOne(
                db,
                sql: """
                    SELECT * FROM job AS candidate
                    WHERE state = 'queued' \(recipes)
                      AND NOT EXISTS (SELECT 1 FROM job AS other WHERE other.state = 'running'
                                      AND other.repository = candidate.repository AND other.pr = candidate.pr)
                    ORDER BY id LIMIT 1
                    """, arguments: StatementArguments(names))?.value
            if let job { return job }
        }
        return nil
    }

    static func renewLease(of node: String, now: Date, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO node_lease (node, seenAt) VALUES (?, ?)", arguments: [node, now])
    }

    public func renewLease(now: Date) async throws {
        let node = self.node
        try await writing("renew the lease of \(node) in") { db in try Self.renewLease(of: node, now: now, in: db) }
    }

    public func takeOverJobs(
        ofNodesSilentSince cutoff: Date, now: Date,
        _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> [Job] {
        let node = self.node
        return try await writing("take over jobs in") { db in
            let silent = try String.fetchAll(
                db, sql: "SELECT node FROM node_lease WHERE seenAt < ? AND node <> ?", arguments: [cutoff, node])
            guard !silent.isEmpty else { return [] }
            let orphans = try Stored<Job>.filter(
                silent.contains(Column("node")) && Column("state") == JobState.running.rawValue
            ).order(Column("id")).fetchAll(db).map(\.value)
            return try orphans.map { orphan in
                var job = orphan
                try change(&job, SQLiteQueueTransaction(db: db, now: now))
                try Stored(job).update(db)
                return job
            }
        }
    }

    /// `nil`: the processes that write a SQLite store are this node's, and wake their own workers.
    public func queueChanges() -> AsyncStream<Void>? { nil }

    @discardableResult
    public func updateJob(
        _ id: Int64, now: Date, _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> Job? {
        try await writing("update a job in") { db in
            guard var job = try Stored<Job>.fetchOne(db, key: id)?.value else { return nil }
            try change(&job, SQLiteQueueTransaction(db: db, now: now))
            try Stored(job).update(db)
            return job
        }
    }

    public func job(_ id: Int64) async throws -> Job? {
        try await reading("read the queue of") { db in try Stored<Job>.fetchOne(db, key: id)?.value }
    }

    public func jobs(in states: [JobState], limit: Int?, offset: Int) async throws -> [Job] {
        try await reading("read the queue of") { db in
            var request = Stored<Job>.order(Column("id"))
            if !states.isEmpty { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
            if let limit { request = request.limit(limit, offset: offset) }
            return try request.fetchAll(db).map(\.value)
        }
    }

    public func jobsOfThisNode(in states: [JobState]) async throws -> [Job] {
        let node = self.node
        return try await reading("read the queue of") { db in
            var request = Stored<Job>.filter(Column("node") == node).order(Column("id"))
            if !states.isEmpty { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
            return try request.fetchAll(db).map(\.value)
        }
    }

    public func jobCount(in state: JobState) async throws -> Int {
        try await reading("read the queue of") { db in
            try Stored<Job>.filter(Column("state") == state.rawValue).fetchCount(db)
        }
    }

    public func job(runID: String) async throws -> Job? {
        try await reading("read the queue of") { db in
            try Stored<Job>.filter(Column("runID") == runID).fetchOne(db)?.value
        }
    }

    public func nextPendingReply(now: Date) async throws -> Reply? {
        try await reading("read the queue of") { db in
            try Stored<Reply>.filter(
                Column("state") == Reply.State.pending.rawValue
                    && (Column("nextAttemptAt") == nil || Column("nextAttemptAt") <= now)
            ).order(Column("id")).fetchOne(db)?.value
        }
    }

    public func nextReplyAttempt() async throws -> Date? {
        try await reading("read the queue of") { db in
            try Date.fetchOne(
                db, sql: "SELECT MIN(nextAttemptAt) FROM reply WHERE state = 'pending' AND nextAttemptAt IS NOT NULL")
        }
    }

    public func pendingReplyCount() async throws -> Int {
        try await reading("read the queue of") { db in
            try Stored<Reply>.filter(Column("state") == Reply.State.pending.rawValue).fetchCount(db)
        }
    }

    /// Marks reply `id` superseded when a newer reply replaces it — so that an older one never
    /// lands after (and over) a newer one.
    public func supersedeIfOutdated(_ id: Int64) async throws -> Bool {
        try await writing("update a reply in") { db in
            guard var reply = try Stored<Reply>.fetchOne(db, key: id)?.value, reply.state == .pending else {
                return false
            }
            let newer: QueryInterfaceRequest<Stored<Reply>>
            switch reply.kind {
            case .status:
                newer = Stored<Reply>.filter(
                    Column("kind") == Reply.Kind.status.rawValue && Column("repository") == reply.repository
                        && Column("sha") == reply.sha)
            case .jobComment:
                guard let job = reply.jobID else { return false }
                newer = Stored<Reply>.filter(
                    Column("kind") == Reply.Kind.jobComment.rawValue && Column("jobID") == job)
            case .comment:
                return false
            }
            let live = [Reply.State.pending, .sent].map(\.rawValue)
            let replaced = try newer.filter(Column("id") > id && live.contains(Column("state"))).fetchCount(db) > 0
            guard replaced else { return false }
            reply.state = .superseded
            try Stored(reply).update(db)
            return true
        }
    }

    public func postponeReply(_ id: Int64, error: String, next: Date, now: Date) async throws {
        try await writing("record a reply in") { db in
            guard var reply = try Stored<Reply>.fetchOne(db, key: id)?.value else { return }
            reply.attempts += 1
            reply.error = error
            reply.nextAttemptAt = next
            try Stored(reply).update(db)
            guard let jobID = reply.jobID, var job = try Stored<Job>.fetchOne(db, key: jobID)?.value else { return }
            job.replyError =
                "\(Reply.waitingPrefix) (\(reply.kind == .status ? "commit status" : "comment"), attempt "
                + "\(reply.attempts)): \(error)"
            try Stored(job).update(db)
        }
    }

    public func replies(job: Int64?) async throws -> [Reply] {
        try await reading("read the queue of") { db in
            var request = Stored<Reply>.order(Column("id"))
            if let job { request = request.filter(Column("jobID") == job) }
            return try request.fetchAll(db).map(\.value)
        }
    }

    public func finishReply(
        _ id: Int64, delivered: Bool, attempts: Int, error: String?, commentID: Int64?, now: Date
    ) async throws {
        try await writing("record a reply in") { db in
            guard var reply = try Stored<Reply>.fetchOne(db, key: id)?.value else { return }
            reply.attempts += attempts
            reply.state = delivered ? .sent : .failed
            reply.error = error
            reply.deliveredAt = delivered ? now : nil
            reply.nextAttemptAt = nil
            try Stored(reply).update(db)
            guard let jobID = reply.jobID, var job = try Stored<Job>.fetchOne(db, key: jobID)?.value else { return }
            job.recordDelivery(of: reply, delivered: delivered, error: error, commentID: commentID)
            try Stored(job).update(db)
        }
    }

    @discardableResult
    public func pruneQueueHistory(before date: Date) async throws -> Int {
        try await writing("prune") { db in
            let deliveries = try Stored<DeliveryRecord>.filter(Column("receivedAt") < date).deleteAll(db)
            let replies = try Stored<Reply>.filter(
                Column("state") == Reply.State.sent.rawValue && Column("deliveredAt") < date
            ).deleteAll(db)
            return deliveries + replies
        }
    }
}
