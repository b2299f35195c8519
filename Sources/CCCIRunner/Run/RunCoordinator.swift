import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISystem
import Foundation

/// One run of one recipe on this node (SPEC F-RUN) — the table of contents of a run. Each step is
/// a small value in the folder its name suggests, and returns what it did; the verdict is built
/// from those returns (``RunVerdict``), never written by one step for another.
///
///  1. open the run directory and its log (`RunJournal`), and register the run (`RunRegistration`)
///     so the janitor can finish it should this process be killed;
///  2. the work, racing a stop (a signal, the deadline — `RunLifetime`), which cancels it:
///     - `Preparation`: read the code under test and its customization; nothing is deployed,
///       a problem here is a usage or configuration error (exit 2) — as is one the lane's
///       ``RunLane/check(_:)`` finds;
///     - `LintTier`: the code under test against the lint rules, before any deploy;
///     - `Janitor`: reap what dead runs left;
///     - the lane the command picked (``RunLane``): ``ColdLane`` — `RunAdmission`, then
///       `DependencySetup` and the wiring of what the dependencies offer, then `HeadPath`
///       (install → `ScreenshotTier` → `BackupAndRestore` → `CustomTier`) beside `UpgradePath`
///       — or the quick lane on the warm canonical (`CCCIWarm`'s `QuickRunLane`);
///  3. `Teardown`: the evidence of a failure, then every locked app removed and verified;
///  4. `RunVerdict`: outcome and level; the epilogue the command picked (``RunEpilogue``: the warm
///     canonical's promotion); `RunRecord`: results.json, junit.xml, the store;
///  5. what the lane borrowed (the quick lane's canonical) goes back — after the verdict is
///     recorded, still under the warm lock — and the give-back's outcome is recorded on the run.
public final class RunCoordinator: Sendable {
    public let options: RunOptions
    public let config: NodeConfig
    public let driver: any AppDriver
    public let reporter: Reporter
    public let store: (any RunHistory)?
    public let lifetime: RunLifetime?
    public let runner: ProcessRunner
    /// Every secret value the run generates or is given, for redaction everywhere it writes.
    public let secrets: SecretRegistry
    /// How the tiers are proven: on fresh apps, or on the warm canonical.
    public let lane: any RunLane
    /// What runs after the verdict (the warm canonical's promotion).
    public let epilogue: (any RunEpilogue)?
    /// Told the verdict of a run that still has something to give back (a quick run), as soon as
    /// it is recorded: an engine's step replies to the pull request then.
    public let onVerdict: (@Sendable (RunResults) async -> Void)?
    public let runID: String
    /// The run's log when the caller opened it first (to log library lines into it).
    let openedJournal: RunJournal?
    let startDate = Date()
    let startInstant = ContinuousClock.now

    public init(
        options: RunOptions, config: NodeConfig, driver: any AppDriver, reporter: Reporter,
        store: (any RunHistory)?, lifetime: RunLifetime?, runner: ProcessRunner = ProcessRunner(),
        secrets: SecretRegistry = SecretRegistry(), journal: RunJournal? = nil, lane: any RunLane = ColdLane(),
        epilogue: (any RunEpilogue)? = nil, onVerdict: (@Sendable (RunResults) async -> Void)? = nil
    ) {
        self.onVerdict = onVerdict
        self.options = options
        self.config = config
        self.driver = driver
        self.reporter = reporter
        self.store = store
        self.lifetime = lifetime
        self.runner = runner
        self.secrets = secrets
        self.lane = lane
        self.epilogue = epilogue
        openedJournal = journal
        // `ccci serve` names the run up front (`--run-id`) so that it can link to it while it runs.
        runID = options.runID ?? RunID.make(recipe: options.recipe, at: startDate)
    }

    /// The run's directory (logs, results).
    public var runDirectory: URL { config.runsDirectory.appendingPathComponent(runID) }
    /// The run's workspace (its own recipe clones), removed when the run ends.
    public var workspace: URL { config.workspacesDirectory.appendingPathComponent(runID) }

