import CCCICore
import CCCIStore
import Foundation
import Logging

/// The `!testme` bridge (SPEC F-BRIDGE): turns verified forge events into queued jobs and
/// replies.
///
/// A comment is acted on only when it is new (``TestmeRequest``: its comment id was never acted
/// on — a replay or redelivery changes nothing), on an open pull request of the repository the
/// catalogue names for an enrolled recipe (``Enrolment``), and its first word is `!testme`;
/// everything else is answered 204 and left alone. The comment is claimed in the store before the
/// forge is asked anything; then, in order: the commenter must have write access (or be on the
/// allowlist) — else a polite refusal, once per pull request; the options must read — else the
/// usage; the pull request's head is asked from the forge; a job for the same (repository, PR,
/// head) that is queued or running gets a pointer to it instead of a second run. The job, its
/// acknowledgement and its `pending` status are written in one transaction with the comment's
/// outcome. When the forge cannot be reached the comment stays claimed and waiting, the webhook
/// is answered at once, and ``IntakeRetry`` asks again with backoff.
///
/// Pull request events are ordered by the forge's clock (``PullHead``): a push (`synchronized`)
/// stops the pull request's jobs for older heads, closing it stops all of them, and an event
/// older than what is known — a replay, a late delivery — changes nothing. A `!testme` that asked
/// the forge for the head before a push arrived tests the pushed head.
public struct Bridge: Sendable {
    public let forge: any Forge
    public let store: any NodeStore
    public let settings: ServeConfig
    public let links: Links
    /// Which repository is which recipe.
    public let enrolment: Enrolment
    public let running: RunningJobs
    public let wakeWorkers: Wakeup
    public let wakeReplies: Wakeup
    /// Wakes ``IntakeRetry`` when a comment waits for the forge.
    public let wakeIntake: Wakeup
    public let logger: Logger

    public init(
        forge: any Forge, store: any NodeStore, settings: ServeConfig, links: Links, enrolment: Enrolment,
        running: RunningJobs, wakeWorkers: Wakeup, wakeReplies: Wakeup, wakeIntake: Wakeup = Wakeup(),
        logger: Logger
    ) {
        self.forge = forge
        self.store = store
        self.settings = settings
        self.links = links
        self.enrolment = enrolment
        self.running = running
        self.wakeWorkers = wakeWorkers
        self.wakeReplies = wakeReplies
        self.wakeIntake = wakeIntake
        self.logger = logger
    }

    /// What the webhook endpoint answers.
    public struct Answer: Sendable, Hashable {
        public let status: Int
        public let message: String
        /// The request was accepted but waits for the forge (``IntakeRetry`` decides it later).
        public var waiting = false

        static func ignored(_ why: String) -> Answer { Answer(status: 204, message: why) }
    }

    /// How long a claimed comment is left to the request handling it before ``IntakeRetry`` may
    /// take it up (a server that died mid-way leaves it claimed).
    static let claimLease: Duration = .seconds(60)
    /// A comment the forge could not be asked about for this long is given up.
    static let waitLimit: TimeInterval = 24 * 3600

    /// Handles one delivery. Never throws: every outcome is an answer (and at most one log line
    /// for a rejected delivery).
    public func handle(_ delivery: WebhookDelivery) async -> Answer {
        let event: ForgeEvent
        do {
            event = try forge.event(from: delivery)
        } catch {
            let status = if case .malformed = error { 400 } else { 401 }
            logger.warning(
                "webhook rejected",
                metadata: [
                    "forge.delivery":
                        "\(Self.printable(delivery.header("X-Gitea-Delivery") ?? delivery.header("X-Forgejo-Delivery")))",
                    "forge.event":
                        "\(Self.printable(delivery.header("X-Gitea-Event") ?? delivery.header("X-Forgejo-Event")))",
                    "http.status": "\(status)", "webhook.reason": "\(error)",
                ])
            return Answer(status: status, message: error.description)
        }
        var logger = self.logger
        logger[metadataKey: "forge.delivery"] = "\(event.delivery ?? "none")"
        do {
            if let delivery = event.delivery, try await store.hasDelivery(delivery) {
                return .ignored("delivery \(delivery) was handled before")
            }
            switch event.kind {
            case .comment(let comment):
                return try await handle(comment, delivery: event.delivery, logger: logger)
            case .pullRequest(let change):
                return try await handle(change, delivery: event.delivery, logger: logger)
            case .other(let name):
                return .ignored("event \(name) is not acted on")
            }
        } catch let error as ForgeError {
            logger.error("webhook not handled: the forge could not be asked", metadata: ["error.message": "\(error)"])
            return Answer(status: 502, message: error.description)
        } catch {
            logger.error("webhook not handled", metadata: ["error.message": "\(error)"])
            return Answer(status: 500, message: "cc-ci could not handle this delivery: \(error)")
        }
    }

