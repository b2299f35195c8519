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
///       a problem here is a usage or configuration error (exit 2);
///     - `LintTier`: the code under test against the lint rules, before any deploy;
///     - `Janitor`: reap what dead runs left;
///     - `RunAdmission`: a run slot, then the locks of every app the run will create;
///     - `DependencySetup`: the recipes this one depends on, deployed first;
///     - `HeadPath` (install → `ScreenshotTier` → `BackupAndRestore` → `CustomTier`) and
///       `UpgradePath`, together;
///  3. `Teardown`: the evidence of a failure, then every locked app removed and verified;
///  4. `RunVerdict`: outcome and level; `RunRecord`: results.json, junit.xml, the store.
public final class RunCoordinator: Sendable {
    public let options: RunOptions
    public let config: NodeConfig
    public let driver: any AppDriver
    public let reporter: Reporter
    public let store: (any NodeStore)?
    public let lifetime: RunLifetime?
    public let runner: ProcessRunner
    /// Every secret value the run generates or is given, for redaction everywhere it writes.
    public let secrets: SecretRegistry
    /// What runs after the verdict (the warm canonical's promotion).
    public let epilogue: (any RunEpilogue)?
    public let runID: String
    /// The run's log when the caller opened it first (to log library lines into it).
    let openedJournal: RunJournal?
    let startDate = Date()
    let startInstant = ContinuousClock.now

    public init(
        options: RunOptions, config: NodeConfig, driver: any AppDriver, reporter: Reporter,
        store: (any NodeStore)?, lifetime: RunLifetime?, runner: ProcessRunner = ProcessRunner(),
        secrets: SecretRegistry = SecretRegistry(), journal: RunJournal? = nil, epilogue: (any RunEpilogue)? = nil
    ) {
        self.options = options
        self.config = config
        self.driver = driver
        self.reporter = reporter
        self.store = store
        self.lifetime = lifetime
        self.runner = runner
        self.secrets = secrets
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
        var locked: [LockedDomain] = []
        var dependencies: [String: DependencyInfo] = [:]
        var paths: [PathResult] = []
        /// Why the tiers could not run once the dependencies were up.
        var setback: RunVerdict.Setback?
        /// The quick lane's canonical, and what it took from it (to give back).
        var canonical: CanonicalRecord?
        var borrowed: QuickLane.Borrowed?
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

        let (progress, stop) = await raceStop { await self.work(context, registration: registration) }
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
        let failed = options.stages.contains { concluded[$0]?.status == .fail }
        let teardown = Teardown(context: context)
        let serviceLogs = failed || stop != nil ? await teardown.collectDiagnostics(of: progress.locked) : []
        let keep = options.keepOnFailure && failed && stop == nil
        // The quick lane's canonical goes back before anything else is torn down.
        var givenBack = true
        if let borrowed = progress.borrowed {
            let steps = TierSteps(context: context, prepared: prepared, dependencies: [:])
            if let problem = await QuickLane.giveBack(borrowed, steps: steps) {
                givenBack = false
                do {
                    guard let store = store else { throw BorrowMark.StoreUnavailable() }
                    try await store.markCanonical(prepared.recipe, status: "broken")
                    try? FileManager.default.removeItem(at: BorrowMark.path(recipe: prepared.recipe, config: config))
                    await reporter.print([
                        "quick: \(problem) — the canonical is marked broken; the next sweep re-seeds it"
                    ])
                } catch {
                    // The borrow mark stays: the next holder of the warm lock marks it.
                    await reporter.print(["quick: \(problem) — and its record cannot be marked broken (\(error))"])
                }
            }
        }
        let removal = await teardown.run(progress.locked, keep: keep)

        let decision = RunVerdict.decide(
            concluded: concluded, requested: options.stages, stop: stop.map { RunVerdict.Stop($0) },
            residueClean: removal.clean && givenBack, declaredNA: prepared.meta.naTiers,
            customTestsExecuted: progress.paths.map(\.customTestsExecuted).reduce(0, +), setback: progress.setback)
        // After a stop the run only ends: nothing more is deployed.
        let promotion =
            stop == nil
            ? await epilogue(prepared, context: context, decision: decision, residueClean: removal.clean) : nil
        var results = await record(
            prepared, decision: decision,
            flags: (keep ? ["keep-on-failure"] : []) + (removal.clean ? [] : ["residue"])
                + (givenBack ? [] : ["canonical-not-given-back"]),
            serviceLogs: serviceLogs, canonicalVersion: progress.canonical?.version)
        results.promotion = promotion
        let recorder = RunRecord(context: context, store: store)
        await recorder.write(results)
        await reporter.summary(results, runDirectory: runDirectory)
        cleanWorkspace()
        journal.close()
        recorder.scrubSecrets(dependencies: progress.dependencies, depsFile: prepared.stateFiles.deps)
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
        if options.quick {
            // Before anything is locked: no canonical is a usage error (exit 2).
            switch await quickCanonical(prepared) {
            case .success(let record): progress.canonical = record
            case .failure(let error):
                progress.setupError = error.description
                return progress
            }
        }
        progress.prepared = prepared
        registration?.prepared(prepared, stages: options.stages)
        let sink: VerdictSink = { tier, verdict in registration?.update { $0.tiers[tier.rawValue] = verdict } }
        if options.stages.contains(.lint), !Task.isCancelled {
            // Before anything is deployed: it needs no swarm, no slot and no lock.
            let lint = await LintTier(context: context, prepared: prepared).run()
            await sink(.lint, lint)
            progress.paths.append(PathResult(tiers: [.lint: lint]))
        }
        await janitorAtStart(context, naming: prepared.naming)
        if let canonical = progress.canonical {
            return await quick(prepared, canonical: canonical, context: context, sink: sink, progress: progress)
        }
        do {
            progress.locked = try await RunAdmission(context: context).admit(
                RunAdmission.domains(of: prepared, stages: options.stages))
        } catch let error as AdmissionError {
            // No app can be created: every tier asked for fails for that reason.
            context.journal.line(error.message)
            var refused = PathResult()
            for tier in options.stages where tier != .lint {
                refused.tiers[tier] = TierResult(status: .fail, durationSeconds: 0, reason: error.message)
            }
            progress.paths.append(refused)
            return progress
        } catch {
            context.journal.line("stopped while waiting to be admitted: \(error)")
            return progress
        }
        progress.dependencies = await DependencySetup(context: context, prepared: prepared).deploy()
        if Task.isCancelled { return progress }
        let wiring: DependencyWiring
        switch await wire(prepared, dependencies: progress.dependencies) {
        case .success(let resolved):
            wiring = resolved
        case .failure(let setback):
            // Nothing of the recipe itself is deployed: its tiers say why (a hook's words may hold
            // a secret it was given).
            let reason = secrets.redact(setback.reason)
            context.journal.line(reason)
            await reporter.print([reason])
            var skipped = PathResult()
            for tier in options.stages where tier != .lint {
                skipped.tiers[tier] = TierResult(status: .skip, durationSeconds: 0, reason: reason)
                await sink(tier, skipped.tiers[tier]!)
            }
            progress.paths.append(skipped)
            progress.setback = setback.kind
            return progress
        }
        let steps = TierSteps(
            context: context, prepared: prepared, dependencies: progress.dependencies, wiring: wiring)
        let head = HeadPath(steps: steps, sink: sink)
        let upgrade: @Sendable () async -> PathResult = {
            guard self.options.stages.contains(.upgrade) else { return PathResult() }
            let verdict = await UpgradePath(steps: steps).run()
            await sink(.upgrade, verdict)
            return PathResult(tiers: [.upgrade: verdict])
        }
        if options.serial {
            progress.paths += [await head.run(), await upgrade()]
        } else {
            async let headResult = head.run()
            async let upgradeResult = upgrade()
            progress.paths += [await headResult, await upgradeResult]
        }
        return progress
    }

