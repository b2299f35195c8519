import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import Foundation

/// The head app's path: install → backup → restore → custom.
extension RunCoordinator {
    func headPath(_ prepared: PreparedRun, state: RunState) async {
        let stages = options.stages
        guard stages.contains(where: { $0 != .upgrade }) else { return }
        let journal = prepared.journal
        let install = TierRecorder(tier: .install, role: .head, journal: journal, reporter: reporter)
        var app: App?
        do {
            if let problem = prepared.headProblem {
                try await install.check("read recipe") { throw RecipeUnusable(description: problem) }
            }
            let created = try await install.check("create app") {
                try await createApp(
                    role: .head, domain: prepared.headDomain, tree: prepared.headTree, prepared: prepared, state: state)
            }
            app = created
            let record = try await install.check("deploy") { try await driver.deploy(created, mode: .chaos) }
            await state.record("head", record)
            try await converge(created, prepared: prepared, recorder: install)
            if let hook = prepared.meta.preHook(for: .install) {
                try await runHook(
                    hook, name: "pre_install hook", op: "install", app: created, prepared: prepared, state: state,
                    recorder: install)
            }
            try await holdStable(created, prepared: prepared, recorder: install) {
                try await healthAndReadiness(created, prepared: prepared, state: state, recorder: install)
                try await verifyHeadLabel(created, prepared: prepared, recorder: install)
            }
        } catch {
            await journal.line("install stopped: \(error)", tier: "install")
        }
        if !stages.contains(.install) && !install.failed {
            install.conclude(.skip, reason: "not requested (the head app was still deployed for the other tiers)")
        }
        await state.setTier(.install, install.result())
        // A stopped run leaves the later tiers without a verdict (finish records them cancelled).
        guard !install.cancelled, !Task.isCancelled else { return }
        guard let app, !install.failed else {
            for tier in [Tier.backup, .restore, .custom] where stages.contains(tier) {
                await state.setTier(
                    tier, TierResult(status: .skip, durationSeconds: 0, reason: "the head app did not install"))
            }
            return
        }
        await backupAndRestore(app, prepared: prepared, state: state)
        if stages.contains(.custom), !Task.isCancelled {
            await customTier(app, prepared: prepared, state: state)
        }
    }

    // MARK: - Backup and restore

    func backupAndRestore(_ app: App, prepared: PreparedRun, state: RunState) async {
        let stages = options.stages
        guard stages.contains(.backup) || stages.contains(.restore) else { return }
        let journal = prepared.journal
        let backup = TierRecorder(tier: .backup, role: .head, journal: journal, reporter: reporter)
        let engine = driver.backupEngine(for: app)
        let plan: BackupPlan?
        do {
            (plan, _) = try engine.plan()
        } catch {
            await state.setTier(
                .backup, TierResult(status: .fail, durationSeconds: 0, reason: "cannot read the backup plan: \(error)"))
            await state.setTier(.restore, TierResult(status: .skip, durationSeconds: 0, reason: "no backup"))
            return
        }
        let capable = prepared.meta.backupCapable ?? (plan != nil)
        guard capable, plan != nil else {
            let reason =
                prepared.meta.backupCapable == false
                ? "backup_capable = false in the recipe's customization"
                : "no service is labelled backupbot.backup=true"
            if prepared.meta.backupCapable == true {
                await state.setTier(
                    .backup,
                    TierResult(status: .fail, durationSeconds: 0, reason: "backup_capable = true but \(reason)"))
                await state.setTier(.restore, TierResult(status: .skip, durationSeconds: 0, reason: "no backup"))
                return
            }
            await backup.note("backup and restore n/a: \(reason)")
            for tier in [Tier.backup, .restore] where stages.contains(tier) {
                await state.setTier(tier, TierResult(status: .na, durationSeconds: 0, reason: reason))
            }
            return
        }
        let marker = DataMarker(runID: runID, role: "backup")
        var snapshot: BackupSnapshot?
        var markerFile: URL?
        do {
            if let hook = prepared.meta.preHook(for: .backup) {
                try await runHook(
                    hook, name: "pre_backup hook", op: "backup", app: app, prepared: prepared, state: state,
                    recorder: backup)
            }
            markerFile = try await backup.check("write marker") {
                guard let directory = try await engine.markerDirectory() else {
                    throw MarkerError.noVolume(app.domain.name)
                }
                return try marker.write(into: directory)
            }
            let taken = try await backup.check("backup", waitLabel: "backup") { try await driver.backup(app) }
            snapshot = taken
            try await prepared.opState.record("backup", "snapshot_id", .string(taken.id))
            try await prepared.opState.record("backup", "files", .int(taken.files))
            await backup.note("snapshot \(taken.id.prefix(12)): \(taken.files) files, \(taken.bytes) bytes")
        } catch {
            await journal.line("backup stopped: \(error)", tier: "backup")
        }
        if !stages.contains(.backup) && !backup.failed {
            backup.conclude(.skip, reason: "not requested (a backup was still taken for restore)")
        }
        await state.setTier(.backup, backup.result())
        guard stages.contains(.restore) else { return }
        guard !backup.cancelled, !Task.isCancelled else { return }
        guard let snapshot, let markerFile, !backup.failed else {
            await state.setTier(
                .restore, TierResult(status: .skip, durationSeconds: 0, reason: "the backup did not succeed"))
            return
        }
        let restore = TierRecorder(tier: .restore, role: .head, journal: journal, reporter: reporter)
        do {
            let mutation = try await restore.check("mutate data") { try marker.mutate(markerFile) }
            if let hook = prepared.meta.preHook(for: .restore) {
                try await runHook(
                    hook, name: "pre_restore hook", op: "restore", app: app, prepared: prepared, state: state,
                    recorder: restore)
            }
            try await restore.check("restore", waitLabel: "restore") {
                try await driver.restore(app, snapshot: snapshot)
            }
            try await restore.check("marker back") { try marker.verifyRestored(markerFile, mutation: mutation) }
            try await converge(app, prepared: prepared, recorder: restore, name: "converge after restore")
            try await holdStable(app, prepared: prepared, recorder: restore) {
                try await healthAndReadiness(app, prepared: prepared, state: state, recorder: restore)
            }
            if let hook = prepared.meta.backupVerify {
                try await runHook(
                    hook, name: "backup_verify hook", op: "verify", app: app, prepared: prepared, state: state,
                    recorder: restore)
            }
        } catch {
            await journal.line("restore stopped: \(error)", tier: "restore")
        }
        await state.setTier(.restore, restore.result())
    }