    // MARK: - !testme

    func handle(_ comment: CommentEvent, delivery: String?, logger: Logger) async throws -> Answer {
        guard comment.action == "created" else { return .ignored("comment \(comment.action), not created") }
        guard comment.isPullRequest else { return .ignored("a comment on an issue, not a pull request") }
        guard TestmeCommand.isCommand(comment.body) else { return .ignored("not a !testme comment") }
        let recipe: String
        switch enrolment.match(comment.repository) {
        case .recipe(let name):
            recipe = name
        case .notEnrolled(let why):
            logger.info(
                "!testme for a repository that is not enrolled",
                metadata: ["forge.repository": "\(comment.repository)", "enrolment.reason": "\(why)"])
            return .ignored("\(comment.repository) is not an enrolled recipe")
        }
        guard comment.isOpen else { return .ignored("the pull request is closed") }
        var logger = logger
        logger[metadataKey: "recipe"] = "\(recipe)"
        logger[metadataKey: "pr"] = "\(comment.issue)"
        logger[metadataKey: "forge.user"] = "\(comment.author)"
        logger[metadataKey: "forge.comment"] = "\(comment.commentID)"
        let repository = comment.repository.key
        let parsed = TestmeCommand.parse(comment.body)
        let command = try? parsed.get()
        var request = TestmeRequest(
            repository: repository, commentID: comment.commentID, issue: comment.issue, author: comment.author,
            recipe: recipe, stages: command?.stagesArgument, quick: command?.quick ?? false,
            commentUpdatedAt: comment.updatedAt, receivedAt: Date())
        // Claimed before anything else: a replay of this comment stops here, whatever its delivery id.
        if case .failure(let error) = parsed {
            request.outcome = .usage
            let usage = request
            let claimed = try await store.transaction(delivery: delivery) { queue -> Bool in
                guard try queue.testmeRequest(repository: repository, commentID: usage.commentID) == nil else {
                    return false
                }
                try queue.save(usage)
                try queue.add(.comment(ReplyText.usage(error), on: comment.issue, in: repository, job: nil))
                return true
            }
            guard claimed == true else { return .ignored("comment \(comment.commentID) was acted on before") }
            wakeReplies.signal()
            return Answer(status: 200, message: "malformed !testme: \(error)")
        }
        request.nextAttemptAt = Date() + Self.claimLease.timeInterval
        let claim = request
        let claimed = try await store.transaction(delivery: delivery) { queue -> Bool in
            guard try queue.testmeRequest(repository: repository, commentID: claim.commentID) == nil else {
                return false
            }
            try queue.save(claim)
            return true
        }
        guard claimed == true else { return .ignored("comment \(comment.commentID) was acted on before") }
        return try await admit(claim, logger: logger)
    }