    /// The canonical a quick run works on, or why there is none to work on.
    func quickCanonical(_ prepared: PreparedRun) async -> Result<CanonicalRecord, RunSetupError> {
        let recipe = prepared.recipe
        let seed = "run a cold run of a release (`ccci run \(recipe) --ref <tag>`) or the sweep first"
        guard prepared.meta.warmCanonical else {
            return .failure(
                .recipe("--quick: \(recipe) is not enrolled for a warm canonical (`warm_canonical = true` in its pack)")
            )
        }
        guard prepared.meta.dependencies.isEmpty else {
            return .failure(.recipe("--quick: \(recipe) has dependencies, which warm canonicals do not support yet"))
        }
        guard let store = store else {
            return .failure(.recipe("--quick: the results store, which holds the canonicals, cannot be opened"))
        }
        let record: CanonicalRecord?
        do {
            record = try await store.canonical(recipe)
        } catch {
            return .failure(.recipe("--quick: \(error)"))
        }
        guard let record else { return .failure(.recipe("--quick: \(recipe) has no warm canonical — \(seed)")) }
        guard record.status == "healthy" else {
            return .failure(
                .recipe("--quick: the canonical of \(recipe) (\(record.version)) is \(record.status) — \(seed)"))
        }
        return .success(record)
    }

