import CCCICore
import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the outbox (the `reply` table) to the forge, oldest first, and keeps what it could
/// not deliver until it can.
///
/// - A reply that a newer one replaces — a later commit status of the same commit, a later text
///   of the same job's comment — is never sent (``Reply/State/superseded``): the final status
///   always wins over an older one, and a result that is ready before its acknowledgement got
///   through is posted as the job's comment directly.
/// - A reply the forge did not take because it was away (no answer, 5xx, 429, a refused token)
///   stays pending and is tried again after a growing delay (``retryDelay(after:)``, up to
///   ``maximumDelay``); the round stops there, since the replies behind it would fail the same
///   way. Its job says what is waiting (`replyError`) until it gets through.
/// - A reply the forge refuses for good (a 4xx such as 404 or 422), or one still undelivered
///   after ``giveUpAfter``, is marked `failed`, logged and noted on its job: a reply never holds
///   up or fails a run. A job comment that was deleted on the forge (404 on edit) is posted anew.
///
/// On shutdown the sender drains what is due for at most ``drainTimeout``; the rest is
/// delivered after the next start.
public final class ReplySender: Service, Sendable {
    let store: any NodeStore
    let forge: any Forge
    let wakeup: Wakeup
    let logger: Logger
    let drainTimeout: Duration
    let firstDelay: Duration
    let maximumDelay: Duration
    let giveUpAfter: TimeInterval

    public init(
        store: any NodeStore, forge: any Forge, wakeup: Wakeup, logger: Logger, drainTimeout: Duration = .seconds(15),
        firstDelay: Duration = .seconds(5), maximumDelay: Duration = .seconds(600),
        giveUpAfter: TimeInterval = 7 * 86400
    ) {
        self.store = store
        self.forge = forge
        self.wakeup = wakeup
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
        self.giveUpAfter = giveUpAfter
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !wakeup.isStopped {
                let generation = wakeup.generation
                await deliverPending()
                await wakeup.wait(since: generation, atMost: await nextDelay())
            }
        } onGracefulShutdown: {
            self.wakeup.stop()
        }
        // The workers stopped before this service: their last replies are in the outbox.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.deliverPending() }
            group.addTask { try? await Task.sleep(for: self.drainTimeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// How long until the next postponed reply is due (at most a minute: new ones wake it).
    func nextDelay() async -> Duration {
        guard let next = try? await store.nextReplyAttempt() else { return .seconds(60) }
        return .milliseconds(Int64(min(60, max(0, next.timeIntervalSinceNow)) * 1000) + 10)
    }

    /// Delivers due replies until none is due, or one could not be delivered for a reason that
    /// would stop the others too (the task being cancelled included).
    func deliverPending() async {
        while !Task.isCancelled {
            let reply: Reply?
            do {
                reply = try await store.nextPendingReply()
            } catch {
                logger.error("cannot read the outbox", metadata: ["error.message": "\(error)"])
                return
            }
            guard let reply, let id = reply.id else { return }
            guard await deliver(reply, id: id) else { return }
        }
    }

    /// Tries one reply; returns whether the round may go on.
    func deliver(_ reply: Reply, id: Int64) async -> Bool {
        var logger = self.logger
        logger[metadataKey: "reply.id"] = "\(id)"
        logger[metadataKey: "reply.kind"] = "\(reply.kind.rawValue)"
        if let job = reply.jobID { logger[metadataKey: "job.id"] = "\(job)" }
        if (try? await store.supersedeIfOutdated(id)) == true {
            logger.debug("reply superseded by a newer one: not sent")
            return true
        }
        guard let repository = RepositoryRef(fullName: reply.repository) else {
            try? await store.finishReply(
                id, delivered: false, attempts: 0, error: "'\(reply.repository)' is not owner/name", commentID: nil)
            return true
        }
        do {
            let commentID = try await send(reply, to: repository)
            try await store.finishReply(id, delivered: true, attempts: 1, error: nil, commentID: commentID)
            if reply.attempts > 0 {
                logger.notice("reply delivered after \(reply.attempts + 1) attempts")
            }
            return true
        } catch is CancellationError {
            return false  // still pending: delivered after the next start
        } catch let error as ForgeError where error.isTransient || error.status == 401 || error.status == 403 {
            let age = Date().timeIntervalSince(reply.createdAt)
            if age > giveUpAfter {
                logger.error(
                    "reply given up: the forge did not take it for a week",
                    metadata: ["forge.repository": "\(repository)", "error.message": "\(error)"])
                try? await store.finishReply(
                    id, delivered: false, attempts: error.attempts, error: "given up after a week: \(error)",
                    commentID: nil)
                return true
            }
            let delay = retryDelay(after: reply.attempts + 1)
            logger.warning(
                "reply not delivered yet: the forge will be asked again",
                metadata: [
                    "forge.repository": "\(repository)", "error.message": "\(error)",
                    "forge.attempt": "\(reply.attempts + 1)", "forge.retry_in": "\(DurationText.format(delay))",
                ])
            try? await store.postponeReply(id, error: error.description, next: Date() + delay.timeInterval)
            return false
        } catch {
            let attempts = (error as? ForgeError)?.attempts ?? 1
            logger.error(
                "reply not delivered", metadata: ["forge.repository": "\(repository)", "error.message": "\(error)"])
            try? await store.finishReply(id, delivered: false, attempts: attempts, error: "\(error)", commentID: nil)
            return true
        }
    }

    /// The delay before attempt `attempt + 1`: doubling from ``firstDelay``, capped at
    /// ``maximumDelay``.
    func retryDelay(after attempt: Int) -> Duration {
        min(firstDelay * Double(1 << min(max(attempt - 1, 0), 16)), maximumDelay)
    }

    /// Sends one reply; returns the id of a comment it created.
    func send(_ reply: Reply, to repository: RepositoryRef) async throws -> Int64? {
        switch reply.kind {
        case .comment:
            return try await forge.postComment(reply.body ?? "", on: reply.issue, in: repository)
        case .jobComment:
            if let jobID = reply.jobID, let existing = try await store.job(jobID)?.replyCommentID {
                do {
                    try await forge.editComment(existing, body: reply.body ?? "", in: repository)
                    return nil
                } catch let error as ForgeError where error.status == 404 {
                    logger.notice("the job's comment is gone from the forge: posting a new one")
                }
            }
            return try await forge.postComment(reply.body ?? "", on: reply.issue, in: repository)
        case .status:
            let state = reply.statusState.flatMap(CommitStatus.State.init(rawValue:)) ?? .error
            try await forge.setStatus(
                CommitStatus(state: state, description: reply.statusDescription ?? "", targetURL: reply.targetURL),
                on: reply.sha ?? "", in: repository)
            return nil
        }
    }
}
