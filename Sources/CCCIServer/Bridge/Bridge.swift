import CCCICore
import CCCIStore
import Foundation
import Logging

/// The `!testme` bridge (SPEC F-BRIDGE): turns verified forge events into queued jobs and
/// replies.
///
/// A comment is acted on only when it is new, on an open pull request of an enrolled recipe, and
/// its first word is `!testme`; everything else is answered 204 and left alone. Then, in order:
/// the commenter must have write access (or be on the allowlist) — else a polite refusal; the
/// options must read — else the usage; the pull request's head is asked from the forge; a job for
/// the same (recipe, PR, head) that is queued or running gets a pointer to it instead of a second
/// run. The job, its acknowledgement and its `pending` status are written in one transaction with
/// the delivery id, so a delivery seen before changes nothing. A push to the pull request
/// (`synchronized`) cancels its jobs for the old head.
public struct Bridge: Sendable {
    public let forge: any Forge
    public let store: SQLiteStore
    public let settings: ServeConfig
    public let links: Links
    /// The recipes this node tests (the catalogue's names).
    public let enrolled: @Sendable () -> Set<String>
    public let running: RunningJobs
    public let wakeWorkers: Wakeup
    public let wakeReplies: Wakeup
    public let logger: Logger

    public init(
        forge: any Forge, store: SQLiteStore, settings: ServeConfig, links: Links,
        enrolled: @escaping @Sendable () -> Set<String>, running: RunningJobs, wakeWorkers: Wakeup,
        wakeReplies: Wakeup, logger: Logger
    ) {
        self.forge = forge
        self.store = store
        self.settings = settings
        self.links = links
        self.enrolled = enrolled
        self.running = running
        self.wakeWorkers = wakeWorkers
        self.wakeReplies = wakeReplies
        self.logger = logger
    }

    /// What the webhook endpoint answers.
    public struct Answer: Sendable, Hashable {
        public let status: Int
        public let message: String

        static func ignored(_ why: String) -> Answer { Answer(status: 204, message: why) }
    }

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

    /// The recipe a repository is, when it is enrolled (its name is a catalogue recipe, and its
    /// owner is allowed when `serve.owners` is set).
    public func recipe(of repository: RepositoryRef) -> String? {
        if !settings.owners.isEmpty,
            !settings.owners.contains(where: { $0.caseInsensitiveCompare(repository.owner) == .orderedSame })
        {
            return nil
        }
        let name = repository.name.lowercased()
        return enrolled().contains(name) ? name : nil
    }

    // MARK: - !testme