    // MARK: - Custom tests

    func customTier(_ app: App, prepared: PreparedRun, state: RunState) async {
        let custom = TierRecorder(tier: .custom, role: .head, journal: prepared.journal, reporter: reporter)
        guard !prepared.tests.isEmpty else {
            custom.conclude(
                .skip,
                reason:
                    "no functional tests found (tests/functional/ or tests/playwright/ in the recipe or its CI pack)")
            await custom.note("no functional tests found")
            await state.setTier(.custom, custom.result())
            return
        }
        let deps = await state.depsInfo
        var executed = 0
        var skipped: [[String: JSONValue]] = []
        let hooks = HookRunner(runner: runner)
        for test in prepared.tests {
            if Task.isCancelled {
                custom.cancel(during: test.displayName)
                break
            }
            if let refusal = test.refusal {
                custom.record(Check(name: test.displayName, status: .fail, durationSeconds: 0, message: refusal))
                await reporter.step(
                    role: "head", tier: "custom", name: test.displayName, result: .failed("refused: \(refusal)"),
                    elapsed: nil)
                continue
            }
            let missing = test.requires.filter { deps[$0]?.ready != true }
            if !missing.isEmpty {
                let reason = missing.map { name in
                    "dependency \(name) is not ready"
                        + (deps[name]?.reason.map { " (\($0))" }
                            ?? (deps[name] == nil ? " (not declared in `dependencies`)" : ""))
                }.joined(separator: "; ")
                await custom.skip(test.displayName, reason: reason)
                skipped.append(["test": .string(test.displayName), "reason": .string(reason)])
                continue
            }
            executed += 1
            let context = await context(op: "custom", app: app, prepared: prepared, state: state)
            let junit = runDirectory.appendingPathComponent("state/junit-\(executed).xml")
            let clock = ContinuousClock()
            let start = clock.now
            do {
                let outcome: HookRunner.Outcome
                // Each test writes to a log of its own (its TAP is read from there).
                let log = runDirectory.appendingPathComponent(
                    "tiers/custom-\(executed)-\(test.path.lastPathComponent).log")
                await prepared.journal.line(
                    "test \(test.displayName): running (log \(log.lastPathComponent))", tier: "custom")
                switch test.kind {
                case .executable:
                    outcome = try await hooks.run(
                        test.path, context: context, directory: test.path.deletingLastPathComponent(), log: log,
                        extraEnvironment: ["CCCI_JUNIT_FILE": junit.path], timeout: .seconds(600))
                case .pytest:
                    outcome = try await hooks.run(
                        URL(fileURLWithPath: "/usr/bin/env"),
                        arguments: [
                            "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=\(junit.path)",
                            test.path.path,
                        ],
                        context: context, directory: test.path.deletingLastPathComponent(), log: log,
                        timeout: .seconds(600))
                }
                if Task.isCancelled {
                    // Killed by the stop, not failed on its own: no verdict.
                    custom.cancel(during: test.displayName)
                    break
                }
                let elapsed = (clock.now - start).seconds
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                var cases = (try? Data(contentsOf: junit)).flatMap(JUnitReport.parse) ?? []
                if cases.isEmpty { cases = TAP.parse(output) }
                if cases.isEmpty {
                    let status: TierStatus = outcome.succeeded ? .pass : .fail
                    custom.record(
                        Check(
                            name: test.displayName, status: status, durationSeconds: elapsed,
                            message: outcome.succeeded
                                ? nil
                                : "exited \(outcome.exitCode): \(outcome.outputTail.split(separator: "\n").suffix(3).joined(separator: " | "))"
                        ))
                    await reporter.step(
                        role: "head", tier: "custom", name: test.displayName,
                        result: outcome.succeeded ? .passed : .failed("exited \(outcome.exitCode)"),
                        elapsed: .milliseconds(Int64(elapsed * 1000)))
                } else {
                    for reported in cases {
                        custom.record(
                            Check(
                                name: "\(test.displayName): \(reported.name)", status: reported.status,
                                durationSeconds: 0, message: reported.message))
                    }
                    let failedCases = cases.filter { $0.status == .fail }
                    if !outcome.succeeded && failedCases.isEmpty {
                        custom.record(
                            Check(
                                name: test.displayName, status: .fail, durationSeconds: elapsed,
                                message: "exited \(outcome.exitCode)"))
                    }
                    let verdict: Reporter.StepResult =
                        (outcome.succeeded && failedCases.isEmpty)
                        ? .passed
                        : .failed(failedCases.first.map { "\($0.name) failed" } ?? "exited \(outcome.exitCode)")
                    await reporter.step(
                        role: "head", tier: "custom", name: test.displayName, result: verdict,
                        elapsed: .milliseconds(Int64(elapsed * 1000)))
                }
            } catch {
                if Task.isCancelled {
                    custom.cancel(during: test.displayName)
                    break
                }
                custom.record(
                    Check(
                        name: test.displayName, status: .fail, durationSeconds: (clock.now - start).seconds,
                        message: "\(error)"))
            }
        }
        await state.addCustomExecuted(executed)
        try? AtomicFile.write(
            try JSONCoding.prettyEncoder.encode(
                JSONValue.object(["skipped": .array(skipped.map(JSONValue.object)), "count": .int(skipped.count)])),
            to: prepared.stateFiles.skipReport, permissions: 0o600)
        if executed == 0 {
            custom.conclude(
                .skip,
                reason:
                    "\(skipped.count) test\(skipped.count == 1 ? "" : "s") skipped, none executed: \(skipped.first?["reason"]?.stringValue ?? "")"
            )
        } else if !skipped.isEmpty && !custom.failed {
            await custom.note("\(executed) executed, \(skipped.count) skipped (dependency not ready)")
        }
        await state.setTier(.custom, custom.result())
    }
}

