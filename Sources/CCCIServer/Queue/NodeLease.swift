import CCCICore
import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// This node's part in a store several nodes share (SPEC F-PG): it renews the node's lease every
/// quarter of ``lease``; it takes over the running jobs of any other node whose lease ran out
/// (that node's server died, or lost the store) — each queued again once, its pull request told,
/// as this node's own recovery would (``JobPolicy/interrupt(_:reason:in:links:)``); and it wakes
/// this node's workers and reply sender when another node changes the queue
/// (``JobQueueStore/queueChanges()``).
/// The store's transaction is the proof a job is taken over once: two nodes that look at once
/// cannot both see it running.
public struct NodeLease: Service {
    let store: any NodeStore
    let node: String
    let lease: Duration
    let links: Links
    let workers: Wakeup
    let replies: Wakeup
    let logger: Logger

    public init(
        store: any NodeStore, node: String, lease: Duration, links: Links, workers: Wakeup, replies: Wakeup,
        logger: Logger
    ) {
        self.store = store
        self.node = node
        self.lease = lease
        self.links = links
        self.workers = workers
        self.replies = replies
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            if let changes = store.queueChanges() {
                group.addTask {
                    // Another node's change may be a job to claim, or replies to deliver (a run on
                    // an engine's node records its job's end and replies; this bridge sends them).
                    for await _ in changes.cancelOnGracefulShutdown() {
                        workers.signal()
                        replies.signal()
                    }
                }
            }
            group.addTask { await renewAndTakeOver() }
            await group.waitForAll()
        }
    }

    private func renewAndTakeOver() async {
        let interval = max(lease / 4, .seconds(1))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await check(now: Date())
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Renews the lease, then takes over what silent nodes left running.
    public func check(now: Date) async {
        do {
            try await store.renewLease(now: now)
        } catch {
            logger.warning("cannot renew this node's lease", metadata: ["error.message": "\(error)"])
            return
        }
        let lease = self.lease
        let links = self.links
        let cutoff = now.addingTimeInterval(-Double(lease.components.seconds))
        do {
            let taken = try await store.takeOverJobs(ofNodesSilentSince: cutoff, now: now) { job, queue in
                let silent = job.node ?? "another node"
                try JobPolicy.interrupt(
                    &job, reason: "its node \(silent) was silent for over \(DurationText.format(lease))", in: queue,
                    links: links)
            }
            guard !taken.isEmpty else { return }
            logger.notice(
                "took over the running jobs of a silent node",
                metadata: [
                    "job.ids": "\(taken.map(\.number))", "node.silent": "\(Set(taken.compactMap(\.node)).sorted())",
                ])
            replies.signal()
            workers.signal()
        } catch {
            logger.warning("cannot take over silent nodes' jobs", metadata: ["error.message": "\(error)"])
        }
    }
}
