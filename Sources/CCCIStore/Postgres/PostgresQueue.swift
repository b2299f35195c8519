import CCCICore
import Foundation
import PostgresNIO

/// ``JobQueueTransaction`` on one PostgreSQL transaction that holds the queue's lock.
struct PostgresQueueTransaction: JobQueueTransaction {
    let session: PostgresSession
    let now: Date

    func job(_ id: Int64) throws -> Job? {
        try session.record("SELECT record FROM job WHERE id = \(id)")
    }

    func activeJobs(repository: String, recipe: String, pr: Int) throws -> [Job] {
        try session.records(
            """
            SELECT record FROM job WHERE repository = \(repository.lowercased()) AND recipe = \(recipe) AND pr = \(pr)
            AND state IN ('queued', 'running') ORDER BY id
            """)
    }

    func insert(_ job: Job) throws -> Job {
        try session.insert(job)
    }

    func position(of job: Job) throws -> Int {
        Int(
            try session.value("SELECT count(*) FROM job WHERE state = 'queued' AND id <= \(job.number)", as: Int64.self)
                ?? 0)
    }

    func update(_ job: Job) throws {
        try session.update(job)
    }

    func add(_ reply: Reply) throws {
        var reply = reply
        reply.createdAt = now
        try session.insert(reply)
    }

    func testmeRequest(repository: String, commentID: Int64) throws -> TestmeRequest? {
        try session.record(
            "SELECT record FROM testme WHERE repository = \(repository.lowercased()) AND comment_id = \(commentID)"
        )
    }

    func save(_ request: TestmeRequest) throws {
        try session.execute(
            """
            INSERT INTO testme (repository, comment_id, issue, author, outcome, received_at, next_attempt_at, record)
            VALUES (\(request.repository.lowercased()), \(request.commentID), \(request.issue), \(request.author),
                    \(request.outcome.rawValue), \(request.receivedAt.storedSeconds),
                    \(request.nextAttemptAt?.storedSeconds), \(try PostgresRecords.encode(request)))
            ON CONFLICT (repository, comment_id) DO UPDATE SET issue = EXCLUDED.issue, author = EXCLUDED.author,
                outcome = EXCLUDED.outcome, received_at = EXCLUDED.received_at,
                next_attempt_at = EXCLUDED.next_attempt_at, record = EXCLUDED.record
            """)
    }

    func wasRefused(repository: String, issue: Int, author: String) throws -> Bool {
        try session.value(
            """
            SELECT count(*) FROM testme WHERE repository = \(repository.lowercased()) AND issue = \(issue)
            AND author = \(author) AND outcome = \(TestmeRequest.Outcome.refused.rawValue)
            """, as: Int64.self) ?? 0 > 0
    }

    func pullHead(repository: String, pr: Int) throws -> PullHead? {
        try session.record(
            "SELECT record FROM pull_head WHERE repository = \(repository.lowercased()) AND pr = \(pr)"
        )
    }

    func save(_ head: PullHead) throws {
        try session.execute(
            """
            INSERT INTO pull_head (repository, pr, record)
            VALUES (\(head.repository.lowercased()), \(head.pr), \(try PostgresRecords.encode(head)))
            ON CONFLICT (repository, pr) DO UPDATE SET record = EXCLUDED.record
            """)
    }
}

extension PostgresSession {
    /// Adds a job with the next id; returns it with its id.
    @discardableResult
    func insert(_ job: Job) throws -> Job {
        var job = job
        job.id = try value("SELECT nextval('job_id_seq')", as: Int64.self)
        try execute(
            """
            INSERT INTO job (id, node, state, repository, recipe, pr, run_id, record)
            VALUES (\(job.number), \(job.node), \(job.state.rawValue), \(job.repository.lowercased()), \(job.recipe),
                    \(job.pr), \(job.runID), \(try PostgresRecords.encode(job)))
            """)
        return job
    }

    func update(_ job: Job) throws {
        try execute(
            """
            UPDATE job SET node = \(job.node), state = \(job.state.rawValue),
                repository = \(job.repository.lowercased()), recipe = \(job.recipe), pr = \(job.pr),
                run_id = \(job.runID), record = \(try PostgresRecords.encode(job))
            WHERE id = \(job.number)
            """)
    }