    /// Decides a claimed `!testme` (``TestmeRequest/Outcome/waiting``): asks the forge who may and
    /// what the head is, then queues, coalesces or refuses — in one transaction that first checks
    /// the request is still waiting, so that it is decided once. When the forge cannot be reached,
    /// the request keeps waiting (tried again with backoff) and the answer is 202.
    func admit(_ request: TestmeRequest, logger: Logger) async throws -> Answer {
        let repository = request.repository
        guard let ref = RepositoryRef(fullName: repository) else {
            return try await settle(request, as: .ignored, error: "'\(repository)' is not owner/name", logger: logger)
        }
        let askedAt = Date()
        let pull: PullRequestInfo
        do {
            // Both asked at once: the answer is one round trip away, not two.
            async let head = forge.pullRequest(request.issue, in: ref)
            guard try await isAuthorised(request.author, in: ref) else {
                _ = try? await head
                return try await refuse(request, logger: logger)
            }
            pull = try await head
        } catch let error as ForgeError where error.status == 404 {
            return try await settle(request, as: .ignored, error: "the forge has no such pull request", logger: logger)
        } catch let error as ForgeError where error.isTransient {
            return try await wait(request, because: error, logger: logger)
        }
        guard pull.isOpen else {
            return try await settle(request, as: .ignored, error: "the pull request is closed", logger: logger)
        }
        guard CommitID.isValid(pull.headSHA) else {
            logger.error(
                "the forge gave a head that is not a commit id",
                metadata: ["forge.head": "\(Self.printable(pull.headSHA))"])
            return try await settle(
                request, as: .ignored, error: "the forge gave no usable head commit", status: 502, logger: logger)
        }
        let links = self.links
        let outcome = try await store.transaction { queue -> Enqueued? in
            guard var current = try queue.testmeRequest(repository: repository, commentID: request.commentID),
                current.outcome == .waiting
            else { return nil }
            // The newest head: the forge's answer, unless a push arrived since it was asked.
            var known =
                try queue.pullHead(repository: repository, pr: request.issue)
                ?? PullHead(
                    repository: repository, pr: request.issue)
            var head = pull.headSHA.lowercased()
            if let pushed = known.head, let pushedAt = known.pushedAt, pushedAt >= askedAt, pushed != head {
                head = pushed
            }
            if let updated = pull.updatedAt, known.updatedAt.map({ updated > $0 }) ?? true {
                known.updatedAt = updated
                try queue.save(known)
            }
            let candidate = Job(
                recipe: request.recipe, repository: repository, pr: request.issue, headSHA: head,
                stages: request.stages, requester: request.author, commentID: request.commentID,
                quick: request.quick)
            if let existing = try queue.activeJob(
                repository: repository, recipe: request.recipe, pr: request.issue, headSHA: head, quick: request.quick)
            {
                try queue.add(
                    .comment(
                        ReplyText.alreadyQueued(existing, links: links), on: request.issue, in: repository, job: nil))
                current.outcome = .coalesced
                current.jobID = existing.id
                current.nextAttemptAt = nil
                try queue.save(current)
                return .coalesced(existing)
            }
            let job = try queue.insert(candidate)
            let position = try queue.position(of: job)
            try queue.add(
                .comment(
                    ReplyText.queued(job, position: position, links: links), on: job.pr, in: repository, job: job.id,
                    kind: .jobComment))
            try queue.add(
                .status(
                    CommitStatus.State.pending.rawValue, description: "queued — position \(position)",
                    targetURL: links.job(job.number), sha: job.headSHA, issue: job.pr, in: repository, job: job.id))
            current.outcome = .queued
            current.jobID = job.id
            current.nextAttemptAt = nil
            try queue.save(current)
            return .queued(job, position: position)
        }
        switch outcome {
        case .queued(let job, let position)??:
            wakeReplies.signal()
            wakeWorkers.signal()
            logger.info(
                "job queued",
                metadata: ["job.id": "\(job.number)", "queue.position": "\(position)", "git.head": "\(job.headSHA)"])
            return Answer(status: 202, message: "queued as job \(job.number), position \(position)")
        case .coalesced(let job)??:
            wakeReplies.signal()
            logger.info("!testme coalesced with an active job", metadata: ["job.id": "\(job.number)"])
            return Answer(status: 200, message: "already \(job.state.rawValue) as job \(job.number)")
        default:
            return .ignored("comment \(request.commentID) was decided by another request")
        }
    }

    enum Enqueued: Sendable {
        case queued(Job, position: Int)
        case coalesced(Job)
    }