/// A file the run writes into an app's data to prove that data survives an upgrade, and comes
/// back with a restore. Named `.ccci-marker-<role>` (hidden), holding the run id and a nonce.
struct DataMarker: Sendable {
    let runID: String
    let role: String
    let content: String

    init(runID: String, role: String) {
        self.runID = runID
        self.role = role
        content = "ccci marker \(runID) \(SecretGenerator.value(length: 12))\n"
    }

    var fileName: String { ".ccci-marker-\(role)" }

    /// Writes the marker into `directory` (an app volume, from the host); returns its path.
    func write(into directory: URL) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(fileName)
        try AtomicFile.write(content, to: file)
        return file
    }

    /// Changes the marker and adds a file next to it; returns the added file.
    func mutate(_ file: URL) throws -> URL {
        try AtomicFile.write("mutated after the backup\n", to: file)
        let added = file.deletingLastPathComponent().appendingPathComponent(".ccci-added-after-backup")
        try AtomicFile.write("must be gone after the restore\n", to: added)
        return added
    }

    /// The marker holds its original content and the file added after the backup is gone.
    func verifyRestored(_ file: URL, mutation: URL) throws {
        let found = try? String(contentsOf: file, encoding: .utf8)
        guard found == content else {
            throw MarkerError.changed(file.path, found: found.map { String($0.prefix(60)) })
        }
        guard !FileManager.default.fileExists(atPath: mutation.path) else {
            throw MarkerError.survived(mutation.path)
        }
    }

    /// The marker is intact.
    func verifyIntact(_ file: URL) throws {
        let found = try? String(contentsOf: file, encoding: .utf8)
        guard found == content else {
            throw MarkerError.changed(file.path, found: found.map { String($0.prefix(60)) })
        }
    }
}

/// The code under test cannot be deployed (its compose files or env do not resolve).
struct RecipeUnusable: Error, CustomStringConvertible {
    let description: String
}

/// A data marker that did not behave.
enum MarkerError: Error, CustomStringConvertible {
    case noVolume(String)
    case changed(String, found: String?)
    case survived(String)

    var description: String {
        switch self {
        case .noVolume(let domain):
            return "app \(domain) has no volume to hold a data marker"
        case .changed(let path, let found):
            return
                "the data marker \(path) was \(found.map { "changed to '\($0.trimmingCharacters(in: .whitespacesAndNewlines))'" } ?? "lost")"
        case .survived(let path):
            return "\(path), written after the backup, is still there after the restore"
        }
    }
}
