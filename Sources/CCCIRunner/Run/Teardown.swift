import CCCICore
import CCCIDeploy
import Foundation

/// The end of a run's apps (SPEC F-TEARDOWN, F-LOGS): the evidence of a failure collected first,
/// then every app the run locked removed — also one whose creation was cut short — the head and
/// upgrade apps together, the dependencies after them in reverse order, each verified to leave
/// nothing behind. `--keep-on-failure` keeps them instead, marked for the janitor.
struct Teardown {
    let context: RunContext

    /// What teardown did.
    struct Report: Sendable {
        /// Nothing left of any app (or the apps were kept on purpose).
        var clean = true
        /// The apps kept for inspection.
        var kept: [AppDomain] = []
    }

    /// Service logs, task states and errors of every app, written to `services/` in the run
    /// directory before anything is removed. Returns the files written (relative to it).
    func collectDiagnostics(of locked: [LockedDomain]) async -> [String] {
        let directory = context.runDirectory.appendingPathComponent("services")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var files: [String] = []
        for app in locked {
            let prefix =
                app.dependency.map { "dep-\($0)" }
                ?? app.label.replacingOccurrences(of: " app", with: "").replacingOccurrences(
                    of: " from ", with: "-from-")
            for service in await context.driver.diagnostics(of: app.domain) {
                let name = "\(prefix)-\(service.service).log"
                try? AtomicFile.write(
                    "# \(app.label) \(app.domain)\n\n" + service.report, to: directory.appendingPathComponent(name))
                files.append("services/\(name)")
            }
        }
        context.journal.line("diagnostics of \(locked.count) app(s) written to \(directory.path)")
        return files.sorted()
    }

    /// Removes the apps at `locked`, or keeps them (`keep`).
    func run(_ locked: [LockedDomain], keep: Bool) async -> Report {
        var report = Report()
        if keep {
            report.kept = locked.map(\.domain)
            await markKept(report.kept)
            let names = report.kept.map(\.name)
            for line in [
                "", "kept for inspection (--keep-on-failure): \(names.joined(separator: ", "))",
                "remove with: ccci teardown \(names.joined(separator: " "))",
            ] {
                await context.say(line)
            }
            return report
        }
        let apps = locked.filter { $0.dependency == nil }
        context.journal.line("teardown: removing \(locked.count) app\(locked.count == 1 ? "" : "s")")
        let removed = await withTaskGroup(of: Bool.self, returning: Bool.self) { group in
            for app in apps { group.addTask { await remove(app) } }
            var clean = true
            for await done in group { clean = clean && done }
            return clean
        }
        report.clean = removed
        // Dependencies after the apps that use them, in the reverse of the order they came up.
        for dependency in locked.filter({ $0.dependency != nil }).reversed() {
            report.clean = await remove(dependency) && report.clean
        }
        return report
    }

    /// Removes one app, verifies no residue, and logs the outcome as it happens.
    func remove(_ locked: LockedDomain) async -> Bool {
        let name = "\(locked.label) \(locked.domain)"
        let journal = context.journal
        // An earlier run's kept app (its keep mark predates this teardown) is never this run's to remove.
        if context.driver.keptUntil(locked.domain) != nil {
            journal.line("teardown: \(name) is kept for inspection by an earlier run — left alone")
            return true
        }
        do {
            let residue = try await context.driver.remove(domain: locked.domain)
            if residue.isEmpty {
                journal.line("teardown: \(name) removed, no residue")
                await context.reporter.step(role: "teardown", tier: "", name: name, result: .passed, elapsed: nil)
                return true
            }
            journal.line("teardown: \(name) LEFT RESIDUE — \(residue.summary)")
            await context.reporter.step(
                role: "teardown", tier: "", name: name, result: .failed("residue: \(residue.summary)"), elapsed: nil)
        } catch {
            journal.line("teardown: \(name) failed: \(error)")
            await context.reporter.step(
                role: "teardown", tier: "", name: name, result: .failed("\(error)"), elapsed: nil)
        }
        return false
    }

    /// Leaves a keep mark for each domain (`--keep-on-failure`): the janitor leaves them 24 hours.
    func markKept(_ domains: [AppDomain]) async {
        let until = Date().addingTimeInterval(24 * 3600)
        for domain in domains {
            try? context.driver.keep(domain, until: until)
        }
    }
}
