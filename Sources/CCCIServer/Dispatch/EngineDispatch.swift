import CCCICore
import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// The queue's side of a CI engine (SPEC F-ENGINE), in place of this node's workers: each queued
/// job is handed to the engine once — the oldest first, and a pull request's next job only after
/// its previous one ended, as workers claim them — and marked with when and the engine's handle.
/// The engine's step on a node then takes the job from the store (``EngineJob``), and the
/// bridge's replies follow the job's state there, whichever node ran it.
///
/// An engine that refuses or cannot be reached leaves the job queued, said in its note, and is
/// asked again after a pause that grows to a minute.
public final class EngineDispatch: Service, Sendable {
    let store: any NodeStore
    let engine: any Dispatcher
    let links: Links
    let wakeup: Wakeup
    let replies: Wakeup
    let logger: Logger

    public init(
        store: any NodeStore, engine: any Dispatcher, links: Links, wakeup: Wakeup, replies: Wakeup, logger: Logger
    ) {
        self.store = store
        self.engine = engine
        self.links = links
        self.wakeup = wakeup
        self.replies = replies
        self.logger = logger
    }

    /// How long the dispatcher waits unwoken before it looks at the queue again.
    static let idleRecheck: Duration = .seconds(15)

    public func run() async throws {
        await withGracefulShutdownHandler {
            var pause: Duration = .seconds(2)
            while !Task.isCancelled, !wakeup.isStopped {
                let generation = wakeup.generation
                if await dispatchWaiting() {
                    pause = .seconds(2)
                    await wakeup.wait(since: generation, atMost: Self.idleRecheck)
                } else {
                    await wakeup.wait(since: generation, atMost: pause)
                    pause = min(pause * 2, .seconds(60))
                }
            }
        } onGracefulShutdown: {
            self.wakeup.stop()
        }
        // Told to stop early (the server began stopping): still a service of its group until the
        // group stops it — a service that returns first would make the group cancel the others.
        try? await gracefulShutdown()
    }

    /// A job that is not to be handed over now (taken, ended, or behind its pull request's).
    struct NotNow: Error {}

    /// Hands every queued job that may go to the engine; `false` when the engine failed one.
    func dispatchWaiting() async -> Bool {
        let queued: [Job]
        do {
            queued = try await store.jobs(in: [.queued]).filter { $0.dispatchedAt == nil }
        } catch {
            logger.error("cannot read the queue", metadata: ["error.message": "\(error)"])
            return false
        }
        for candidate in queued {
            let marked: Job?
            do {
                marked = try await store.updateJob(candidate.number) { job, queue in
                    guard job.state == .queued, job.dispatchedAt == nil else { throw NotNow() }
                    let ahead = try queue.activeJobs(repository: job.repository, recipe: job.recipe, pr: job.pr)
                        .contains { $0.number != job.number && ($0.state == .running || $0.dispatchedAt != nil) }
                    guard !ahead else { throw NotNow() }
                    job.dispatchedAt = queue.now
                }
            } catch is NotNow {
                continue
            } catch {
                logger.error("cannot mark a job dispatched", metadata: ["error.message": "\(error)"])
                return false
            }
            guard let job = marked else { continue }
            if await hand(job) == false { return false }
        }
        return true
    }

    /// Hands `job` (marked dispatched) to the engine and records its handle, or unmarks it.
    func hand(_ job: Job) async -> Bool {
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(job.number)"
        logger[metadataKey: "recipe"] = "\(job.recipe)"
        let engine = self.engine
        let links = self.links
        do {
            // A quick run needs the recipe's warm canonical: the node that holds a healthy one.
            let node = job.quick ? try await store.nodesWithHealthyCanonical(of: job.recipe).first : nil
            let handle = try await engine.dispatch(job, on: node)
            try await store.updateJob(job.number) { job, queue in
                // Cancelled while it was handed over: its end and replies are written already.
                guard job.state == .queued else { return }
                job.dispatchRef = handle
                job.note = nil
                try queue.add(
                    .status(
                        CommitStatus.State.pending.rawValue, description: "sent to \(engine.name)",
                        targetURL: links.job(job.number), sha: job.headSHA, issue: job.pr, in: job.repository,
                        job: job.id))
            }
            replies.signal()
            logger.info(
                "job sent to the engine",
                metadata: ["engine": "\(engine.name)", "engine.ref": "\(handle)", "node": "\(node ?? "any")"])
            // Cancelled while it was being handed over: the engine drops it too.
            if let current = try? await store.job(job.number), current.cancelReason != nil {
                try? await engine.cancel(current, reason: current.cancelReason ?? "")
            }
            return true
        } catch {
            let reason = "\(error)"
            logger.warning("the engine did not take a job; it stays queued", metadata: ["error.message": "\(reason)"])
            _ = try? await store.updateJob(job.number) { job, _ in
                guard job.state == .queued, job.dispatchRef == nil else { return }
                job.dispatchedAt = nil
                job.note = "\(engine.name) did not take it (\(reason)); asked again shortly"
            }
            return false
        }
    }
}
