import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISwarm
import CCCISystem
import Foundation

/// The steps the tiers share: slots, locks, apps, hooks, convergence, health, labels.
extension RunCoordinator {
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
            guard !(error is CancellationError) else {
                await prepared.journal.line("stopped while waiting for a run slot")
                return false  // no verdicts: finish records the tiers as cancelled
            }
            let reason = "cannot take a run slot: \(error)"
            await prepared.journal.line(reason)
            for tier in options.stages {
                await state.setTier(tier, TierResult(status: .fail, durationSeconds: 0, reason: reason))
            }
            return false
        }
    }

    /// Takes the locks of every app the run will create, before any exists, in one fixed (sorted)
    /// order — so two runs of the same recipe, PR and ref can never each hold one lock the other
    /// waits for. Returns `false` (with the tiers failed) when a lock cannot be taken.
    func lockAll(_ prepared: PreparedRun, state: RunState) async -> Bool {
        var domains = [LockedDomain(domain: prepared.headDomain, label: "head app", isDependency: false)]
        if options.stages.contains(.upgrade) && prepared.upgradeBase != nil {
            domains.append(LockedDomain(domain: prepared.upgradeDomain, label: "upgrade app", isDependency: false))
        }
        for name in prepared.meta.dependencies {
            domains.append(
                LockedDomain(domain: prepared.dependencyDomains[name]!, label: "dependency \(name)", isDependency: true)
            )
        }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            for locked in domains.sorted(by: { $0.domain < $1.domain }) {
                try await lock(locked.domain, journal: prepared.journal)
                await state.addLocked(locked)
            }
            await reporter.step(role: "run", tier: "", name: "app locks", result: .passed, elapsed: clock.now - start)
            return true
        } catch {
            guard !(error is CancellationError) else {
                await prepared.journal.line("stopped while waiting for an app lock")
                return false  // no verdicts: finish records the tiers as cancelled
            }
            let reason = "cannot take an app lock: \(error)"
            await prepared.journal.line(reason)
            for tier in options.stages {
                await state.setTier(tier, TierResult(status: .fail, durationSeconds: 0, reason: reason))
            }
            return false
        }
    }

    /// Takes the lock of `domain` (before the app exists), telling the user when it must wait.
    func lock(_ domain: AppDomain, journal: RunJournal) async throws {
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
        role: AppRole, domain: AppDomain, tree: URL, prepared: PreparedRun, state: RunState
    ) async throws -> App {
        try await prepared.deployGuard.recordFreshDeploy(role, domain: domain)
        let spec = AppSpec(
            recipe: prepared.recipe, domain: domain, checkout: tree, packComposeFiles: prepared.packComposeFiles,
            extraEnv: prepared.meta.extraEnv, workDirectory: workspace.appendingPathComponent("generated"), runID: runID
        )
        // A crashed run may have left this domain's env file; its lock is ours now, so it is an
        // orphan — unless it was kept for inspection, which a run never destroys.
        if FileManager.default.fileExists(atPath: driver.keepMark(for: domain).path) {
            throw RunSetupError.kept(domain: domain.name)
        }
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
            recipe: prepared.recipe, domain: app.domain.name, stack: app.stack, op: op,
            baseURL: "https://\(app.domain)",
            meta: Redaction.redact(.object(meta)), deps: await state.depsInfo,
            opStateFile: prepared.stateFiles.opState.path,
            depsFile: prepared.stateFiles.deps.path, runID: runID, runDirectory: runDirectory.path,
            caCertificate: prepared.probe.caCertificate?.path,
            resolve: prepared.probe.curlResolve(for: app.domain.name),
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

    /// Runs `body` (health, readiness, label checks) inside the app's stability window: the app
    /// must stay as it converged for the recipe's `stable_for` from now, or the tier fails.
    func holdStable(
        _ app: App, prepared: PreparedRun, recorder: TierRecorder, _ body: () async throws -> Void
    ) async throws {
        let window = prepared.meta.stableFor
        guard window > .zero else { return try await body() }
        let baseline = try await driver.stabilityBaseline(app)
        try await body()
        try await recorder.check("stable for \(DurationText.format(window))", waitLabel: "stability window") {
            try await driver.verifyStable(baseline, window: window)
        }
    }

    /// Health over the ingress by domain (SPEC F-HEALTH), as a check named `name`.
    func health(_ app: App, prepared: PreparedRun, recorder: TierRecorder, name: String = "health") async throws {
        try await recorder.check(name, waitLabel: name) {
            try await HealthChecker(probe: prepared.probe).waitHealthy(
                domain: app.domain.name, path: prepared.meta.healthPath, accepted: prepared.meta.healthStatuses,
                timeout: min(prepared.deployTimeout, .seconds(120)))
        }
    }

    /// Health over the ingress, then the ready probe when declared.
    func healthAndReadiness(_ app: App, prepared: PreparedRun, state: RunState, recorder: TierRecorder) async throws {
        let meta = prepared.meta
        try await health(app, prepared: prepared, recorder: recorder)
        switch meta.readyProbe {
        case .http(let path, let status, let contains, let timeout):
            try await recorder.check("ready probe", waitLabel: "ready probe") {
                try await ReadyProbe.waitHTTP(
                    probe: prepared.probe, domain: app.domain.name, path: path, status: status, contains: contains,
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
}
