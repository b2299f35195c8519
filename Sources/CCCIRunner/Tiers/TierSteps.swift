import CCCICore
import CCCIDeploy
import CCCISystem
import Foundation

/// The steps the tiers share — create an app, run a hook, wait for convergence, check health and
/// readiness, hold the app stable, check what runs — each recorded as a check of the tier that
/// runs it.
struct TierSteps: Sendable {
    let context: RunContext
    let prepared: PreparedRun
    /// Dependencies' facts, for hook contexts.
    let dependencies: [String: DependencyInfo]
    /// The env and secrets those facts fill in.
    var wiring = DependencyWiring()
    /// 1, or 2 when a failed path runs again on fresh apps of its own (`retry_failed`).
    var attempt = 1
    /// The upgrade base these steps serve (an index into ``PreparedRun/upgradeBases``).
    var base = 0
    /// The release the upgrade app starts from, for its hooks (`base_version`).
    var baseVersion: String?

    var driver: any AppDriver { context.driver }

    /// The app of `role` this attempt deploys (for the upgrade, the app of ``base``).
    func domain(_ role: AppRole) -> AppDomain { prepared.domain(role, attempt: attempt, base: base) }

    /// Creates an app, counting it against the deploy guard (each app exactly once per run).
    func createApp(role: AppRole, domain: AppDomain, tree: URL) async throws -> App {
        try await prepared.deployGuard.recordFreshDeploy(
            role, domain: domain, attempt: attempt,
            base: role == .upgrade && base > 0 ? prepared.upgradeBases[base].version.raw : nil)
        var spec = AppSpec(
            recipe: prepared.recipe, domain: domain, checkout: tree, packComposeFiles: prepared.packComposeFiles,
            extraEnv: wiring.extraEnv, workDirectory: context.deployDirectory, runID: context.runID)
        spec.givenSecrets = wiring.extraSecrets
        // A crashed run may have left this domain's app; its lock is ours now, so it is an orphan —
        // unless it was kept for inspection, which a run never destroys.
        if driver.keptUntil(domain) != nil {
            throw RunSetupError.kept(domain: domain.name)
        }
        if driver.hasApp(domain) {
            let left = try await driver.remove(domain: domain)
            context.journal.line(
                "removed a leftover app at \(domain) before creating it\(left.isEmpty ? "" : " (left: \(left.summary))")"
            )
        }
        return try await driver.newApp(spec)
    }

    /// The hook context for an op on `app` (an upgrade's names its base release).
    func hookContext(op: String, app: App) -> HookContext {
        var context = hookContext(op: op, domainApp: app)
        if op == "upgrade" { context.baseVersion = baseVersion }
        return context
    }

    private func hookContext(op: String, domainApp app: App) -> HookContext {
        HookContext(
            recipe: prepared.recipe, domain: app.domain.name, stack: app.stack, op: op,
            baseURL: "https://\(app.domain)", meta: prepared.meta.effectiveJSON, deps: dependencies,
            opStateFile: prepared.stateFiles.opState.path, depsFile: prepared.stateFiles.deps.path,
            runID: context.runID, runDirectory: context.runDirectory.path,
            caCertificate: prepared.probe.caCertificate?.path,
            resolve: prepared.probe.curlResolve(for: app.domain.name),
            headCommit: prepared.head.commit)
    }

    /// Runs a declared hook as a check; a non-zero exit fails it.
    func runHook(_ hook: HookReference, name: String, op: String, app: App, recorder: TierRecorder) async throws {
        let hookContext = hookContext(op: op, app: app)
        try await recorder.check(name, waitLabel: name) {
            let outcome = try await HookRunner(runner: context.runner).run(
                URL(fileURLWithPath: hook.path), context: hookContext,
                directory: URL(fileURLWithPath: hook.path).deletingLastPathComponent(), log: recorder.log,
                timeout: prepared.deployTimeout)
            context.journal.line(
                "hook \(hook.declared) exited \(outcome.exitCode) in \(String(format: "%.2f", outcome.durationSeconds))s",
                tier: recorder.tier.rawValue)
            guard outcome.succeeded else { throw HookFailure(hook: hook.declared, outcome: outcome) }
        }
    }

