import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import Foundation

/// The teardown funnel and the evidence collected before it (SPEC F-TEARDOWN, F-LOGS).
extension RunCoordinator {
    /// Removes every app the run locked — so also one whose creation was cut short — the head and
    /// upgrade apps together, then the dependencies in reverse order, and verifies that nothing is
    /// left of any. Returns whether teardown was clean.
    func teardown(_ prepared: PreparedRun, state: RunState) async -> Bool {
        let clean = Locked(true)
        var locked = await state.locked
        // An app that exists without its lock recorded (a caller that skipped `lockAll`) is
        // still the run's to remove.
        for (role, app) in await state.apps where !locked.contains(where: { $0.domain == app.domain }) {
            locked.append(LockedDomain(domain: app.domain, label: "\(role.rawValue) app", isDependency: false))
        }
        for dep in await state.deps where !locked.contains(where: { $0.domain == dep.app.domain }) {
            locked.append(LockedDomain(domain: dep.app.domain, label: "dependency \(dep.name)", isDependency: true))
        }
        let order = await state.deps.map(\.name)
        await withTaskGroup(of: Void.self) { group in
            for app in locked where !app.isDependency {
                group.addTask {
                    if !(await self.remove(app, journal: prepared.journal)) { clean.withLock { $0 = false } }
                }
            }
        }
        let dependencies = locked.filter(\.isDependency).sorted { a, b in
            // Reverse order of deployment; never-deployed ones last.
            let i = order.firstIndex { "dependency \($0)" == a.label } ?? -1
            let j = order.firstIndex { "dependency \($0)" == b.label } ?? -1
            return i > j
        }
        for dependency in dependencies {
            if !(await remove(dependency, journal: prepared.journal)) { clean.withLock { $0 = false } }
        }
        return clean.value
    }

    /// Removes one app, verifies no residue, and logs the outcome as it happens.
    func remove(_ locked: LockedDomain, journal: RunJournal) async -> Bool {
        let name = "\(locked.label) \(locked.domain)"
        // An earlier run's kept app (its keep mark predates this teardown) is never this run's to remove.
        if FileManager.default.fileExists(atPath: driver.keepMark(for: locked.domain).path) {
            await journal.line("teardown: \(name) is kept for inspection by an earlier run — left alone")
            return true
        }
        do {
            let residue = try await driver.remove(domain: locked.domain)
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
