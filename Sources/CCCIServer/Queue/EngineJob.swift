import CCCICore
import CCCIStore
import Foundation

/// A job a CI engine runs on one of its nodes (SPEC F-ENGINE). The engine's step runs
/// `ccci run <recipe> --pr N --ref SHA --job-id J --store URL`, and that run takes job J from the
/// shared queue as a worker of `ccci serve` claims one — running, on this node, under this run's
/// id — keeps the node's lease while it runs, and records its end and its replies (the comment
/// edited, the commit status), which the server that queued the job delivers.
public struct EngineJob: Sendable {
    public let store: any NodeStore
    public let job: Job
    public let links: Links

    /// Why a run may not take a job: each says what to do.
    public enum Refusal: Error, CustomStringConvertible, Equatable {
        case missing(Int64)
        case notQueued(Int64, JobState, node: String?)
        case otherPullRequest(Int64, expected: String, got: String)
        case waiting(Int64, behind: Int64)

        public var description: String {
            switch self {
            case .missing(let id):
                return "--job-id \(id): the store has no job \(id) — the engine was given a job of another store?"
            case .notQueued(let id, let state, let node):
                return "--job-id \(id): the job is \(state.rawValue)\(node.map { " (node \($0))" } ?? ""), not queued "
                    + "— an engine ran it twice, or it was cancelled; nothing was run"
            case .otherPullRequest(let id, let expected, let got):
                return
                    "--job-id \(id): the job tests \(expected), not \(got) — the engine's parameters do not match the job"
            case .waiting(let id, let other):
                return "--job-id \(id): job \(other) of the same pull request is still running — run this one after it"
            }
        }
    }

    /// Takes job `id` for the run `runID` of this node (`node`) of `recipe` at `ref` for `pr`
    /// (the run's own arguments, which must be the job's), or throws a ``Refusal``.
    public static func take(
        _ id: Int64, store: any NodeStore, node: String, runID: String, recipe: String, pr: Int, ref: String?,
        stages: String? = nil, quick: Bool = false, links: Links
    ) async throws -> EngineJob {
        let requested =
            "\(recipe)#\(pr)" + (ref.map { " at \($0)" } ?? " (no --ref)") + (stages.map { " --stages \($0)" } ?? "")
            + (quick ? " --quick" : "")
        let taken = try await store.updateJob(id) { job, queue in
            guard job.state == .queued else { throw Refusal.notQueued(id, job.state, node: job.node) }
            let named = "\(job.recipe)#\(job.pr) at \(job.headSHA)"
            // The run tests what its arguments say: they must be the job's — its head by at least
            // a short hash, its stages and its lane.
            guard job.recipe == recipe, job.pr == pr, let ref, ref.count >= 7, job.headSHA.hasPrefix(ref),
                (job.stages ?? "") == (stages ?? ""), job.quick == quick
            else {
                throw Refusal.otherPullRequest(id, expected: named, got: requested)
            }
            let running = try queue.activeJobs(repository: job.repository, recipe: job.recipe, pr: job.pr)
                .first { $0.state == .running && $0.number != job.number }
            if let running { throw Refusal.waiting(id, behind: running.number) }
            job.claim(by: node, at: queue.now) { _ in runID }
            try queue.add(
                .status(
                    CommitStatus.State.pending.rawValue,
                    description: "running on \(node)" + (job.attempt > 1 ? " (attempt \(job.attempt))" : ""),
                    targetURL: links.run(runID), sha: job.headSHA, issue: job.pr, in: job.repository, job: job.id))
        }
        guard let taken else { throw Refusal.missing(id) }
        // At once, not a quarter lease later: a node idle for longer than the lease must not have
        // this job taken over as a dead node's before its first renewal.
        try? await store.renewLease(now: Date())
        return EngineJob(store: store, job: taken, links: links)
    }

    /// Renews this node's lease every `interval` until cancelled: a node whose runs stop renewing
    /// it (the node died) has its jobs taken over by a server after the lease.
    public func keepLease(every interval: Duration) -> Task<Void, Never> {
        let store = self.store
        return Task {
            while !Task.isCancelled {
                try? await store.renewLease(now: Date())
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Replies with the verdict of a run that still gives its canonical back (a quick run).
    public func verdict(_ results: RunResults) async throws {
        let links = self.links
        try await store.updateJob(job.number) { job, queue in
            try JobPolicy.verdict(job, results: results, in: queue, links: links)
        }
    }

    /// Records the run's end — `exitCode` as `ccci run` exits, its results, the last error it
    /// printed — and the job's replies. A job cancelled while it ran (a push superseded it)
    /// ends cancelled with that reason when the run was stopped. A run stopped by a signal nobody
    /// at cc-ci asked for — its worker died (the parent-death signal), the engine shut down — is
    /// an interruption, as a server's shutdown is for its workers: the job is queued again once,
    /// to be handed to the engine anew.
    public func end(exitCode: Int32, results: RunResults?, lastError: String?) async throws {
        let links = self.links
        let node = job.node ?? "its node"
        let runID = job.runID
        try await store.updateJob(job.number) { job, queue in
            // Still this run's job: one taken over meanwhile (this node seemed dead) belongs to its
            // next attempt, which records its own end.
            guard job.state == .running, job.runID == runID else { return }
            var outcome = JobOutcome.of(exitCode: exitCode, results: results, lastError: lastError)
            if exitCode >= 128, job.cancelReason != nil {
                outcome = JobOutcome(state: .cancelled, exitCode: exitCode, results: results, note: job.cancelReason)
            } else if exitCode >= 128, exitCode != 142 {
                try JobPolicy.interrupt(
                    &job, reason: "its run on \(node) was stopped (its engine worker died or stopped the build)",
                    in: queue, links: links)
                return
            }
            try JobPolicy.end(&job, outcome: outcome, in: queue, links: links)
        }
    }
}
