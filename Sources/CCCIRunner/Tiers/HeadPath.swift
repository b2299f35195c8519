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
        let project: ComposeProject
        do {
            (plan, project) = try engine.plan()
        } catch {
            await state.setTier(
                .backup, TierResult(status: .fail, durationSeconds: 0, reason: "cannot read the backup plan: \(error)"))
            await state.setTier(.restore, TierResult(status: .skip, durationSeconds: 0, reason: "no backup"))
            return
        }
        let capable = prepared.meta.backupCapable ?? (plan != nil)
        guard capable, let plan else {
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
        var access: DataAccess?
        do {
            // Never back up an app that is still restarting.
            try await converge(app, prepared: prepared, recorder: backup, name: "converge before backup")
            if let hook = prepared.meta.preHook(for: .backup) {
                try await runHook(
                    hook, name: "pre_backup hook", op: "backup", app: app, prepared: prepared, state: state,
                    recorder: backup)
            }
            guard let location = DataLocation.of(project, stack: app.stack, plan: plan) else {
                throw MarkerError.noVolume(app.domain.name)
            }
            let data = DataAccess(driver: driver, app: app, location: location)
            access = data
            let method = try await backup.check("write marker") {
                try await data.write(marker.fileName, marker.content)
            }
            await backup.proof(method.describe(location, verb: "marker written"))
            let taken = try await backup.check("backup", waitLabel: "backup") {
                let taken = try await driver.backup(app)
                // cc-ci's own marker is not the app's data: a backup holding only it captured nothing.
                guard taken.files > 1 else {
                    throw DriverError.emptySnapshot(domain: app.domain.name, paths: taken.paths, onlyMarker: true)
                }
                return taken
            }
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
        guard let snapshot, let access, !backup.failed else {
            await state.setTier(
                .restore, TierResult(status: .skip, durationSeconds: 0, reason: "the backup did not succeed"))
            return
        }
        let restore = TierRecorder(tier: .restore, role: .head, journal: journal, reporter: reporter)
        do {
            try await restore.check("mutate data") {
                _ = try await access.write(marker.fileName, "mutated after the backup\n")
                _ = try await access.write(DataMarker.addedFileName, "must be gone after the restore\n")
            }
            if let hook = prepared.meta.preHook(for: .restore) {
                try await runHook(
                    hook, name: "pre_restore hook", op: "restore", app: app, prepared: prepared, state: state,
                    recorder: restore)
            }
            try await restore.check("restore", waitLabel: "restore") {
                try await driver.restore(app, snapshot: snapshot)
            }
            try await converge(app, prepared: prepared, recorder: restore, name: "converge after restore")
            try await holdStable(app, prepared: prepared, recorder: restore) {
                // The restored data as the running app sees it: the marker back, the later file gone.
                try await restore.check("marker back") {
                    let (found, method) = try await access.read(marker.fileName)
                    let how = method.describe(access.location, verb: "read")
                    guard found == marker.content else {
                        throw MarkerError.changed(
                            "\(access.location.directory)/\(marker.fileName)", found: found, how: how)
                    }
                    let (added, _) = try await access.read(DataMarker.addedFileName)
                    guard added == nil else {
                        throw MarkerError.survived("\(access.location.directory)/\(DataMarker.addedFileName)", how: how)
                    }
                    await restore.proof(how)
                }
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
}

/// The code under test cannot be deployed (its compose files or env do not resolve).
struct RecipeUnusable: Error, CustomStringConvertible {
    let description: String
}
