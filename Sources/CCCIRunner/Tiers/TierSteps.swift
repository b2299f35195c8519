import CCCICore
import CCCIDeploy
import CCCISwarm
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

    var driver: any AppDriver { context.driver }

    /// Creates an app, counting it against the deploy guard (each role exactly once per run).
    func createApp(role: AppRole, domain: AppDomain, tree: URL) async throws -> App {
        try await prepared.deployGuard.recordFreshDeploy(role, domain: domain)
        let spec = AppSpec(
            recipe: prepared.recipe, domain: domain, checkout: tree, packComposeFiles: prepared.packComposeFiles,
            extraEnv: prepared.meta.extraEnv, workDirectory: context.deployDirectory, runID: context.runID)
        // A crashed run may have left this domain's app; its lock is ours now, so it is an orphan —
        // unless it was kept for inspection, which a run never destroys.
        if FileManager.default.fileExists(atPath: driver.keepMark(for: domain).path) {
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

    /// The hook context for an op on `app`.
    func hookContext(op: String, app: App) -> HookContext {
        var meta: [String: JSONValue] = [:]
        for key in MetaKey.allCases where key.spec.deprecatedBy == nil {
            meta[key.rawValue] = prepared.meta.value(key).json
        }
        return HookContext(
            recipe: prepared.recipe, domain: app.domain.name, stack: app.stack, op: op,
            baseURL: "https://\(app.domain)", meta: Redaction.redact(.object(meta)), deps: dependencies,
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
                try await ReadyProbe.waitHTTP(
                    probe: prepared.probe, domain: app.domain.name, path: path, status: status, contains: contains,
                    timeout: timeout)
            }
        case .hook(let hook):
            let hookContext = hookContext(op: "ready", app: app)
            try await recorder.check("ready probe", waitLabel: "ready probe") {
                try await ReadyProbe.waitHook(
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
