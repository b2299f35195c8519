import CCCICore
import CCCIStore
import CCCISystem
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The queue's workers (SPEC F-QUEUE): `capacity` loops that claim jobs in order and run each
/// as `ccci run <recipe> --pr N --ref SHA --json --run-id ID` — a child process in its own
/// process group, with `ccci run`'s lifetime guards (its parent-death signal fires if the server
/// dies), its output appended to `job.log` in the run's directory.
///
/// At start, jobs a dead server left `running` are recovered first (``recover()``). On graceful
/// shutdown the workers claim nothing more, send SIGTERM to every run (each tears down and
/// exits 143), wait for them, and queue those jobs again (once: ``JobPolicy``); queued jobs stay
/// queued.
public final class JobWorkers: Service, Sendable {
    let store: any NodeStore
    let config: NodeConfig
    let capacity: Int
    /// The `ccci` executable runs are started with.
    let executable: URL
    /// The environment of the runs (and of the janitor).
    let environment: [String: String]
    let links: Links
    let running: RunningJobs
    let wakeup: Wakeup
    let replies: Wakeup
    let logger: Logger
    /// How long a run that outlived a dead server gets to finish its teardown before SIGKILL.
    let orphanGrace: Duration
    /// Where finished runs are counted (`/metrics`).
    let metrics: ServerMetrics
    private let stopping = Atomic<Bool>(false)