    /// A commenter without write access: told once per pull request, every comment recorded.
    private func refuse(_ request: TestmeRequest, logger: Logger) async throws -> Answer {
        let repository = request.repository
        let told = try await store.transaction { queue -> Bool? in
            guard var current = try queue.testmeRequest(repository: repository, commentID: request.commentID),
                current.outcome == .waiting
            else { return nil }
            let toldBefore = try queue.wasRefused(repository: repository, issue: request.issue, author: request.author)
            current.outcome = .refused
            current.nextAttemptAt = nil
            try queue.save(current)
            if !toldBefore {
                try queue.add(
                    .comment(
                        ReplyText.refused(user: request.author, repository: repository), on: request.issue,
                        in: repository, job: nil))
            }
            return !toldBefore
        }
        if told == true { wakeReplies.signal() }
        logger.info("!testme refused: no write access", metadata: ["reply.sent": "\(told == true)"])
        return Answer(status: 200, message: "\(request.author) may not start runs on \(repository)")
    }

    /// Ends a waiting request without a job (`ignored`: nothing to do).
    private func settle(
        _ request: TestmeRequest, as outcome: TestmeRequest.Outcome, error: String, status: Int = 204, logger: Logger
    ) async throws -> Answer {
        _ = try await store.transaction { queue in
            guard var current = try queue.testmeRequest(repository: request.repository, commentID: request.commentID),
                current.outcome == .waiting
            else { return }
            current.outcome = outcome
            current.lastError = error
            current.nextAttemptAt = nil
            try queue.save(current)
        }
        return Answer(status: status, message: error)
    }

    /// The forge could not be reached: the request waits, tried again after a growing delay, and
    /// is given up (the pull request told) after ``waitLimit``.
    private func wait(_ request: TestmeRequest, because error: ForgeError, logger: Logger) async throws -> Answer {
        let now = Date()
        let expired = now.timeIntervalSince(request.receivedAt) > Self.waitLimit
        let attempts = request.attempts + 1
        let delay = min(5 * pow(2, Double(min(attempts - 1, 10))), 300)
        _ = try await store.transaction { queue in
            guard var current = try queue.testmeRequest(repository: request.repository, commentID: request.commentID),
                current.outcome == .waiting
            else { return }
            current.attempts = attempts
            current.lastError = error.description
            if expired {
                current.outcome = .expired
                current.nextAttemptAt = nil
                try queue.add(
                    .comment(
                        ReplyText.expired(request), on: request.issue, in: request.repository, job: nil))
            } else {
                current.nextAttemptAt = now + delay
            }
            try queue.save(current)
        }
        if expired {
            wakeReplies.signal()
            logger.error(
                "!testme given up: the forge did not answer for a day", metadata: ["error.message": "\(error)"])
            return Answer(status: 502, message: "given up: \(error)")
        }
        wakeIntake.signal()
        logger.warning(
            "!testme waits for the forge",
            metadata: [
                "error.message": "\(error)", "forge.attempt": "\(attempts)", "forge.retry_in": "\(Int(delay)) s",
            ])
        return Answer(
            status: 202,
            message: "accepted: the forge could not be asked (\(error.reason)); cc-ci asks again in \(Int(delay)) s",
            waiting: true)
    }

    /// Write access on the forge, or the node's allowlist.
    func isAuthorised(_ user: String, in repository: RepositoryRef) async throws -> Bool {
        if settings.allowlist.contains(where: { $0.caseInsensitiveCompare(user) == .orderedSame }) { return true }
        return try await forge.permission(of: user, in: repository).canWrite
    }

    // MARK: - Pull request events

