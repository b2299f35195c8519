import CCCICore
import CCCIDeploy
import CCCIGit
import Foundation

/// Dependencies (SPEC F-DEPS): recipes deployed before the recipe under test (an OIDC provider),
/// their domains and credentials handed over in the deps file, torn down after it in reverse
/// order. A dependency that does not come up is recorded as not ready (with why); the tests that
/// need it are skipped and counted, never silently passed.
struct DependencySetup {
    let context: RunContext
    let prepared: PreparedRun

    /// Deploys each dependency in order; returns what each one is (ready or not, and why).
    func deploy() async -> [String: DependencyInfo] {
        var infos: [String: DependencyInfo] = [:]
        for name in prepared.meta.dependencies {
            if Task.isCancelled { break }
            guard let domain = prepared.dependencyDomains[name] else { continue }
            infos[name] = await deploy(name, at: domain)
            try? AtomicFile.write(
                try JSONCoding.prettyEncoder.encode(infos), to: prepared.stateFiles.deps, permissions: 0o600)
        }
        return infos
    }

    func deploy(_ name: String, at domain: AppDomain) async -> DependencyInfo {
        let driver = context.driver
        var info = DependencyInfo(
            recipe: name, domain: domain.name, baseURL: "https://\(domain)", ready: false, credentials: [:],
            resolve: prepared.probe.curlResolve(for: domain.name))
        let clock = ContinuousClock()
        let start = clock.now
        await context.reporter.step(
            role: "dep", tier: name, name: "deploying", result: .info(domain.name), elapsed: nil)
        do {
            let source = try RecipeSource.resolve(name, config: context.config)
            for secret in source.credentials?.secrets ?? [] { context.secrets.register(secret) }
            let tree = context.workspace.appendingPathComponent("deps/\(name)")
            try await RecipeCheckout(git: context.git, source: source).clone(to: tree, commit: nil)
            let releases = try await context.git.releases(in: tree)
            let mode: DeployMode
            if let latest = releases.latest {
                try await context.git.checkout(latest.tag.commit, in: tree, force: true)
                mode = .pinned(latest.version)
            } else {
                mode = .chaos
            }
            let meta = try MetaLoader.load(packDirectories: [
                tree.appendingPathComponent("tests"), context.config.packsDirectory.appendingPathComponent(name),
            ])
            // One level: a dependency's own dependencies would need wiring of their own.
            guard meta.dependencies.isEmpty else {
                throw NestedDependencies(name: name, dependencies: meta.dependencies, recipe: prepared.recipe)
            }
            if driver.hasApp(domain) { _ = try await driver.remove(domain: domain) }
            var spec = AppSpec(
                recipe: name, domain: domain, checkout: tree, extraEnv: meta.extraEnv,
                workDirectory: context.deployDirectory, runID: context.runID)
            spec.givenSecrets = meta.extraSecrets
            let app = try await driver.newApp(spec)
            _ = try await driver.deploy(app, mode: mode)
            _ = try await driver.waitConverged(app, timeout: meta.deployTimeout)
            try await HealthChecker(probe: prepared.probe).waitHealthy(
                domain: domain.name, path: meta.healthPath, accepted: meta.healthStatuses,
                timeout: min(meta.deployTimeout, .seconds(120)))
            info.credentials = app.secretValues
            if let hook = meta.provision {
                let provisioned = try await provision(hook, app: app, meta: meta, info: info)
                info.credentials.merge(provisioned) { _, new in new }
                await context.reporter.step(
                    role: "dep", tier: name, name: "provisioned",
                    result: .info(provisioned.keys.sorted().joined(separator: ", ")), elapsed: nil)
            }
            info.ready = true
            await context.reporter.step(
                role: "dep", tier: name, name: "ready", result: .passed, elapsed: clock.now - start)
            context.journal.line("dependency \(name) ready at \(domain)")
        } catch {
            info.reason = String(describing: error).split(separator: "\n").first.map {
                context.secrets.redact(String($0))
            }
            await context.reporter.step(
                role: "dep", tier: name, name: "not ready", result: .failed(info.reason ?? "failed"),
                elapsed: clock.now - start)
            context.journal.line("dependency \(name) not ready: \(error)")
        }
        return info
    }

    /// The dependents' domains: the head app's, and each upgrade base's app when the run has them.
    var dependents: [String] {
        var domains: [String] = []
        for attempt in 1...(context.config.retryFailed + 1) {
            domains.append(prepared.domain(.head, attempt: attempt).name)
            if context.options.stages.contains(.upgrade) {
                domains += prepared.upgradeBases.indices.map {
                    prepared.domain(.upgrade, attempt: attempt, base: $0).name
                }
            }
        }
        return domains
    }

    /// Runs the dependency's `provision` hook — its context holds the dependency's own facts
    /// (domain, the secrets its deploy generated) under `deps.<its name>` — and returns the
    /// credentials it wrote.
    func provision(
        _ hook: HookReference, app: App, meta: RecipeMeta, info: DependencyInfo
    ) async throws -> [String: String] {
        let hookContext = HookContext(
            recipe: info.recipe, domain: info.domain, stack: app.stack, op: "provision", baseURL: info.baseURL,
            meta: meta.effectiveJSON, deps: [info.recipe: info], opStateFile: prepared.stateFiles.opState.path,
            depsFile: prepared.stateFiles.deps.path, runID: context.runID, runDirectory: context.runDirectory.path,
            caCertificate: prepared.probe.caCertificate?.path, resolve: info.resolve, headCommit: prepared.head.commit)
        let executable = URL(fileURLWithPath: hook.path)
        let (outcome, output) = try await HookRunner(runner: context.runner).runAnswering(
            executable, named: hook.declared, context: hookContext, directory: executable.deletingLastPathComponent(),
            log: context.journal.tierLog("dep-\(info.recipe)"),
            extraEnvironment: ["CCCI_DEPENDENTS": dependents.joined(separator: ",")], timeout: meta.deployTimeout,
            outputDirectory: prepared.stateFiles.opState.deletingLastPathComponent())
        context.journal.line(
            "dependency \(info.recipe): provision hook \(hook.declared) exited \(outcome.exitCode) in "
                + String(format: "%.2fs", outcome.durationSeconds))
        guard outcome.succeeded else { throw HookFailure(hook: hook.declared, outcome: outcome) }
        let credentials = try HookRunner.strings(output, hook: hook.declared, what: "the credentials")
        // Secret-looking ones (a secret, a password, a token, a key) are masked everywhere the run
        // writes; an id stays readable.
        for (name, value) in credentials where Redaction.isSensitive(name) { context.secrets.register(value) }
        return credentials
    }
}

/// A dependency that declares dependencies of its own: cc-ci deploys one level.
struct NestedDependencies: Error, CustomStringConvertible {
    let name: String
    let dependencies: [String]
    let recipe: String

    var description: String {
        "\(name)'s pack lists dependencies of its own (\(dependencies.joined(separator: ", "))); cc-ci deploys one "
            + "level of dependencies — list them in \(recipe)'s `dependencies` instead"
    }
}