    func handle(_ comment: CommentEvent, delivery: String?, logger: Logger) async throws -> Answer {
        guard comment.action == "created" else { return .ignored("comment \(comment.action), not created") }
        guard comment.isPullRequest else { return .ignored("a comment on an issue, not a pull request") }
        guard TestmeCommand.isCommand(comment.body) else { return .ignored("not a !testme comment") }
        guard let recipe = recipe(of: comment.repository) else {
            logger.info(
                "!testme for a repository that is not enrolled", metadata: ["forge.repository": "\(comment.repository)"]
            )
            return .ignored("\(comment.repository) is not an enrolled recipe")
        }
        guard comment.isOpen else { return .ignored("the pull request is closed") }
        var logger = logger
        logger[metadataKey: "recipe"] = "\(recipe)"
        logger[metadataKey: "pr"] = "\(comment.issue)"
        logger[metadataKey: "forge.user"] = "\(comment.author)"
        let repository = comment.repository.fullName
        guard try await isAuthorised(comment.author, in: comment.repository) else {
            try await reply(
                delivery: delivery,
                .comment(
                    ReplyText.refused(user: comment.author, repository: repository), on: comment.issue, in: repository,
                    job: nil))
            logger.info("!testme refused: no write access")
            return Answer(status: 200, message: "\(comment.author) may not start runs on \(repository)")
        }
        let command: TestmeCommand
        switch TestmeCommand.parse(comment.body) {
        case .success(let parsed):
            command = parsed
        case .failure(let error):
            try await reply(
                delivery: delivery, .comment(ReplyText.usage(error), on: comment.issue, in: repository, job: nil))
            return Answer(status: 200, message: "malformed !testme: \(error)")
        }
        let pull: PullRequestInfo
        do {
            pull = try await forge.pullRequest(comment.issue, in: comment.repository)
        } catch let error as ForgeError where error.status == 404 {
            return .ignored("the forge has no pull request \(repository)#\(comment.issue)")
        }
        guard pull.isOpen else {
            _ = try await store.transaction(delivery: delivery) { _ in }
            return .ignored("the pull request is closed")
        }
        guard Self.isCommitID(pull.headSHA) else {
            logger.error(
                "the forge gave a head that is not a commit id",
                metadata: ["forge.head": "\(Self.printable(pull.headSHA))"])
            return Answer(
                status: 502, message: "the forge gave no usable head commit for \(repository)#\(comment.issue)")
        }
        let candidate = Job(
            recipe: recipe, repository: repository, pr: comment.issue, headSHA: pull.headSHA.lowercased(),
            stages: command.stagesArgument, requester: comment.author, commentID: comment.commentID,
            quick: command.quick)
        let links = self.links
        let outcome = try await store.transaction(delivery: delivery) { queue -> Enqueued in
            if let existing = try queue.activeJob(
                recipe: recipe, pr: comment.issue, headSHA: candidate.headSHA, quick: candidate.quick)
            {
                try queue.add(
                    .comment(
                        ReplyText.alreadyQueued(existing, links: links), on: comment.issue, in: repository, job: nil))
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
            return .queued(job, position: position)
        }
        wakeReplies.signal()
        switch outcome {
        case .queued(let job, let position)?:
            wakeWorkers.signal()
            logger.info(
                "job queued",
                metadata: ["job.id": "\(job.number)", "queue.position": "\(position)", "git.head": "\(job.headSHA)"])
            return Answer(status: 202, message: "queued as job \(job.number), position \(position)")
        case .coalesced(let job)?:
            logger.info("!testme coalesced with an active job", metadata: ["job.id": "\(job.number)"])
            return Answer(status: 200, message: "already \(job.state.rawValue) as job \(job.number)")
        case nil:
            return .ignored("delivery handled before")
        }
    }

    enum Enqueued: Sendable {
        case queued(Job, position: Int)
        case coalesced(Job)
    }

    /// Write access on the forge, or the node's allowlist.
    func isAuthorised(_ user: String, in repository: RepositoryRef) async throws -> Bool {
        if settings.allowlist.contains(where: { $0.caseInsensitiveCompare(user) == .orderedSame }) { return true }
        return try await forge.permission(of: user, in: repository).canWrite
    }

    // MARK: - Pushes

    func handle(_ change: PullRequestEvent, delivery: String?, logger: Logger) async throws -> Answer {
        guard change.action == "synchronized" || change.action == "synchronize" else {
            return .ignored("pull_request \(change.action) is not acted on")
        }
        guard let recipe = recipe(of: change.repository) else {
            return .ignored("\(change.repository) is not enrolled")
        }
        let newHead = change.headSHA.lowercased()
        let links = self.links
        let stopped = try await store.transaction(delivery: delivery) { queue -> [Job] in
            var stopped: [Job] = []
            for var job in try queue.activeJobs(recipe: recipe, pr: change.number) where job.headSHA != newHead {
                try Self.stop(
                    &job, reason: "a push made \(newHead.prefix(10)) the head of the pull request",
                    status: "cancelled: superseded by a push", in: queue, links: links)
                stopped.append(job)
            }
            return stopped
        }
        guard let stopped, !stopped.isEmpty else { return .ignored("nothing to supersede") }
        wakeReplies.signal()
        for job in stopped where job.state == .running {
            running.terminate(job.number)
        }
        logger.info(
            "push superseded jobs",
            metadata: [
                "recipe.name": "\(recipe)", "forge.pr": "\(change.number)", "job.ids": "\(stopped.map(\.number))",
            ])
        return Answer(status: 200, message: "superseded \(stopped.count) job(s)")
    }

    /// Stops an active job for `reason`. A queued job ends `cancelled` here, with its comment and
    /// an error status with description `status`; a running job is only marked — the caller ends its
    /// process, and the worker records the end and replies.
    static func stop(_ job: inout Job, reason: String, status: String, in queue: QueueTransaction, links: Links) throws
    {
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
                &job, reason: "an operator cancelled it", status: "cancelled by an operator", in: queue, links: links)
            return .stopped(job)
        }
        guard case .stopped(let job) = answer else { return answer ?? .unknown }
        wakeReplies.signal()
        if job.state == .running { running.terminate(job.number) }
        logger.notice(
            "operator cancelled a job",
            metadata: ["recipe.name": "\(job.recipe)", "job.id": "\(job.number)", "job.state": "\(job.state.rawValue)"])
        return .stopped(job)
    }

    /// Writes replies with the delivery recorded, in one transaction.
    private func reply(delivery: String?, _ replies: Reply...) async throws {
        _ = try await store.transaction(delivery: delivery) { queue in
            for reply in replies { try queue.add(reply) }
        }
        wakeReplies.signal()
    }

    /// A full commit id (40 or 64 hex digits): the only form passed on to `ccci run --ref`.
    static func isCommitID(_ text: String) -> Bool {
        (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit)
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
