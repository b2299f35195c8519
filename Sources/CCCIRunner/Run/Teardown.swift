import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import Foundation

/// The teardown funnel and the evidence collected before it (SPEC F-TEARDOWN, F-LOGS).
extension RunCoordinator {
    /// Removes the run's apps — the head and upgrade apps, then the dependencies in reverse
    /// order — and verifies nothing is left. Returns whether teardown was clean.
    func teardown(_ prepared: PreparedRun, state: RunState) async -> Bool {
        let clean = Locked(true)
        let apps = await state.apps
        await withTaskGroup(of: Void.self) { group in
            for (role, app) in apps {
                group.addTask {
                    let ok = await self.remove(
                        app, name: "\(role.rawValue) app \(app.domain)", journal: prepared.journal)
                    if !ok { clean.withLock { $0 = false } }
                }
            }
        }
        for dep in await state.deps.reversed() {
            let ok = await remove(dep.app, name: "dependency \(dep.name) \(dep.app.domain)", journal: prepared.journal)
            if !ok { clean.withLock { $0 = false } }
        }
        return clean.value
    }

    /// Removes one app, verifies no residue, and logs the outcome as it happens.
    func remove(_ app: App, name: String, journal: RunJournal) async -> Bool {
        do {
            let residue = try await driver.remove(app)
            if residue.isEmpty {
                await journal.line("teardown: \(name) removed, no residue")
                await reporter.step(role: "teardown", tier: "", name: name, result: .passed, elapsed: nil)
                return true
            }
            await journal.line("teardown: \(name) LEFT RESIDUE — \(residue.summary)")
            await reporter.step(
                role: "teardown", tier: "", name: name, result: .failed("residue: \(residue.summary)"), elapsed: nil)
        } catch {
            await journal.line("teardown: \(name) failed: \(error)")
            await reporter.step(role: "teardown", tier: "", name: name, result: .failed("\(error)"), elapsed: nil)
        }
        return false
    }

    /// Service logs, task states and errors of every app, written to `services/` in the run
    /// directory before anything is removed.
    func collectDiagnostics(_ prepared: PreparedRun, state: RunState) async {
        let directory = runDirectory.appendingPathComponent("services")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var targets: [(String, App)] = await state.apps.map { ($0.key.rawValue, $0.value) }
        targets += await state.deps.map { ("dep-\($0.name)", $0.app) }
        for (label, app) in targets {
            guard let services = try? await engine.services(stack: app.stack) else { continue }
            for service in services {
                let short =
                    service.name.hasPrefix(app.stack + "_")
                    ? String(service.name.dropFirst(app.stack.count + 1)) : service.name
                var text = "# \(service.name) (\(label) app \(app.domain))\n\n## docker service ps\n"
                let ps = try? await runner.run(
                    Command(
                        "docker",
                        [
                            "service", "ps", "--no-trunc", "--format",
                            "{{.Name}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}", service.name,
                        ]))
                text += (ps?.output ?? "unavailable\n")
                if let tasks = try? await engine.tasks(services: [service.ID]) {
                    let errors = tasks.compactMap { task in
                        task.Status.Err.map { "\(task.ID.prefix(12)) \(task.Status.State): \($0)" }
                    }
                    if !errors.isEmpty { text += "\n## task errors\n" + errors.joined(separator: "\n") + "\n" }
                }
                text += "\n## last 200 log lines\n"
                text += (try? await engine.serviceLogs(service.name, tail: 200)) ?? "unavailable\n"
                try? AtomicFile.write(text, to: directory.appendingPathComponent("\(label)-\(short).log"))
            }
        }
        await prepared.journal.line("diagnostics of \(targets.count) app(s) written to \(directory.path)")
    }
}

/// The ready probe of SPEC F-META: a declarative HTTP check, or a hook, polled until it passes.
enum ReadyProbe {
    /// Polls `path` until it answers `status` (and contains `contains`).
    static func waitHTTP(
        probe: HTTPSProbe, domain: String, path: String, status: Int, contains: String?, timeout: Duration
    ) async throws {
        try await probe.withClient(domains: [domain]) { client in
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            var delay = Duration.milliseconds(100)
            var last = "no answer"
            while true {
                if let response = try? await client.get(domain: domain, path: path, timeout: .seconds(10)) {
                    if response.status == status && (contains.map { response.body.contains($0) } ?? true) { return }
                    last =
                        "answered \(response.status)"
                        + (contains.map { response.body.contains($0) ? "" : " without '\($0)'" } ?? "")
                }
                guard clock.now + delay < deadline else {
                    throw ReadyProbeError(
                        message: "https://\(domain)\(path) not ready within \(DurationText.format(timeout)): \(last)")
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .milliseconds(500))
            }
        }
    }

    /// Runs `hook` until it exits 0.
    static func waitHook(
        hook: HookReference, runner: HookRunner, context: HookContext, log: URL, timeout: Duration
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var delay = Duration.milliseconds(250)
        while true {
            let outcome = try await runner.run(
                URL(fileURLWithPath: hook.path), context: context,
                directory: URL(fileURLWithPath: hook.path).deletingLastPathComponent(), log: log,
                timeout: max(.seconds(1), deadline - clock.now))
            if outcome.succeeded { return }
            guard clock.now + delay < deadline else {
                throw ReadyProbeError(
                    message:
                        "ready hook \(hook.declared) did not exit 0 within \(DurationText.format(timeout)) (last exit \(outcome.exitCode))"
                )
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }
}

struct ReadyProbeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
