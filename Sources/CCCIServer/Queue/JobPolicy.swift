import CCCICore
import CCCIStore
import Foundation

/// How a job's run ended, as the queue records it.
public struct JobOutcome: Sendable {
    public let state: JobState
    /// `ccci run`'s exit status (128 + signal when a signal ended it).
    public let exitCode: Int32
    /// The run's results document, when it wrote one.
    public let results: RunResults?
    /// Why, in a sentence, when the exit status alone does not say.
    public let note: String?

    /// The outcome `ccci run` reports through its exit status (SPEC F-RUN: 0 pass, 1 fail,
    /// 2 usage/config, 142 deadline, 143 SIGTERM). `lastError` is the last `error:` line it printed.
    /// The outcome a recorded verdict stands for, before its run has exited (a quick run still
    /// giving its canonical back).
    public static func of(verdict results: RunResults) -> JobOutcome {
        JobOutcome(
            state: results.outcome == .pass ? .passed : .failed, exitCode: results.exitCode, results: results,
            note: nil)
    }

    public static func of(exitCode: Int32, results: RunResults?, lastError: String?) -> JobOutcome {
        switch exitCode {
        case 0:
            return JobOutcome(state: .passed, exitCode: 0, results: results, note: nil)
        case 1:
            return JobOutcome(state: .failed, exitCode: 1, results: results, note: nil)
        case 2:
            return JobOutcome(
                state: .failed, exitCode: 2, results: results,
                note: "`ccci run` could not start the run: \(lastError ?? "usage or configuration error (exit 2)")")
        case 142:
            return JobOutcome(state: .failed, exitCode: 142, results: results, note: "the run hit its hard deadline")
        case 143:
            return JobOutcome(
                state: .cancelled, exitCode: 143, results: results, note: "the run was stopped (SIGTERM)")
        default:
            return JobOutcome(
                state: .failed, exitCode: exitCode, results: results,
                note: exitCode > 128
                    ? "`ccci run` was killed by signal \(exitCode - 128)" : "`ccci run` exited \(exitCode)")
        }
    }
}

/// The queue's rules for a job whose run did not end on its own.
public enum JobPolicy {
    /// A job runs at most this often: the server stopping while it ran requeues it once.
    public static let maximumAttempts = 2

    /// The server stopped (or died) while `job` ran: it is queued again, at the head of the
    /// queue (it keeps its id), and the pull request is told — unless this was its last attempt,
    /// then it ends `interrupted`.
    public static func interrupt(
        _ job: inout Job, reason: String, in queue: any JobQueueTransaction, links: Links
    ) throws {
        job.pid = nil
        job.processStart = nil
        // Handed to an engine: handed again (its step on the dead node is gone).
        job.dispatchedAt = nil
        job.dispatchRef = nil
        // Stopped by a push or an operator before it was interrupted: it ends as they asked,
        // never queued again (a superseded head is not tested).
        if let cancelReason = job.cancelReason {
            let outcome = JobOutcome(state: .cancelled, exitCode: 143, results: nil, note: cancelReason)
            try end(&job, outcome: outcome, in: queue, links: links)
            return
        }
        if job.attempt < maximumAttempts {
            job.state = .queued
            job.attempt += 1
            job.note = "\(reason); queued again"
            try queue.add(.comment(ReplyText.requeued(job, links: links), on: job.pr, in: job.repository, job: job.id))
            try queue.add(
                .status(
                    CommitStatus.State.pending.rawValue, description: "queued again after a server restart",
                    targetURL: links.job(job.number), sha: job.headSHA, issue: job.pr, in: job.repository, job: job.id))
        } else {
            job.state = .interrupted
            job.finishedAt = queue.now
            job.note = "\(reason), a second time; given up — comment !testme to try again"
            let outcome = JobOutcome(state: .interrupted, exitCode: 143, results: nil, note: job.note)
            try finish(job, outcome: outcome, in: queue, links: links)
        }
    }

    /// Records that `job`'s run ended with `outcome`, and its replies.
    public static func end(
        _ job: inout Job, outcome: JobOutcome, in queue: any JobQueueTransaction, links: Links
    ) throws {
        job.state = outcome.state
        job.finishedAt = queue.now
        job.exitCode = Int(outcome.exitCode)
        job.level = outcome.results?.level
        job.note = outcome.note
        job.pid = nil
        job.processStart = nil
        try finish(job, outcome: outcome, in: queue, links: links)
    }

    /// The replies for a verdict recorded while the run still gives its canonical back: the pull
    /// request hears it now; the job's end edits the comment again with the give-back's outcome.
    public static func verdict(_ job: Job, results: RunResults, in queue: any JobQueueTransaction, links: Links) throws
    {
        guard job.state == .running, job.runID == results.runID, job.cancelReason == nil else { return }
        try finish(job, outcome: .of(verdict: results), in: queue, links: links)
    }

    /// The replies for a job that ended: its comment (edited) and its commit status.
    public static func finish(_ job: Job, outcome: JobOutcome, in queue: any JobQueueTransaction, links: Links) throws {
        let text =
            outcome.state == .cancelled && job.cancelReason != nil
            ? ReplyText.superseded(job, links: links) : ReplyText.finished(job, outcome: outcome, links: links)
        try queue.add(.comment(text, on: job.pr, in: job.repository, job: job.id, kind: .jobComment))
        let (state, description) = ReplyText.finalStatus(job, outcome: outcome)
        try queue.add(
            .status(
                state.rawValue, description: description,
                targetURL: job.runID.map { links.run($0) } ?? links.job(job.number), sha: job.headSHA, issue: job.pr,
                in: job.repository, job: job.id))
    }
}