    /// Adds a reply with the next id.
    func insert(_ reply: Reply) throws {
        var reply = reply
        reply.id = try value("SELECT nextval('reply_id_seq')", as: Int64.self)
        try execute(
            """
            INSERT INTO reply (id, job_id, kind, repository, sha, state, next_attempt_at, delivered_at, record)
            VALUES (\(reply.id ?? 0), \(reply.jobID), \(reply.kind.rawValue), \(reply.repository.lowercased()),
                    \(reply.sha), \(reply.state.rawValue), \(reply.nextAttemptAt?.storedSeconds),
                    \(reply.deliveredAt?.storedSeconds), \(try PostgresRecords.encode(reply)))
            """)
    }

    func update(_ reply: Reply) throws {
        try execute(
            """
            UPDATE reply SET state = \(reply.state.rawValue), next_attempt_at = \(reply.nextAttemptAt?.storedSeconds),
                delivered_at = \(reply.deliveredAt?.storedSeconds), record = \(try PostgresRecords.encode(reply))
            WHERE id = \(reply.id ?? 0)
            """)
    }

    /// The job `id`, locked for this transaction.
    func lockedJob(_ id: Int64) throws -> Job? {
        try record("SELECT record FROM job WHERE id = \(id) FOR UPDATE")
    }

    func lockedReply(_ id: Int64) throws -> Reply? {
        try record("SELECT record FROM reply WHERE id = \(id) FOR UPDATE")
    }
}

extension PostgresStore {
    public func transaction<T: Sendable>(
        delivery: String?, now: Date, _ body: @escaping @Sendable (any JobQueueTransaction) throws -> T
    ) async throws -> T? {
        try await transaction("write the queue of") { session in
            try session.lockQueue()
            if let delivery {
                let added = try session.execute(
                    """
                    INSERT INTO delivery (id, received_at) VALUES (\(delivery), \(now.storedSeconds))
                    ON CONFLICT (id) DO NOTHING
                    """)
                guard added == 1 else { return nil }
            }
            let result = try body(PostgresQueueTransaction(session: session, now: now))
            try session.notifyQueueChanged()
            return result
        }
    }

    public func hasDelivery(_ delivery: String) async throws -> Bool {
        try await session("read the queue of") { session in
            try session.value("SELECT count(*) FROM delivery WHERE id = \(delivery)", as: Int64.self) ?? 0 > 0
        }
    }

    /// Claims the next job for a worker of this node: the oldest queued job whose pull request has
    /// no running job, preferring recipes with fewer running jobs. Rows another transaction holds
    /// are skipped (`FOR UPDATE SKIP LOCKED`); the queue's lock makes "no running job of this pull
    /// request" hold until the claim commits, whichever node claims.
    public func claimNextJob(now: Date, runID: @escaping @Sendable (Job) -> String) async throws -> Job? {
        let node = self.node
        return try await transaction("claim a job from") { session in
            try session.lockQueue()
            let running = try session.rows("SELECT recipe FROM job WHERE state = 'running'").map {
                try $0.decode(String.self)
            }
            guard var job = try Self.firstClaimable(in: ClaimOrder(runningRecipes: running), session) else {
                return nil
            }
            job.claim(by: node, at: now, runID: runID)
            try session.update(job)
            try session.renewLease(of: node, now: now)
            return job
        }
    }

    /// The oldest queued job of `order`'s first group that has one whose pull request has no
    /// running job and that no other transaction holds: a walk of `job_on_state` per group,
    /// stopping at the first.
    static func firstClaimable(in order: ClaimOrder, _ session: PostgresSession) throws -> Job? {
        for group in order.groups {
            let query: PostgresQuery
            switch group {
            case .idle(let excluded):
                query = """
                    SELECT record FROM job AS candidate
                    WHERE state = 'queued' AND recipe <> ALL(\(excluded))
                      AND NOT EXISTS (SELECT 1 FROM job AS other WHERE other.state = 'running'
                                      AND other.repository = candidate.repository AND other.pr = candidate.pr)
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """
            case .busy(let included):
                query = """
                    SELECT record FROM job AS candidate
                    WHERE state = 'queued' AND recipe = ANY(\(included))
                      AND NOT EXISTS (SELECT 1 FROM job AS other WHERE other.state = 'running'
                                      AND other.repository = candidate.repository AND other.pr = candidate.pr)
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """
            }
            if let job: Job = try session.record(query) { return job }
        }
        return nil
    }