    /// How a run ended.
    public struct Report: Sendable {
        public let outcome: RunOutcome
        /// `nil` when the run never got past its setup (usage or configuration errors).
        public let results: RunResults?
        public let runDirectory: URL
        /// Setup problems, printed by the command.
        public let setupError: String?
    }

    /// What the work got done — all of it, or as far as it got before a stop.
    struct Progress: Sendable {
        var prepared: PreparedRun?
        var setupError: String?
        var lint: PathResult?
        var lane = LaneWork()
        /// Every path's tiers: lint's and the lane's.
        var paths: [PathResult] { (lint.map { [$0] } ?? []) + lane.paths }
    }

    // MARK: - The run

    /// Runs everything and returns how it ended. Never throws: every failure is a verdict.
    public func run() async -> Report {
        let journal: RunJournal
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
            journal = try openedJournal ?? RunJournal(directory: runDirectory, redactor: secrets)
        } catch {
            return Report(
                outcome: .error, results: nil, runDirectory: runDirectory,
                setupError: "cannot create \(runDirectory.path): \(error)")
        }
        let context = context(journal: journal)
        let registration = register()
        defer { registration?.finish() }

        let (progress, stop) = await RunLifetime.race(lifetime, startedAt: startInstant, from: Progress()) {
            await self.work(context, registration: registration)
        }
        lifetime?.beginTeardown()

        guard let prepared = progress.prepared else {
            // Nothing was deployed: a usage or configuration error, or a stop during setup.
            let message =
                stop.map { "stopped during setup (\($0.description))" } ?? progress.setupError ?? "setup failed"
            journal.line("setup failed: \(message)")
            journal.close()
            cleanWorkspace()
            return Report(
                outcome: stop.map { $0.outcome } ?? .error, results: nil, runDirectory: runDirectory,
                setupError: message)
        }
        if let stop { await context.say("stopping: \(stop.description) — tearing down") }

        var concluded: [Tier: TierResult] = [:]
        for path in progress.paths { concluded.merge(path.tiers) { _, new in new } }
        let failed = options.stages.contains { concluded[$0]?.status == .fail || concluded[$0]?.status == .flaky }
        let teardown = Teardown(context: context)
        let serviceLogs = failed || stop != nil ? await teardown.collectDiagnostics(of: progress.lane.locked) : []
        let keep = options.keepOnFailure && failed && stop == nil
        let removal = await teardown.run(progress.lane.locked, keep: keep)
        let borrowed = progress.lane.borrowedAnything