    /// The pack's `pre_deploy` hook on `app`, whose env file is written, before a deploy: a fresh
    /// app's first (`redeploy` false) or the upgrade app's redeploy at the head. The env keys and
    /// secrets it returns through `CCCI_OUTPUT_FILE` are applied — the secrets now (at a redeploy
    /// a secret the app already has is kept), the env keys (returned) at the deploy — and recorded
    /// in the manifest's inputs. Returns the app (with its secrets) and the env keys.
    func preDeploy(
        _ app: App, op: String, redeploy: Bool = false, recorder: TierRecorder, name: String = "pre_deploy hook"
    ) async throws -> (App, [String: String]) {
        guard let hook = prepared.meta.preDeploy else { return (app, [:]) }
        let hookContext = hookContext(op: op, app: app)
        return try await recorder.check(name, waitLabel: name) {
            let executable = URL(fileURLWithPath: hook.path)
            let (outcome, output) = try await HookRunner(runner: context.runner).runAnswering(
                executable, named: hook.declared, context: hookContext,
                directory: executable.deletingLastPathComponent(),
                log: recorder.log,
                extraEnvironment: ["CCCI_ENV_FILE": app.envFile.path, "CCCI_TREE": app.spec.checkout.path],
                timeout: prepared.deployTimeout,
                outputDirectory: prepared.stateFiles.opState.deletingLastPathComponent())
            context.journal.line(
                "hook \(hook.declared) exited \(outcome.exitCode) in \(String(format: "%.2f", outcome.durationSeconds))s",
                tier: recorder.tier.rawValue)
            guard outcome.succeeded else { throw HookFailure(hook: hook.declared, outcome: outcome) }
            let object = output?.objectValue ?? [:]
            if output != nil, output?.objectValue == nil {
                throw HookRunner.OutputError(hook: hook.declared, problem: "is not a JSON object")
            }
            if let unknown = object.keys.sorted().first(where: { !["env", "secrets"].contains($0) }) {
                throw HookRunner.OutputError(
                    hook: hook.declared, problem: "has `\(unknown)` — it takes `env` and `secrets`")
            }
            let env = try HookRunner.strings(object["env"], hook: hook.declared, what: "`env`")
            let secrets = try HookRunner.strings(object["secrets"], hook: hook.declared, what: "`secrets`")
            for value in secrets.values { context.secrets.register(value) }
            for (key, value) in env where Redaction.isSensitive(key) { context.secrets.register(value) }
            for key in env.keys.sorted() {
                if let problem = AppEnv.problem(withOverride: key, value: env[key]!) {
                    throw HookRunner.OutputError(hook: hook.declared, problem: "sets env `\(key)`: \(problem)")
                }
            }
            if let unknown = secrets.keys.sorted().first(where: { !prepared.headSecrets.contains($0) }) {
                throw HookRunner.OutputError(
                    hook: hook.declared,
                    problem: "gives secret `\(unknown)`, which \(prepared.recipe) does not declare (its secrets: "
                        + "\(prepared.headSecrets.isEmpty ? "none" : prepared.headSecrets.joined(separator: ", ")))")
            }
            let ready = try await driver.setSecrets(app, secrets, replace: !redeploy)
            // A secret the running app already has is kept (its new value dropped).
            let kept = secrets.keys.filter { ready.secretValues[$0] != secrets[$0] }.sorted()
            let added =
                env.keys.sorted().map { "env.\($0)" }
                + secrets.keys.filter { !kept.contains($0) }.sorted().map { "secret.\($0)" }
            for item in added { await prepared.inputs.record(item, from: "pre_deploy") }
            if !added.isEmpty {
                await recorder.note("pre_deploy added \(added.joined(separator: ", "))")
            }
            if !kept.isEmpty {
                await recorder.note("pre_deploy: kept \(kept.joined(separator: ", ")) (the running app has it)")
            }
            return (ready, env)
        }
    }

    /// Waits for convergence (with a live wait on the terminal).
    func converge(_ app: App, recorder: TierRecorder, name: String = "converge") async throws {
        try await recorder.check(name, waitLabel: name) {
            _ = try await driver.waitConverged(app, timeout: prepared.deployTimeout)
        }
    }

    /// Health over the ingress by domain (SPEC F-HEALTH), as a check named `name`.
    func health(_ app: App, recorder: TierRecorder, name: String = "health") async throws {
        try await recorder.check(name, waitLabel: name) {
            try await HealthChecker(probe: prepared.probe).waitHealthy(
                domain: app.domain.name, path: prepared.meta.healthPath, accepted: prepared.meta.healthStatuses,
                timeout: min(prepared.deployTimeout, .seconds(120)))
        }
    }

    /// Health over the ingress, then the ready probe when declared.
    func healthAndReadiness(_ app: App, recorder: TierRecorder) async throws {
        try await health(app, recorder: recorder)
        switch prepared.meta.readyProbe {
        case .http(let path, let status, let contains, let timeout):
            try await recorder.check("ready probe", waitLabel: "ready probe") {
                try await ReadinessWait.waitHTTP(
                    probe: prepared.probe, domain: app.domain.name, path: path, status: status, contains: contains,
                    timeout: timeout)
            }
        case .hook(let hook):
            let hookContext = hookContext(op: "ready", app: app)
            try await recorder.check("ready probe", waitLabel: "ready probe") {
                try await ReadinessWait.waitHook(
                    hook: hook, runner: HookRunner(runner: context.runner), context: hookContext, log: recorder.log,
                    timeout: prepared.deployTimeout)
            }
        case nil:
            break
        }
    }

    /// Runs `body` (health, readiness, version checks) inside the app's stability window: the app
    /// must stay as it converged for the recipe's `stable_for` from now, or the tier fails.
    func holdStable(_ app: App, recorder: TierRecorder, _ body: () async throws -> Void) async throws {
        let window = prepared.meta.stableFor
        guard window > .zero else { return try await body() }
        let baseline = try await driver.stabilityBaseline(app)
        try await body()
        try await recorder.check("stable for \(DurationText.format(window))", waitLabel: "stability window") {
            try await driver.verifyStable(baseline, window: window)
        }
    }

    /// What runs is the code under test: the chaos stamp of every service is the head's commit.
    func verifyHead(_ app: App, recorder: TierRecorder) async throws {
        try await recorder.check("head label") {
            try await driver.verifyRunning(app, commit: prepared.head.commit)
        }
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
