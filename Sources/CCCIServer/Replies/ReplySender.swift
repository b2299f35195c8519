import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the outbox (the `reply` table) to the forge, one reply at a time, oldest first — so
/// a job's acknowledgement always precedes its result on the pull request.
///
/// The forge client retries 5xx answers and time-outs with backoff, a bounded number of times; a
/// reply it still cannot deliver is marked `failed`, logged, and noted on its job
/// (`replyError`), and delivery moves on: a reply never holds up or fails a run. A job comment
/// that was deleted on the forge (404 on edit) is posted anew. On shutdown the sender drains
/// what is pending for at most ``drainTimeout``; what is left is delivered after the next start.
public final class ReplySender: Service, Sendable {
    let store: SQLiteStore
    let forge: any Forge
    let wakeup: Wakeup
    let logger: Logger
    let drainTimeout: Duration

    public init(
        store: SQLiteStore, forge: any Forge, wakeup: Wakeup, logger: Logger, drainTimeout: Duration = .seconds(15)
    ) {
        self.store = store
        self.forge = forge
        self.wakeup = wakeup
        self.logger = logger
        self.drainTimeout = drainTimeout
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !wakeup.isStopped {
                let generation = wakeup.generation
                await deliverPending()
                await wakeup.wait(since: generation)
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

    /// Delivers replies until none is pending (or the task is cancelled).
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
            await deliver(reply, id: id)
        }
    }

    func deliver(_ reply: Reply, id: Int64) async {
        var logger = self.logger
        logger[metadataKey: "reply.id"] = "\(id)"
        logger[metadataKey: "reply.kind"] = "\(reply.kind.rawValue)"
        if let job = reply.jobID { logger[metadataKey: "job.id"] = "\(job)" }
        guard let repository = RepositoryRef(fullName: reply.repository) else {
            try? await store.finishReply(
                id, delivered: false, attempts: 0, error: "'\(reply.repository)' is not owner/name", commentID: nil)
            return
        }
        do {
            let commentID = try await send(reply, to: repository)
            try await store.finishReply(id, delivered: true, attempts: 1, error: nil, commentID: commentID)
        } catch is CancellationError {
            return  // still pending: delivered after the next start
        } catch {
            let attempts = (error as? ForgeError)?.attempts ?? 1
            logger.error(
                "reply not delivered", metadata: ["forge.repository": "\(repository)", "error.message": "\(error)"])
            try? await store.finishReply(id, delivered: false, attempts: attempts, error: "\(error)", commentID: nil)
        }
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