    /// The quick lane's work: a run slot and the warm app's lock, then ``QuickLane``.
    func quick(
        _ prepared: PreparedRun, canonical: CanonicalRecord, context: RunContext, sink: @escaping VerdictSink,
        progress: Progress
    ) async -> Progress {
        var progress = progress
        let warm = prepared.naming.warmAppDomain(recipe: prepared.recipe)
        do {
            _ = try await RunAdmission(context: context).admit([])
            try await AppLocks.acquire(domain: warm, in: config.lockDirectory) {
                await context.say("waiting for \(warm) (a promotion or another quick run has it)")
            }
            if let settled = await BorrowMark.settle(
                recipe: prepared.recipe, config: config, store: store)
            {
                throw QuickLaneError(settled)
            }
            // The canonical may have moved while this run waited for its lock.
            guard let current = try await (store)?.canonical(prepared.recipe), current == canonical
            else {
                throw QuickLaneError("the canonical of \(prepared.recipe) changed while this run waited — run it again")
            }
        } catch {
            var refused = PathResult()
            for tier in options.stages where tier != .lint {
                refused.tiers[tier] = TierResult(status: .fail, durationSeconds: 0, reason: "\(error)")
            }
            progress.paths.append(refused)
            return progress
        }
        let steps = TierSteps(context: context, prepared: prepared, dependencies: [:])
        let (path, borrowed) = await QuickLane(steps: steps, sink: sink, canonical: canonical).run()
        progress.paths.append(path)
        progress.borrowed = borrowed
        return progress
    }

    /// A reason the recipe cannot be tested once its dependencies are up.
    struct SetbackError: Error {
        let kind: RunVerdict.Setback
        let reason: String
    }

    /// Every dependency ready, and the facts they offer filled into the env and secrets; or why not.
    func wire(
        _ prepared: PreparedRun, dependencies: [String: DependencyInfo]
    ) async -> Result<DependencyWiring, SetbackError> {
        for name in prepared.meta.dependencies where dependencies[name]?.ready != true {
            return .failure(
                SetbackError(
                    kind: .dependencyFailed,
                    reason: "dependency \(name) failed: \(dependencies[name]?.reason ?? "it was not deployed")"))
        }
        do {
            let wiring = try DependencyWiring.resolve(prepared.meta, facts: dependencies)
            await prepared.inputs.record(wiring.inputs)
            return .success(wiring)
        } catch {
            return .failure(SetbackError(kind: .configuration, reason: "configuration: \(error.description)"))
        }
    }

    /// Runs `work`, cancelling it when a stop comes (a signal, the deadline); returns what it got
    /// done and the stop, if there was one.
    func raceStop(
        _ work: @escaping @Sendable () async -> Progress
    ) async -> (Progress, RunLifetime.StopReason?) {
        let progress = Locked(Progress())
        let stop = await withTaskGroup(of: RunLifetime.StopReason?.self) { group in
            group.addTask {
                let done = await work()
                progress.withLock { $0 = done }
                return nil
            }
            if let lifetime {
                let start = startInstant
                group.addTask {
                    guard let reason = try? await lifetime.waitForStop(startedAt: start) else { return nil }
                    // The children first (docker, git, tests): they end now, not when the work
                    // notices the cancellation.
                    ChildProcessGroups.shared.terminateAll()
                    return reason
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            for await _ in group {}
            return first
        }
        return (progress.value, stop)
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

    /// The results document of a run that got past its setup.
    func record(
        _ prepared: PreparedRun, decision: RunVerdict.Decision, flags: [String], serviceLogs: [String],
        canonicalVersion: String? = nil
    ) async -> RunResults {
        var tierLogs: [String: String] = [:]
        for (tier, result) in decision.tiers { if let log = result.log { tierLogs[tier.rawValue] = log } }
        var manifest = prepared.manifest
        manifest.inputs = await prepared.inputs.sources
        return RunResults(
            runID: runID, recipe: prepared.recipe, ref: options.ref, pr: options.pr > 0 ? options.pr : nil,
            headCommit: prepared.head.commit, headVersion: prepared.head.version?.raw,
            baseVersion: options.quick ? canonicalVersion : prepared.upgradeBase?.version.raw, driver: driver.name,
            mode: options.quick ? "quick" : "cold",
            appDomain: options.quick
                ? prepared.naming.warmAppDomain(recipe: prepared.recipe).name : prepared.headDomain.name,
            upgradeAppDomain: !options.quick && options.stages.contains(.upgrade) ? prepared.upgradeDomain.name : nil,
            startedAt: startDate, finishedAt: Date(), outcome: decision.outcome, exitCode: decision.outcome.exitCode,
            tiers: Dictionary(uniqueKeysWithValues: decision.tiers.map { ($0.key.rawValue, $0.value) }),
            ladder: decision.ladder, deployCount: await prepared.deployGuard.total, manifest: manifest,
            flags: flags.sorted(),
            artifacts: Artifacts(
                runDirectory: runDirectory.path, tierLogs: tierLogs, serviceLogs: serviceLogs,
                screenshot: FileManager.default.fileExists(
                    atPath: runDirectory.appendingPathComponent(ScreenshotTier.fileName).path)
                    ? ScreenshotTier.fileName : nil),
            ccciVersion: CCCIVersion.current)
    }

    /// Removes the run's workspace (its recipe clones); the run directory stays.
    func cleanWorkspace() {
        try? FileManager.default.removeItem(at: workspace)
    }
}

extension RunVerdict.Stop {
    init(_ reason: RunLifetime.StopReason) {
        self.init(outcome: reason.outcome, description: reason.description)
    }
}