    public init(
        store: any NodeStore, config: NodeConfig, capacity: Int, executable: URL, environment: [String: String],
        links: Links, running: RunningJobs, wakeup: Wakeup, replies: Wakeup, logger: Logger,
        orphanGrace: Duration = .seconds(300), metrics: ServerMetrics = ServerMetrics()
    ) {
        self.metrics = metrics
        self.store = store
        self.config = config
        self.capacity = capacity
        self.executable = executable
        self.environment = environment
        self.links = links
        self.running = running
        self.wakeup = wakeup
        self.replies = replies
        self.logger = logger
        self.orphanGrace = orphanGrace
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// How long an idle worker waits before it looks at the queue again unwoken.
    static let idleRecheck: Duration = .seconds(15)

    public func run() async throws {
        await recover()
        guard capacity > 0 else {
            // No workers (a node that only accepts, or a test of the bridge): wait for shutdown.
            try? await gracefulShutdown()
            return
        }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<capacity {
                    group.addTask { await self.work(index) }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
        let left = (try? await store.jobCount(in: .queued)) ?? -1
        logger.notice("workers stopped", metadata: ["queue.left": "\(left)"])
        // Told to stop early (``stop()``, at the signal): still a service of its group until the
        // group stops it — a service that returns first would make the group cancel the others.
        try? await gracefulShutdown()
    }

    /// Claims nothing more and stops every run.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.stop()
        running.stopAll()
    }

    /// One worker: claim, run, repeat; wait for a signal when the queue has nothing for it.
    func work(_ index: Int) async {
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(index)"
        while !isStopping {
            let generation = wakeup.generation
            let claimed: Job?
            do {
                claimed = try await store.claimNextJob { RunID.make(recipe: $0.recipe) }
            } catch {
                logger.error("cannot claim a job", metadata: ["error.message": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
                continue
            }
            guard let job = claimed else {
                // Woken by this node's intake and runs, by another node's through the store; and
                // looking again now and then whatever wakes it, should a notification be lost.
                await wakeup.wait(since: generation, atMost: Self.idleRecheck)
                continue
            }
            await execute(job, logger: logger)
            // The job's pull request may have another job waiting for this one to end.
            wakeup.signal()
        }
    }

    /// Runs one claimed job to its end and records the outcome.
    func execute(_ job: Job, logger: Logger) async {
        var logger = logger
        logger[metadataKey: "job.id"] = "\(job.number)"
        logger[metadataKey: "recipe"] = "\(job.recipe)"
        logger[metadataKey: "pr"] = "\(job.pr)"
        guard let runID = job.runID else { return }
        logger[metadataKey: "run.id"] = "\(runID)"
        let launcher = RunLauncher(
            executable: executable, environment: environment, runsDirectory: config.runsDirectory)
        let request = RunRequest(
            recipe: job.recipe, ref: job.headSHA, pr: job.pr, stages: job.stages, quick: job.quick, runID: runID)
        let log = launcher.log(of: runID)
        let links = self.links
        guard !isStopping else {
            // Claimed as the server began to stop: back to the queue, not an attempt.
            try? await record(job.number) { job, _ in
                job.state = .queued
                job.startedAt = nil
                job.runID = nil
            }
            return
        }
        let process: LaunchedRun
        do {
            try await record(job.number) { job, queue in
                try queue.add(
                    .status(
                        CommitStatus.State.pending.rawValue,
                        description: "running" + (job.attempt > 1 ? " (attempt \(job.attempt))" : ""),
                        targetURL: links.job(job.number), sha: job.headSHA, issue: job.pr, in: job.repository,
                        job: job.id))
            }
            process = try await launcher.start(request)
        } catch {
            logger.error("cannot start the run", metadata: ["error.message": "\(error)"])
            await end(
                job.number,
                outcome: JobOutcome(state: .failed, exitCode: 127, results: nil, note: "\(error)"), logger: logger)
            return
        }
        logger.info("run started", metadata: ["run.pid": "\(process.pid)", "git.head": "\(job.headSHA)"])
        try? await record(job.number) { job, _ in
            job.pid = process.pid
            job.processStart = Int64(process.startTime)
        }
        running.register(job.number, process)
        // A quick run records its verdict before it gives the canonical back: the reply goes then.
        let verdictWatch = job.quick ? Task { await self.replyOnVerdict(job, runID: runID, launcher: launcher) } : nil
        let status = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.signal(SIGTERM)
        }
        verdictWatch?.cancel()
        running.unregister(job.number)
        let results = launcher.results(of: runID)
        if let results { metrics.runFinished(results) }
        let current = (try? await store.job(job.number)) ?? job
        var outcome = JobOutcome.of(exitCode: status, results: results, lastError: Self.lastError(in: log))
        if current.cancelReason != nil, status >= 128 {
            // Stopped by a push or an operator (a run that finished first keeps its verdict).
            outcome = JobOutcome(state: .cancelled, exitCode: status, results: results, note: current.cancelReason)
        } else if isStopping, status == 143 || status == 128 + SIGKILL {
            logger.notice("run stopped by the server's shutdown", metadata: ["run.exit": "\(status)"])
            try? await record(job.number) { job, queue in
                try JobPolicy.interrupt(&job, reason: "the server was stopped while it ran", in: queue, links: links)
            }
            replies.signal()
            return
        }
        logger.info(
            "run finished",
            metadata: [
                "run.exit": "\(status)", "job.state": "\(outcome.state.rawValue)",
                "run.level": "\(results.map { "\($0.level)" } ?? "none")",
            ])
        await end(job.number, outcome: outcome, logger: logger)
    }

    /// Waits for the run's recorded verdict (its results with the give-back pending) and replies
    /// with it; the job's end edits the reply again.
    func replyOnVerdict(_ job: Job, runID: String, launcher: RunLauncher) async {
        let links = self.links
        while !Task.isCancelled {
            if let results = launcher.results(of: runID), results.giveBack?.state == .pending {
                try? await record(job.number) { job, queue in
                    try JobPolicy.verdict(job, results: results, in: queue, links: links)
                }
                replies.signal()
                return
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Records a job's end and its replies.
    func end(_ id: Int64, outcome: JobOutcome, logger: Logger) async {
        let links = self.links
        do {
            try await record(id) { job, queue in try JobPolicy.end(&job, outcome: outcome, in: queue, links: links) }
        } catch {
            logger.error("cannot record the job's end", metadata: ["error.message": "\(error)"])
        }
        replies.signal()
    }

    /// Changes a job in one transaction.
    func record(
        _ id: Int64, _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws {
        try await store.updateJob(id, change)
    }

    /// The last `error:` line `ccci run` printed to its log (what an exit 2 was about).
    static func lastError(in log: URL) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: log) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65536 ? size - 65536 : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").last { $0.hasPrefix("error:") }.map {
            String($0.dropFirst("error:".count).trimmingCharacters(in: .whitespaces).prefix(300))
        }
    }
}
