import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISwarm
import CCCISystem
import Foundation
import Logging

/// One run of one recipe on this node (SPEC F-RUN): at most two apps, each deployed fresh exactly
/// once — the *head app* (install, backup, restore, custom) and the *upgrade app* (the previous
/// release, upgraded in place to the head) — on two independent paths that run concurrently, then
/// the teardown funnel, then the results.
///
/// The order of a run: read the code under test and its customization (a problem here is a usage
/// error: nothing is deployed) → janitor → take the app-domain locks → dependencies → the two
/// paths → collect diagnostics of failures → tear everything down and verify no residue → write
/// results, JUnit and the store. A stop (signal, deadline) cancels the paths; teardown still runs.
public final class RunCoordinator: Sendable {
    public let options: RunOptions
    public let config: NodeConfig
    public let engine: DockerEngine
    public let logger: Logger
    public let reporter: Reporter
    public let store: (any ResultStore)?
    public let lifetime: RunLifetime?
    let runner: ProcessRunner
    let git: Git
    let driver: NativeDriver
    let clock = ContinuousClock()
    let startInstant: ContinuousClock.Instant
    let startDate = Date()
    public let runID: String

    public init(
        options: RunOptions, config: NodeConfig, engine: DockerEngine, logger: Logger, reporter: Reporter,
        store: (any ResultStore)?, lifetime: RunLifetime?, runner: ProcessRunner = ProcessRunner()
    ) {
        self.options = options
        self.config = config
        self.engine = engine
        self.logger = logger
        self.reporter = reporter
        self.store = store
        self.lifetime = lifetime
        self.runner = runner
        self.git = Git(runner: runner)
        self.driver = NativeDriver(config: config, engine: engine, runner: runner, logger: logger)
        startInstant = clock.now
        let stamp = ISO8601DateFormatter.string(
            from: startDate, timeZone: TimeZone(identifier: "UTC")!,
            formatOptions: [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        )
        .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        let recipeLabel = AppNaming.dnsLabel(
            URL(fileURLWithPath: options.recipe).lastPathComponent.replacingOccurrences(of: ".git", with: ""))
        runID =
            "\(stamp)-\(recipeLabel.isEmpty ? "recipe" : recipeLabel)-\(SecretGenerator.value(length: 6).lowercased())"
    }

    /// The run's directory (logs, results).
    public var runDirectory: URL { config.runsDirectory.appendingPathComponent(runID) }
    /// The run's workspace (its own recipe clones and generated files).
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

    // MARK: - The run

    /// Runs everything and returns how it ended. Never throws: every failure is a verdict.
    public func run() async -> Report {
        let journal: RunJournal
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
            journal = try RunJournal(directory: runDirectory)
        } catch {
            return Report(
                outcome: .error, results: nil, runDirectory: runDirectory,
                setupError: "cannot create \(runDirectory.path): \(error)")
        }
        let prepared: PreparedRun
        do {
            prepared = try await prepare(journal: journal)
        } catch {
            let message = (error as? RunSetupError)?.description ?? String(describing: error)
            await journal.line("setup failed: \(message)")
            await journal.close()
            cleanWorkspace()
            return Report(outcome: .error, results: nil, runDirectory: runDirectory, setupError: message)
        }
        let state = RunState()
        let stop = await runWork(prepared, state: state)
        lifetime?.beginTeardown()
        if let stop {
            await journal.line("== stopping: \(stop.description) — tearing down ==")
            await reporter.print(["", "stopping: \(stop.description) — tearing down"])
            ChildProcessGroups.shared.terminateAll()
        }
        let results = await finish(prepared, state: state, stop: stop)
        await journal.close()
        return Report(
            outcome: RunOutcome(rawValue: results.outcome) ?? .fail, results: results, runDirectory: runDirectory,
            setupError: nil)
    }