    func handle(_ change: PullRequestEvent, delivery: String?, logger: Logger) async throws -> Answer {
        let push = change.action == "synchronized" || change.action == "synchronize"
        let closed = change.action == "closed"
        guard push || closed || change.action == "reopened" else {
            return .ignored("pull_request \(change.action) is not acted on")
        }
        guard case .recipe(let recipe) = enrolment.match(change.repository) else {
            return .ignored("\(change.repository) is not enrolled")
        }
        let repository = change.repository.key
        let newHead = change.headSHA
        let links = self.links
        let reason =
            closed ? "the pull request was closed" : "a push made \(newHead.prefix(10)) the head of the pull request"
        let status = closed ? "cancelled: the pull request was closed" : "cancelled: superseded by a push"
        let now = Date()
        let decided = try await store.transaction(delivery: delivery) { queue -> [Job]? in
            var known =
                try queue.pullHead(repository: repository, pr: change.number)
                ?? PullHead(
                    repository: repository, pr: change.number)
            guard !known.isStale(head: newHead, updatedAt: change.updatedAt) else { return nil }
            if let updated = change.updatedAt { known.updatedAt = max(updated, known.updatedAt ?? updated) }
            if push {
                known.head = newHead
                known.pushedAt = now
            }
            try queue.save(known)
            guard push || closed else { return [] }
            var stopped: [Job] = []
            for var job in try queue.activeJobs(repository: repository, recipe: recipe, pr: change.number)
            where closed || job.headSHA != newHead {
                try Self.stop(&job, reason: reason, status: status, in: queue, links: links)
                stopped.append(job)
            }
            return stopped
        }
        let stopped: [Job]
        switch decided {
        case nil:
            return .ignored("delivery handled before")
        case .some(nil):
            return .ignored("an older event of \(repository)#\(change.number) than what is known (a replay?)")
        case .some(.some(let jobs)):
            stopped = jobs
        }
        guard !stopped.isEmpty else { return .ignored("nothing to stop") }
        wakeReplies.signal()
        for job in stopped { running.stop(job) }
        logger.info(
            closed ? "a closed pull request stopped its jobs" : "push superseded jobs",
            metadata: [
                "recipe.name": "\(recipe)", "forge.pr": "\(change.number)", "job.ids": "\(stopped.map(\.number))",
            ])
        return Answer(status: 200, message: "stopped \(stopped.count) job(s)")
    }

    /// Stops an active job for `reason`. A queued job ends `cancelled` here, with its comment and
    /// an error status with description `status`; a running job is only marked — the caller ends its
    /// process, and the worker records the end and replies.
    static func stop(
        _ job: inout Job, reason: String, status: String, in queue: any JobQueueTransaction, links: Links
    ) throws {
        job.cancelReason = reason
        guard job.state == .queued else {
            try queue.update(job)
            return
        }
        job.state = .cancelled
        job.finishedAt = queue.now
        job.note = "cancelled before it started"
        try queue.update(job)
        try queue.add(
            .comment(
                ReplyText.superseded(job, links: links), on: job.pr, in: job.repository, job: job.id, kind: .jobComment)
        )
        try queue.add(
            .status(
                CommitStatus.State.error.rawValue, description: status, targetURL: links.job(job.number),
                sha: job.headSHA, issue: job.pr, in: job.repository, job: job.id))
    }

    // MARK: - Operators

    /// What an operator's cancel did.
    public enum Cancellation: Sendable, Equatable {
        /// Stopped: a queued job is cancelled; a running job's run is told to stop and tear down.
        case stopped(Job)
        /// It had ended already (in the state it has).
        case ended(Job)
        case unknown
    }

    /// Why a job an operator cancelled stopped (its `cancelReason`).
    public static let operatorCancelReason = "an operator cancelled it"

    /// Cancels job `number` for an operator (the dashboard's queue, with the admin token).
    public func cancel(job number: Int64, logger: Logger) async throws -> Cancellation {
        let links = self.links
        let answer = try await store.transaction { queue -> Cancellation in
            guard var job = try queue.job(number) else { return .unknown }
            guard job.state.isActive else { return .ended(job) }
            try Self.stop(
                &job, reason: Self.operatorCancelReason, status: "cancelled by an operator", in: queue, links: links)
            return .stopped(job)
        }
        guard case .stopped(let job) = answer else { return answer ?? .unknown }
        wakeReplies.signal()
        running.stop(job)
        logger.notice(
            "operator cancelled a job",
            metadata: ["recipe.name": "\(job.recipe)", "job.id": "\(job.number)", "job.state": "\(job.state.rawValue)"])
        return .stopped(job)
    }

    /// A header value for a log line: printable, short.
    static func printable(_ text: String?) -> String {
        guard let text else { return "none" }
        let clean = String(
            text.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }.prefix(80).map(
                Character.init))
        return clean.isEmpty ? "none" : clean
    }
}

extension ForgeError {
    /// Worth asking again later: the forge did not answer, answered 5xx, or asked to slow down.
    public var isTransient: Bool {
        guard let status else { return true }
        return RetryPolicy.isRetryable(status: status)
    }
}

extension Duration {
    /// The duration in seconds, as `TimeInterval`.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