        let decision = RunVerdict.decide(
            concluded: concluded, requested: options.stages, stop: stop.map { RunVerdict.Stop($0) },
            residueClean: removal.clean, declaredNA: prepared.meta.naReasons, naSource: prepared.meta.naSource,
            customTestsExecuted: progress.paths.map(\.customTestsExecuted).reduce(0, +), setback: progress.lane.setback)
        // After a stop the run only ends: nothing more is deployed.
        let promotion =
            stop == nil
            ? await epilogue(prepared, context: context, decision: decision, residueClean: removal.clean) : nil
        var results = await record(
            prepared, decision: decision,
            flags: (keep ? ["keep-on-failure"] : []) + (removal.clean ? [] : ["residue"])
                + progress.paths.flatMap(\.flags),
            serviceLogs: serviceLogs, baseVersion: progress.lane.baseVersion, retryApps: progress.lane.retryApps)
        results.promotion = promotion
        results.resources = progress.lane.resources
        let recorder = RunRecord(context: context, store: store)
        if borrowed {
            // The verdict is about the head and is decided: it is recorded before the canonical
            // goes back (a slow give-back delays no one), then the give-back's outcome after it.
            // A stopped run has no verdict to tell first: it says so once, at its end.
            results.giveBack = GiveBack(state: .pending)
            if stop == nil {
                await recorder.write(results)
                await reporter.summary(results, runDirectory: runDirectory)
                await onVerdict?(results)
            }
            journal.line(
                "verdict recorded (\(results.outcome.rawValue), level \(results.level)); giving the canonical back")
            let started = ContinuousClock.now
            let problem = await lane.giveBack(
                progress.lane, LaneRun(context: context, prepared: prepared, sink: { _, _ in }))
            let seconds = (ContinuousClock.now - started).seconds
            results.giveBack = GiveBack(
                state: problem == nil ? .ok : .failed, reason: problem, durationSeconds: seconds)
            if problem != nil { results.flags = (results.flags + ["canonical-not-given-back"]).sorted() }
            await recorder.write(results)
            let line =
                problem.map { "quick: \($0)" }
                ?? "quick: the canonical was given back in \(String(format: "%.1f", seconds))s"
            journal.line(line)
            await reporter.print([line])
            if stop != nil { await reporter.summary(results, runDirectory: runDirectory) }
        } else {
            await recorder.write(results)
            await reporter.summary(results, runDirectory: runDirectory)
        }
        cleanWorkspace()
        journal.close()
        recorder.scrubSecrets(dependencies: progress.lane.dependencies, depsFile: prepared.stateFiles.deps)
        await recorder.keepFiles()
        return Report(outcome: results.outcome, results: results, runDirectory: runDirectory, setupError: nil)
    }

    /// The run's work. It returns what it got done when it is cancelled, as when it is not.
    func work(_ context: RunContext, registration: RunRegistration?) async -> Progress {
        var progress = Progress()
        let prepared: PreparedRun
        do {
            prepared = try await Preparation(context: context).prepare()
        } catch {
            progress.setupError = (error as? RunSetupError)?.description ?? String(describing: error)
            return progress
        }
        let sink: VerdictSink = { tier, verdict in registration?.update { $0.tiers[tier.rawValue] = verdict } }
        let run = LaneRun(context: context, prepared: prepared, sink: sink)
        do {
            // Before anything is locked: what the lane lacks is a usage error (exit 2).
            try await lane.check(run)
        } catch {
            progress.setupError = error.description
            return progress
        }
        progress.prepared = prepared
        registration?.prepared(prepared, stages: options.stages)
        if options.stages.contains(.lint), !Task.isCancelled {
            // Before anything is deployed: it needs no swarm, no slot and no lock.
            let lint = await LintTier(context: context, prepared: prepared).run()
            await sink(.lint, lint)
            progress.lint = PathResult(tiers: [.lint: lint])
        }
        await janitorAtStart(context, naming: prepared.naming)
        progress.lane = await lane.work(run)
        return progress
    }

    // MARK: - Around the work

    /// What every step of this run works with, writing to `journal`.
    func context(journal: RunJournal) -> RunContext {
        RunContext(
            options: options, config: config, runID: runID, runDirectory: runDirectory, workspace: workspace,
            driver: driver, git: Git(runner: runner), runner: runner, journal: journal, reporter: reporter,
            secrets: secrets)
    }

    /// Registers the run for the janitor; every process it starts carries its id.
    func register() -> RunRegistration? {
        setenv(RunRegistration.environmentKey, runID, 1)
        let registration = try? RunRegistration(
            config: config,
            record: .init(
                runID: runID, pid: getpid(), startedAt: startDate, runDirectory: runDirectory.path,
                workspace: workspace.path, recipe: GitCredentials.masked(options.recipe), ref: options.ref,
                pr: options.pr > 0 ? options.pr : nil, stages: options.stages))
        if let registration { ChildProcessGroups.shared.observe { registration.children($0) } }
        return registration
    }

    /// The janitor at every run start: reaps the apps of dead runs, says so.
    func janitorAtStart(_ context: RunContext, naming: AppNaming) async {
        let report = await Janitor(config: config, naming: naming, driver: driver, store: store).sweep()
        for line in report.lines { context.journal.line(line) }
        let notable = report.lines.filter { !$0.contains("belongs to a live run") }
        if !notable.isEmpty { await reporter.print(notable) }
    }

    /// Removes the run's workspace (its recipe clones); the run directory stays.
    func cleanWorkspace() {
        try? FileManager.default.removeItem(at: workspace)
    }
}
