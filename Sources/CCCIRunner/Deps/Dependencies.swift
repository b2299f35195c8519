import CCCICore
import CCCIDeploy
import CCCISwarm
import Foundation

/// Dependencies (SPEC F-DEPS): recipes deployed before the recipe under test (an OIDC provider),
/// their domains and credentials handed over in the deps file, torn down after it in reverse
/// order. A dependency that does not come up is recorded as not ready (with why); the tests that
/// need it are skipped and counted, never silently passed.
extension RunCoordinator {
    func deployDependencies(_ prepared: PreparedRun, state: RunState) async {
        for name in prepared.meta.dependencies {
            if Task.isCancelled { return }
            let domain = prepared.dependencyDomains[name]!
            var info = DependencyInfo(
                recipe: name, domain: domain.name, baseURL: "https://\(domain)", ready: false, credentials: [:],
                resolve: prepared.probe.curlResolve(for: domain.name))
            let clock = ContinuousClock()
            let start = clock.now
            await reporter.step(role: "dep", tier: name, name: "deploying", result: .info(domain.name), elapsed: nil)
            do {
                let source = try RecipeSource.resolve(name, config: config)
                for secret in source.credentials?.secrets ?? [] { secrets.register(secret) }
                let tree = workspace.appendingPathComponent("deps/\(name)")
                let checkout = RecipeCheckout(git: git, source: source)
                try await checkout.clone(to: tree, commit: nil)
                let releases = try await git.releases(in: tree)
                let mode: DeployMode
                if let latest = releases.latest {
                    try await git.checkout(latest.tag.commit, in: tree, force: true)
                    mode = .pinned(latest.version)
                } else {
                    mode = .chaos
                }
                let meta = try MetaLoader.load(packDirectories: [
                    tree.appendingPathComponent("tests"), config.packsDirectory.appendingPathComponent(name),
                ])
                if FileManager.default.fileExists(atPath: driver.envFile(for: domain).path) {
                    _ = try await driver.remove(domain: domain)
                }
                let app = try await driver.newApp(
                    AppSpec(
                        recipe: name, domain: domain, checkout: tree, extraEnv: meta.extraEnv,
                        workDirectory: deployDirectory, runID: runID))
                await state.addDep(name, app)
                _ = try await driver.deploy(app, mode: mode)
                _ = try await driver.waitConverged(app, timeout: meta.deployTimeout, progress: nil)
                try await HealthChecker(probe: prepared.probe).waitHealthy(
                    domain: domain.name, path: meta.healthPath, accepted: meta.healthStatuses,
                    timeout: min(meta.deployTimeout, .seconds(120)))
                info.ready = true
                info.credentials = app.secretValues
                await reporter.step(role: "dep", tier: name, name: "ready", result: .passed, elapsed: clock.now - start)
                await prepared.journal.line("dependency \(name) ready at \(domain)")
            } catch {
                info.reason = String(describing: error).split(separator: "\n").first.map(String.init)
                await reporter.step(
                    role: "dep", tier: name, name: "not ready", result: .failed(info.reason ?? "failed"),
                    elapsed: clock.now - start)
                await prepared.journal.line("dependency \(name) not ready: \(error)")
            }
            await state.setDepInfo(name, info)
            let all = await state.depsInfo
            try? AtomicFile.write(
                try JSONCoding.prettyEncoder.encode(all), to: prepared.stateFiles.deps, permissions: 0o600)
        }
    }
}