    public func renewLease(now: Date) async throws {
        let node = self.node
        try await session("renew the lease of \(node) in") { session in try session.renewLease(of: node, now: now) }
    }

    public func takeOverJobs(
        ofNodesSilentSince cutoff: Date, now: Date,
        _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> [Job] {
        let node = self.node
        return try await transaction("take over jobs in") { session in
            try session.lockQueue()
            let orphans: [Job] = try session.records(
                """
                SELECT record FROM job WHERE state = 'running' AND node IN (
                    SELECT node FROM node_lease WHERE seen_at < \(cutoff.storedSeconds) AND node <> \(node))
                ORDER BY id FOR UPDATE
                """)
            let taken = try orphans.map { orphan in
                var job = orphan
                try change(&job, PostgresQueueTransaction(session: session, now: now))
                try session.update(job)
                return job
            }
            if !taken.isEmpty { try session.notifyQueueChanged() }
            return taken
        }
    }

    /// Every `NOTIFY` on the queue's channel, from any node, on a connection of its own (opened
    /// again, after a pause, when it drops).
    public func queueChanges() -> AsyncStream<Void>? {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let client = self.client
        let logger = self.logger
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        for try await _ in try await connection.listen(Self.queueChannel) {
                            continuation.yield()
                        }
                    }
                } catch {
                    logger.warning(
                        "listening for queue changes failed; listening again in 5 s",
                        metadata: ["error.message": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(5))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    @discardableResult
    public func updateJob(
        _ id: Int64, now: Date, _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> Job? {
        try await transaction("update a job in") { session in
            try session.lockQueue()
            guard var job = try session.lockedJob(id) else { return nil }
            try change(&job, PostgresQueueTransaction(session: session, now: now))
            try session.update(job)
            try session.notifyQueueChanged()
            return job
        }
    }

    public func job(_ id: Int64) async throws -> Job? {
        try await session("read the queue of") { session in
            try PostgresQueueTransaction(session: session, now: Date()).job(id)
        }
    }

    public func jobs(in states: [JobState], limit: Int?, offset: Int) async throws -> [Job] {
        let states = states.map(\.rawValue)
        return try await session("read the queue of") { session in
            let all = states.isEmpty
            if let limit {
                return try session.records(
                    """
                    SELECT record FROM job WHERE \(all) OR state = ANY(\(states)) ORDER BY id
                    LIMIT \(limit) OFFSET \(offset)
                    """)
            }
            return try session.records("SELECT record FROM job WHERE \(all) OR state = ANY(\(states)) ORDER BY id")
        }
    }

    public func jobsOfThisNode(in states: [JobState]) async throws -> [Job] {
        let states = states.map(\.rawValue)
        let node = self.node
        return try await session("read the queue of") { session in
            try session.records(
                """
                SELECT record FROM job WHERE node = \(node) AND (\(states.isEmpty) OR state = ANY(\(states)))
                ORDER BY id
                """)
        }
    }

    public func jobCount(in state: JobState) async throws -> Int {
        try await session("read the queue of") { session in
            Int(try session.value("SELECT count(*) FROM job WHERE state = \(state.rawValue)", as: Int64.self) ?? 0)
        }
    }

    public func job(runID: String) async throws -> Job? {
        try await session("read the queue of") { session in
            try session.record("SELECT record FROM job WHERE run_id = \(runID) ORDER BY id LIMIT 1")
        }
    }

    public func nextPendingReply(now: Date) async throws -> Reply? {
        try await session("read the queue of") { session in
            try session.record(
                """
                SELECT record FROM reply WHERE state = 'pending'
                AND (next_attempt_at IS NULL OR next_attempt_at <= \(now.storedSeconds)) ORDER BY id LIMIT 1
                """
            )
        }
    }

    public func nextReplyAttempt() async throws -> Date? {
        try await session("read the queue of") { session in
            try session.value(
                "SELECT min(next_attempt_at) FROM reply WHERE state = 'pending' AND next_attempt_at IS NOT NULL",
                as: Double.self
            ).map { Date(timeIntervalSince1970: $0) }
        }
    }

    public func pendingReplyCount() async throws -> Int {
        try await session("read the queue of") { session in
            Int(try session.value("SELECT count(*) FROM reply WHERE state = 'pending'", as: Int64.self) ?? 0)
        }
    }

    public func supersedeIfOutdated(_ id: Int64) async throws -> Bool {
        try await transaction("update a reply in") { session in
            try session.lockQueue()
            guard var reply = try session.lockedReply(id), reply.state == .pending else { return false }
            let newer: Int64
            switch reply.kind {
            case .status:
                newer =
                    try session.value(
                        """
                        SELECT count(*) FROM reply WHERE kind = 'status' AND repository = \(reply.repository.lowercased())
                        AND sha IS NOT DISTINCT FROM \(reply.sha) AND id > \(id) AND state IN ('pending', 'sent')
                        """, as: Int64.self) ?? 0
            case .jobComment:
                guard let job = reply.jobID else { return false }
                newer =
                    try session.value(
                        """
                        SELECT count(*) FROM reply WHERE kind = \(Reply.Kind.jobComment.rawValue) AND job_id = \(job)
                        AND id > \(id) AND state IN ('pending', 'sent')
                        """, as: Int64.self) ?? 0
            case .comment:
                return false
            }
            guard newer > 0 else { return false }
            reply.state = .superseded
            try session.update(reply)
            return true
        }
    }

    public func postponeReply(_ id: Int64, error: String, next: Date, now: Date) async throws {
        try await transaction("record a reply in") { session in
            try session.lockQueue()
            guard var reply = try session.lockedReply(id) else { return }
            reply.attempts += 1
            reply.error = error
            reply.nextAttemptAt = next
            try session.update(reply)
            guard let jobID = reply.jobID, var job = try session.lockedJob(jobID) else { return }
            job.replyError =
                "\(Reply.waitingPrefix) (\(reply.kind == .status ? "commit status" : "comment"), attempt "
                + "\(reply.attempts)): \(error)"
            try session.update(job)
        }
    }

    public func replies(job: Int64?) async throws -> [Reply] {
        try await session("read the queue of") { session in
            if let job { return try session.records("SELECT record FROM reply WHERE job_id = \(job) ORDER BY id") }
            return try session.records("SELECT record FROM reply ORDER BY id")
        }
    }

    public func finishReply(
        _ id: Int64, delivered: Bool, attempts: Int, error: String?, commentID: Int64?, now: Date
    ) async throws {
        try await transaction("record a reply in") { session in
            try session.lockQueue()
            guard var reply = try session.lockedReply(id) else { return }
            reply.attempts += attempts
            reply.state = delivered ? .sent : .failed
            reply.error = error
            reply.deliveredAt = delivered ? now : nil
            reply.nextAttemptAt = nil
            try session.update(reply)
            guard let jobID = reply.jobID, var job = try session.lockedJob(jobID) else { return }
            job.recordDelivery(of: reply, delivered: delivered, error: error, commentID: commentID)
            try session.update(job)
        }
    }

    @discardableResult
    public func pruneQueueHistory(before date: Date) async throws -> Int {
        try await transaction("prune") { session in
            let deliveries = try session.execute("DELETE FROM delivery WHERE received_at < \(date.storedSeconds)")
            let replies = try session.execute(
                "DELETE FROM reply WHERE state = 'sent' AND delivered_at < \(date.storedSeconds)")
            return deliveries + replies
        }
    }

    public func dueTestmeRequests(now: Date, limit: Int) async throws -> [TestmeRequest] {
        try await session("read the queue of") { session in
            try session.records(
                """
                SELECT record FROM testme WHERE outcome = \(TestmeRequest.Outcome.waiting.rawValue)
                AND next_attempt_at <= \(now.storedSeconds) ORDER BY received_at LIMIT \(limit)
                """)
        }
    }

    public func nextTestmeAttempt() async throws -> Date? {
        try await session("read the queue of") { session in
            try session.value("SELECT min(next_attempt_at) FROM testme WHERE outcome = 'waiting'", as: Double.self)
                .map { Date(timeIntervalSince1970: $0) }
        }
    }

    public func testmeRequest(repository: String, commentID: Int64) async throws -> TestmeRequest? {
        try await session("read the queue of") { session in
            try PostgresQueueTransaction(session: session, now: Date()).testmeRequest(
                repository: repository, commentID: commentID)
        }
    }
}