    /// Runs the dependencies and both paths; returns the stop reason when a signal or the
    /// deadline cut them short.
    func runWork(_ prepared: PreparedRun, state: RunState) async -> RunLifetime.StopReason? {
        await withTaskGroup(of: RunLifetime.StopReason?.self) { group in
            group.addTask {
                guard await self.takeSlot(prepared, state: state) else { return nil }
                await self.janitorAtStart(prepared)
                guard await self.lockAll(prepared, state: state) else { return nil }
                await self.deployDependencies(prepared, state: state)
                if self.options.serial {
                    await self.headPath(prepared, state: state)
                    await self.upgradePath(prepared, state: state)
                } else {
                    await withTaskGroup(of: Void.self) { paths in
                        paths.addTask { await self.headPath(prepared, state: state) }
                        paths.addTask { await self.upgradePath(prepared, state: state) }
                    }
                }
                return nil
            }
            if let lifetime {
                group.addTask { try? await lifetime.waitForStop(startedAt: self.startInstant) }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            for await _ in group {}
            return first
        }
    }

    // MARK: - Preparation

    /// Everything read before anything is deployed.
    struct PreparedRun: Sendable {
        let journal: RunJournal
        let naming: AppNaming
        let head: RecipeHead
        let recipe: String
        /// The head app's tree (at the head) and the upgrade app's tree.
        let headTree: URL
        let upgradeTree: URL
        let packs: [(name: String, directory: URL)]
        let meta: RecipeMeta
        let tests: [CustomTest]
        let manifest: Manifest
        let headDomain: String
        let upgradeDomain: String
        /// Dependency recipe → the domain its app gets in this run.
        let dependencyDomains: [String: String]
        let stateFiles: RunStateFiles
        let opState: OpState
        let deployGuard: DeployGuard
        let probe: HTTPSProbe
        let deployTimeout: Duration
        let packComposeFiles: [URL]
        let overlays: [String]
        let upgradeBase: ReleaseSet.Release?
        let upgradeBaseReason: String?
    }

    func prepare(journal: RunJournal) async throws -> PreparedRun {
        let naming: AppNaming
        do {
            naming = try config.naming()
        } catch {
            throw RunSetupError.recipe(error.description)
        }
        let source = try RecipeSource.resolve(options.recipe, config: config)
        await journal.line("run \(runID): recipe \(source.name) from \(source.location)")
        let checkout = RecipeCheckout(git: git, source: source)
        let headTree = workspace.appendingPathComponent("head/\(source.name)")
        let upgradeTree = workspace.appendingPathComponent("upgrade/\(source.name)")
        do {
            try await checkout.clone(to: headTree, commit: nil)
        } catch {
            throw RunSetupError.recipe("cannot clone recipe \(source.name) from \(source.location): \(error)")
        }
        let commit = try await checkout.headCommit(ref: options.ref, pr: options.pr, in: headTree)
        try await git.checkout(commit, in: headTree, force: true)
        if let local = source.localPath, options.ref == nil, (try? await git.isDirty(local)) == true {
            await journal.line(
                "note: \(local.path) has uncommitted changes; the run tests its HEAD commit \(commit.prefix(8))")
        }
        let head = try await checkout.readHead(commit: commit, clone: headTree, naming: naming)

        // Customization: the recipe's own pack, then the CI's pack (which overrides it key by key).
        let packs: [(name: String, directory: URL)] = [
            ("recipe", headTree.appendingPathComponent("tests")),
            ("ci", config.packsDirectory.appendingPathComponent(source.name)),
        ]
        let meta: RecipeMeta
        do {
            meta = try MetaLoader.load(packDirectories: packs.map(\.directory))
        } catch {
            throw RunSetupError.meta(error)
        }
        let tests = TestDiscovery.discover(packs: packs)
        let packComposeFiles = packs.map { $0.directory.appendingPathComponent(meta.composeOverlay) }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
        var overlays = packComposeFiles.map { "\($0.path) (pack)" }
        if (config.networkMode.flatMap(NetworkMode.init(rawValue:)) ?? NetworkMode.detect()) == .dnsrr {
            overlays.append(
                "\(NetworkMode.overlayFileName) (generated: no IPVS on this node — endpoint_mode dnsrr, host-mode ports)"
            )
        }
        let manifest = Manifest(
            meta: meta, overlays: overlays, customTests: tests.map(\.displayName), envOverrides: meta.extraEnv)

        let headDomain = naming.runAppDomain(recipe: source.name, pr: options.pr, ref: commit, role: .head)
        let upgradeDomain = naming.runAppDomain(recipe: source.name, pr: options.pr, ref: commit, role: .upgrade)
        // Make sure the recipe can be deployed at all before anything is created.
        do {
            _ = try ResolvedAppEnv.load(
                recipeRoot: headTree, recipe: source.name, domain: headDomain, overrides: meta.extraEnv,
                extraComposeFiles: packComposeFiles)
        } catch {
            throw RunSetupError.recipe("recipe \(source.name) at \(commit.prefix(8)) cannot be deployed: \(error)")
        }

        var upgradeBase: ReleaseSet.Release?
        var upgradeBaseReason: String?
        if let pinned = meta.upgradeBaseVersion {
            guard let release = head.releases.release(pinned) else {
                throw RunSetupError.recipe(
                    "upgrade_base_version \(pinned.raw) is not a release of \(source.name) (releases: "
                        + "\(head.releases.releases.map(\.version.raw).joined(separator: ", ")))")
            }
            upgradeBase = release
        } else {
            upgradeBase = head.releases.upgradeBase(forHead: head.version)
            if upgradeBase == nil {
                upgradeBaseReason =
                    head.releases.releases.isEmpty
                    ? "the recipe has no release (annotated version tag) to upgrade from"
                    : "no release is older than the head \(head.version?.raw ?? "")"
            }
        }

        let stateDirectory = runDirectory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let stateFiles = RunStateFiles(directory: stateDirectory, runID: runID)
        let probe: HTTPSProbe =
            config.ingress == .lab
            ? HTTPSProbe(target: .lab(address: "127.0.0.1", caCertificate: config.labCACertificate))
            : HTTPSProbe(target: .production)
        let prepared = PreparedRun(
            journal: journal, naming: naming, head: head, recipe: source.name, headTree: headTree,
            upgradeTree: upgradeTree, packs: packs, meta: meta, tests: tests, manifest: manifest,
            headDomain: headDomain, upgradeDomain: upgradeDomain,
            dependencyDomains: Dictionary(
                meta.dependencies.map { name in
                    (name, naming.runAppDomain(recipe: name, pr: options.pr, ref: "\(commit)|dep:\(source.name)"))
                }, uniquingKeysWith: { first, _ in first }),
            stateFiles: stateFiles,
            opState: try OpState(file: stateFiles.opState), deployGuard: try DeployGuard(file: stateFiles.deployCount),
            probe: probe, deployTimeout: options.deployTimeout ?? meta.deployTimeout,
            packComposeFiles: packComposeFiles, overlays: overlays, upgradeBase: upgradeBase,
            upgradeBaseReason: upgradeBaseReason)
        try AtomicFile.write("{}\n", to: stateFiles.deps, permissions: 0o600)
        await printHeader(prepared)
        return prepared
    }

    func printHeader(_ prepared: PreparedRun) async {
        let head = prepared.head
        var lines = [
            "cc-ci run \(runID)",
            "  recipe   \(prepared.recipe)  \(head.source.location) @ \(head.commit.prefix(12))\(options.pr > 0 ? " (PR #\(options.pr))" : "")",
            "  head     \(head.version?.raw ?? "unversioned")\(head.isRelease ? " (release)" : " (untagged)")"
                + "   upgrade base \(prepared.upgradeBase?.version.raw ?? "none")",
            "  apps     \(prepared.headDomain) (head)"
                + (options.stages.contains(.upgrade) ? ", \(prepared.upgradeDomain) (upgrade)" : ""),
            "  stages   \(options.stages.map(\.rawValue).joined(separator: ", "))   driver \(driver.name)   deploy timeout \(DurationText.format(prepared.deployTimeout))",
            "  run dir  \(runDirectory.path)",
        ]
        lines += prepared.manifest.renderLines().map { "  " + $0 }
        lines.append("")
        await reporter.print(lines)
        for line in lines { await prepared.journal.line(line) }
    }

    // MARK: - Apps

    /// The apps a run created, for teardown.
    actor RunState {
        var apps: [AppRole: App] = [:]
        var deps: [(name: String, app: App)] = []
        var depsInfo: [String: DependencyInfo] = [:]
        var tiers: [Tier: TierResult] = [:]
        var customExecuted = 0
        var deployRecords: [String: DeployRecord] = [:]
        var flags: Set<String> = []
        var teardownNotes: [String] = []

        func setApp(_ role: AppRole, _ app: App) { apps[role] = app }
        func addDep(_ name: String, _ app: App) { deps.append((name, app)) }
        func setDepInfo(_ name: String, _ info: DependencyInfo) { depsInfo[name] = info }
        func setTier(_ tier: Tier, _ result: TierResult) { tiers[tier] = result }
        func addCustomExecuted(_ count: Int) { customExecuted += count }
        func flag(_ name: String) { flags.insert(name) }
        func note(_ text: String) { teardownNotes.append(text) }
        func record(_ key: String, _ record: DeployRecord) { deployRecords[key] = record }
    }

    /// Takes one of the node's run slots (the capacity knob); waits, visibly, while all are held.
    func takeSlot(_ prepared: PreparedRun, state: RunState) async -> Bool {
        let reporter = self.reporter
        let capacity = config.capacity
        do {
            let slot = try await RunSlots.acquire(capacity: capacity, in: config.lockDirectory) {
                let line = "waiting for a free run slot (this node runs \(capacity) at once: `capacity` in its config)"
                await reporter.print([line])
                await prepared.journal.line(line)
            }
            await prepared.journal.line("run slot \(slot + 1)/\(capacity) taken")
            return true
        } catch {
            let reason =
                error is CancellationError ? "stopped while waiting for a run slot" : "cannot take a run slot: \(error)"
            await prepared.journal.line(reason)
            for tier in options.stages {
                await state.setTier(tier, TierResult(status: .skip, durationSeconds: 0, reason: reason))
            }
            return false
        }
    }

    /// Takes the locks of every app the run will create, before any exists, in one fixed (sorted)
    /// order — so two runs of the same recipe, PR and ref can never each hold one lock the other
    /// waits for. Returns `false` (with the tiers failed) when a lock cannot be taken.
    func lockAll(_ prepared: PreparedRun, state: RunState) async -> Bool {
        var domains = [prepared.headDomain] + prepared.dependencyDomains.values
        if options.stages.contains(.upgrade) && prepared.upgradeBase != nil { domains.append(prepared.upgradeDomain) }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            for domain in Set(domains).sorted() { try await lock(domain, journal: prepared.journal) }
            await reporter.step(role: "run", tier: "", name: "app locks", result: .passed, elapsed: clock.now - start)
            return true
        } catch {
            let reason =
                error is CancellationError
                ? "stopped while waiting for an app lock" : "cannot take an app lock: \(error)"
            await prepared.journal.line(reason)
            for tier in options.stages {
                await state.setTier(
                    tier,
                    TierResult(status: error is CancellationError ? .skip : .fail, durationSeconds: 0, reason: reason))
            }
            return false
        }
    }

    /// Takes the lock of `domain` (before the app exists), telling the user when it must wait.
    func lock(_ domain: String, journal: RunJournal) async throws {
        let reporter = self.reporter
        try await AppLocks.acquire(domain: domain, in: config.lockDirectory) {
            let line = "waiting for another run of \(domain) to finish (its app lock is held)"
            await reporter.print([line])
            await journal.line(line)
        }
        await journal.line("app lock held: \(domain)")
    }

    /// Creates an app, counting it against the deploy guard (each role exactly once per run).
    func createApp(
        role: AppRole, domain: String, tree: URL, prepared: PreparedRun, state: RunState
    ) async throws -> App {
        try await prepared.deployGuard.recordFreshDeploy(role, domain: domain)
        let spec = AppSpec(
            recipe: prepared.recipe, domain: domain, checkout: tree, packComposeFiles: prepared.packComposeFiles,
            extraEnv: prepared.meta.extraEnv, workDirectory: workspace.appendingPathComponent("generated"), runID: runID
        )
        // A crashed run may have left this domain's env file; its lock is ours now, so it is an orphan.
        if FileManager.default.fileExists(atPath: driver.envFile(for: domain).path) {
            let left = try await driver.remove(domain: domain)
            await prepared.journal.line(
                "removed a leftover app at \(domain) before creating it\(left.isEmpty ? "" : " (left: \(left.summary))")"
            )
        }
        let app = try await driver.newApp(spec)
        await state.setApp(role, app)
        return app
    }

    /// The hook context for an op on `app`.
    func context(op: String, app: App, prepared: PreparedRun, state: RunState) async -> HookContext {
        var meta: [String: JSONValue] = [:]
        for key in MetaKey.allCases where key.spec.deprecatedBy == nil {
            meta[key.rawValue] = prepared.meta.value(key).json
        }
        return HookContext(
            recipe: prepared.recipe, domain: app.domain, stack: app.stack, op: op, baseURL: "https://\(app.domain)",
            meta: Redaction.redact(.object(meta)), deps: await state.depsInfo,
            opStateFile: prepared.stateFiles.opState.path,
            depsFile: prepared.stateFiles.deps.path, runID: runID, runDirectory: runDirectory.path,
            caCertificate: prepared.probe.caCertificate?.path, resolve: prepared.probe.curlResolve(for: app.domain),
            headCommit: prepared.head.commit)
    }

    /// Runs a declared hook as a check; a non-zero exit fails it.
    func runHook(
        _ hook: HookReference, name: String, op: String, app: App, prepared: PreparedRun, state: RunState,
        recorder: TierRecorder
    ) async throws {
        let context = await context(op: op, app: app, prepared: prepared, state: state)
        try await recorder.check(name, waitLabel: name) {
            let outcome = try await HookRunner(runner: runner).run(
                URL(fileURLWithPath: hook.path), context: context,
                directory: URL(fileURLWithPath: hook.path).deletingLastPathComponent(), log: recorder.log,
                timeout: prepared.deployTimeout)
            await prepared.journal.line(
                "hook \(hook.declared) exited \(outcome.exitCode) in \(String(format: "%.2f", outcome.durationSeconds))s",
                tier: recorder.tier.rawValue)
            guard outcome.succeeded else {
                throw HookFailure(hook: hook.declared, outcome: outcome)
            }
        }
    }

    /// Waits for convergence (with a live wait on the terminal).
    func converge(_ app: App, prepared: PreparedRun, recorder: TierRecorder, name: String = "converge") async throws {
        try await recorder.check(name, waitLabel: name) {
            _ = try await driver.waitConverged(app, timeout: prepared.deployTimeout, progress: nil)
        }
    }

    /// Health over the ingress, then the ready probe when declared.
    func healthAndReadiness(_ app: App, prepared: PreparedRun, state: RunState, recorder: TierRecorder) async throws {
        let meta = prepared.meta
        try await recorder.check("health", waitLabel: "health") {
            try await HealthChecker(probe: prepared.probe).waitHealthy(
                domain: app.domain, path: meta.healthPath, accepted: meta.healthStatuses,
                timeout: min(prepared.deployTimeout, .seconds(120)))
        }
        switch meta.readyProbe {
        case .http(let path, let status, let contains, let timeout):
            try await recorder.check("ready probe", waitLabel: "ready probe") {
                try await ReadyProbe.waitHTTP(
                    probe: prepared.probe, domain: app.domain, path: path, status: status, contains: contains,
                    timeout: timeout)
            }
        case .hook(let hook):
            let context = await context(op: "ready", app: app, prepared: prepared, state: state)
            try await recorder.check("ready probe", waitLabel: "ready probe") {
                try await ReadyProbe.waitHook(
                    hook: hook, runner: HookRunner(runner: runner), context: context, log: recorder.log,
                    timeout: prepared.deployTimeout)
            }
        case nil:
            break
        }
    }

    /// The label proving which code runs: `coop-cloud.<stack>.chaos-version` == the head's short commit.
    func verifyHeadLabel(_ app: App, prepared: PreparedRun, recorder: TierRecorder) async throws {
        try await recorder.check("head label") {
            let key = "coop-cloud.\(app.stack).chaos-version"
            let expected = String(prepared.head.commit.prefix(8))
            let services = try await engine.services(stack: app.stack)
            guard let service = services.first(where: { $0.name == "\(app.stack)_app" }) ?? services.first else {
                throw LabelMismatch(key: key, expected: expected, found: nil)
            }
            let found = service.labels[key]
            guard found == expected else { throw LabelMismatch(key: key, expected: expected, found: found) }
        }
    }

    // MARK: - Finish

    func finish(_ prepared: PreparedRun, state: RunState, stop: RunLifetime.StopReason?) async -> RunResults {
        let journal = prepared.journal
        // Tiers that never concluded (cut short) are recorded as skipped.
        for tier in Tier.defaultStages where await state.tiers[tier] == nil {
            let reason =
                options.stages.contains(tier)
                ? (stop.map { "not run: the run was stopped (\($0.description))" } ?? "not run")
                : "not requested"
            await state.setTier(tier, TierResult(status: .skip, durationSeconds: 0, reason: reason))
        }
        let tiers = await state.tiers
        let requestedFailed = options.stages.contains { tiers[$0]?.status == .fail }

        // Diagnostics of failures, collected before anything is removed.
        if requestedFailed || stop != nil {
            await collectDiagnostics(prepared, state: state)
        }
        var serviceLogs: [String] = []
        if let entries = try? FileManager.default.contentsOfDirectory(
            atPath: runDirectory.appendingPathComponent("services").path)
        {
            serviceLogs = entries.sorted().map { "services/\($0)" }
        }

        let keep = options.keepOnFailure && requestedFailed && stop == nil
        var residueClean = true
        if keep {
            await state.flag("keep-on-failure")
            let domains = await state.apps.values.map(\.domain) + state.deps.map(\.app.domain)
            await markKept(domains)
            let lines = [
                "", "kept for inspection (--keep-on-failure): \(domains.joined(separator: ", "))",
                "remove with: ccci teardown \(domains.joined(separator: " "))",
            ]
            await reporter.print(lines)
            for line in lines { await journal.line(line) }
        } else {
            residueClean = await teardown(prepared, state: state)
        }
        if !residueClean { await state.flag("residue") }
        await scrubSecrets(prepared, state: state)

        var outcome: RunOutcome
        if let stop {
            outcome = stop.outcome
        } else if requestedFailed || !residueClean {
            outcome = .fail
        } else {
            outcome = .pass
        }
        let flags = await state.flags
        let declaredNA = Set(prepared.meta.naTiers)
        var statuses: [Tier: TierStatus] = [:]
        for (tier, result) in tiers { statuses[tier] = result.status }
        let ladder = LevelLadder.evaluate(
            statuses: statuses, declaredNA: declaredNA, customTestsExecuted: await state.customExecuted)
        var tierLogs: [String: String] = [:]
        for (tier, result) in tiers { if let log = result.log { tierLogs[tier.rawValue] = log } }
        let results = RunResults(
            runID: runID, recipe: prepared.recipe, ref: options.ref, pr: options.pr > 0 ? options.pr : nil,
            headCommit: prepared.head.commit, headVersion: prepared.head.version?.raw,
            baseVersion: prepared.upgradeBase?.version.raw, driver: driver.name, mode: "cold",
            appDomain: prepared.headDomain,
            upgradeAppDomain: options.stages.contains(.upgrade) ? prepared.upgradeDomain : nil, startedAt: startDate,
            finishedAt: Date(), outcome: outcome.rawValue, exitCode: outcome.exitCode,
            tiers: Dictionary(uniqueKeysWithValues: tiers.map { ($0.key.rawValue, $0.value) }), ladder: ladder,
            deployCount: await prepared.deployGuard.total, manifest: prepared.manifest, flags: flags.sorted(),
            artifacts: Artifacts(runDirectory: runDirectory.path, tierLogs: tierLogs, serviceLogs: serviceLogs),
            ccciVersion: CCCIVersion.current)
        do {
            try AtomicFile.write(try results.encoded(), to: runDirectory.appendingPathComponent("results.json"))
            try AtomicFile.write(JUnit.render(results), to: runDirectory.appendingPathComponent("junit.xml"))
        } catch {
            await journal.line("cannot write results: \(error)")
        }
        if let store {
            do {
                try await store.record(results)
            } catch {
                await journal.line("cannot record the run in the store: \(error)")
            }
        }
        await journal.line(
            "run \(runID) finished: \(outcome.rawValue), level \(ladder.level), exit \(outcome.exitCode)")
        await reporter.summary(results, runDirectory: runDirectory)
        cleanWorkspace()
        return results
    }

    /// Keeps secret values out of the run directory, which outlives the run: the deps file keeps
    /// its credentials' names with masked values, and any generated secret value that a hook or
    /// test printed into a log is masked there too.
    func scrubSecrets(_ prepared: PreparedRun, state: RunState) async {
        var values = await state.apps.values.flatMap { Array($0.secretValues.values) }
        values += await state.deps.flatMap { Array($0.app.secretValues.values) }
        var infos = await state.depsInfo
        for (name, info) in infos {
            var masked = info
            masked.credentials = info.credentials.mapValues { _ in Redaction.mask }
            infos[name] = masked
        }
        try? AtomicFile.write(
            try JSONCoding.prettyEncoder.encode(infos), to: prepared.stateFiles.deps, permissions: 0o600)
        let secrets = values.filter { $0.count >= 8 }
        guard !secrets.isEmpty,
            let files = FileManager.default.enumerator(
                at: runDirectory, includingPropertiesForKeys: [.isRegularFileKey])
        else { return }
        for case let file as URL in files where ["log", "json", "xml", "txt"].contains(file.pathExtension) {
            guard var text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            var changed = false
            for secret in secrets where text.contains(secret) {
                text = text.replacingOccurrences(of: secret, with: Redaction.mask)
                changed = true
            }
            if changed { try? AtomicFile.write(text, to: file) }
        }
    }

    /// Removes the run's workspace (its recipe clones); the run directory stays.
    func cleanWorkspace() {
        try? FileManager.default.removeItem(at: workspace)
    }
}

/// A hook that exited non-zero.
struct HookFailure: Error, CustomStringConvertible {
    let hook: String
    let outcome: HookRunner.Outcome

    var description: String {
        "hook \(hook) exited \(outcome.exitCode)"
            + (outcome.outputTail.isEmpty
                ? "" : ": \(outcome.outputTail.split(separator: "\n").suffix(3).joined(separator: " | "))")
    }
}

/// A version label that does not say what the run deployed.
struct LabelMismatch: Error, CustomStringConvertible {
    let key: String
    let expected: String
    let found: String?

    var description: String {
        "\(key) is \(found.map { "'\($0)'" } ?? "missing"), expected '\(expected)' — the deployed code is not the code under test"
    }
}
