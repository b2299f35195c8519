import CCCICore
import CCCIDeploy
import Foundation

/// The backup and restore tiers (SPEC F-BACKUP-TIER, F-RESTORE-TIER) on the head app: a marker
/// written through the running app, a backup that must hold the app's data (not only the marker),
/// the data mutated, restored, and the marker read back — the mutation gone — as the running app
/// sees it. N/A when the recipe is not backup capable.
struct BackupAndRestore {
    let steps: TierSteps

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }
    var driver: any AppDriver { steps.driver }

    func run(_ app: App) async -> [Tier: TierResult] {
        let stages = context.options.stages
        let model: AppModel
        do {
            model = try driver.model(of: app)
        } catch {
            return [
                .backup: TierResult(status: .fail, durationSeconds: 0, reason: "cannot read the backup plan: \(error)"),
                .restore: TierResult(status: .skip, durationSeconds: 0, reason: "no backup"),
            ]
        }
        let capable = prepared.meta.backupCapable ?? (model.backupPlan != nil)
        guard capable, let plan = model.backupPlan else {
            let reason =
                prepared.meta.backupCapable == false
                ? "backup_capable = false in the recipe's customization"
                : "no service is labelled backupbot.backup=true"
            if prepared.meta.backupCapable == true {
                return [
                    .backup: TierResult(
                        status: .fail, durationSeconds: 0, reason: "backup_capable = true but \(reason)"),
                    .restore: TierResult(status: .skip, durationSeconds: 0, reason: "no backup"),
                ]
            }
            context.journal.line("backup and restore n/a: \(reason)", tier: "backup")
            let gap =
                prepared.meta.backupCapable == false ? NACoverage.Gap.backupCapableFalse : NACoverage.Gap.noBackupLabels
            var verdicts: [Tier: TierResult] = [:]
            for tier in [Tier.backup, .restore] where stages.contains(tier) {
                verdicts[tier] = TierResult(
                    status: .na, durationSeconds: 0, reason: reason,
                    na: TierNA(gap: NACoverage.Gap.orDeclare(gap, [.backup, .restore])))
            }
            return verdicts
        }
        // A snapshot that proves incomplete (the marker not back, `backup_verify` failing) is taken
        // again, at most `backup_retries` times: a dump written late once is the recipe's flake,
        // and the result says so — never a clean pass.
        let attempts = prepared.meta.backupRetries + 1
        var failures: [String] = []
        for attempt in 1...attempts {
            let marker = DataMarker(runID: context.runID, role: attempt == 1 ? "backup" : "backup-\(attempt)")
            var (backup, taken, missing) = await self.backup(app, project: model.project, plan: plan, marker: marker)
            var verdicts: [Tier: TierResult] = [.backup: backup]
            // A stop is never an incomplete snapshot: what the run got done is what it reports.
            var stopped = Task.isCancelled || backup.status == .cancelled
            var incomplete = stopped ? nil : missing
            if stages.contains(.restore), !stopped {
                if let (snapshot, access) = taken, backup.status != .fail {
                    let (restore, lacked) = await self.restore(app, snapshot: snapshot, access: access, marker: marker)
                    verdicts[.restore] = restore
                    stopped = Task.isCancelled || restore.status == .cancelled
                    if !stopped, let lacked { incomplete = "snapshot \(snapshot.id.prefix(8)) \(lacked)" }
                } else {
                    verdicts[.restore] = TierResult(
                        status: .skip, durationSeconds: 0, reason: "the backup did not succeed")
                }
            }
            if let incomplete { failures.append(incomplete) }
            if let incomplete, attempt < attempts, !stopped, !Task.isCancelled {
                await context.say(
                    "backup attempt \(attempt) of \(attempts): the snapshot proved incomplete (\(incomplete)); "
                        + "taking the backup again")
                continue
            }
            // Decided (or stopped) on this attempt. Earlier attempts are said on both tiers.
            guard attempt > 1 else { return verdicts }
            let retry = TierRetry(attempt: attempt, of: attempts, failures: failures)
            if incomplete != nil, !stopped, stages.contains(.backup), backup.status == .pass {
                // The snapshots were taken, but none held the app's data: the backup is what failed.
                backup.checks.append(
                    Check(
                        name: "snapshot complete", status: .fail, durationSeconds: 0,
                        message: retry.summary(.fail)))
                backup.status = .fail
                backup.reason = "every snapshot proved incomplete"
            } else if missing != nil, !stopped {
                backup.reason = "every snapshot proved incomplete"
            }
            backup.retry = retry
            verdicts[.backup] = backup
            if var restore = verdicts[.restore], restore.status != .skip {
                restore.retry = retry
                verdicts[.restore] = restore
            }
            return verdicts
        }
        return [:]
    }

    /// The backup tier; returns its verdict and, when it took one, the snapshot and the data it
    /// holds — or, when the snapshot lacks cc-ci's marker written before it, what it lacked.
    func backup(
        _ app: App, project: ComposeProject, plan: BackupPlan, marker: DataMarker
    ) async -> (TierResult, (BackupSnapshot, DataAccess)?, incomplete: String?) {
        let backup = TierRecorder(tier: .backup, role: .head, journal: context.journal, reporter: context.reporter)
        var taken: (BackupSnapshot, DataAccess)?
        var incomplete: String?
        do {
            // Never back up an app that is still restarting.
            try await steps.converge(app, recorder: backup, name: "converge before backup")
            if let hook = prepared.meta.preHook(for: .backup) {
                try await steps.runHook(hook, name: "pre_backup hook", op: "backup", app: app, recorder: backup)
            }
            guard let location = DataLocation.of(project, stack: app.stack, plan: plan) else {
                throw MarkerError.noVolume(app.domain.name)
            }
            let data = DataAccess(driver: driver, app: app, location: location)
            let method = try await backup.check("write marker") {
                try await data.write(marker.fileName, marker.content)
            }
            await backup.proof(method.describe(location, verb: "marker written"))
            let snapshot = try await backup.check("backup", waitLabel: "backup") {
                let snapshot = try await driver.backup(app)
                // cc-ci's own marker is not the app's data: a backup holding only it captured nothing.
                guard snapshot.files > 1 else {
                    throw DriverError.emptySnapshot(domain: app.domain.name, paths: snapshot.paths, onlyMarker: true)
                }
                return snapshot
            }
            // The marker went in before the snapshot: a snapshot without it missed what the app had.
            if let markers = snapshot.markers, !markers.contains(where: { $0.hasSuffix("/" + marker.fileName) }) {
                let missing =
                    "snapshot \(snapshot.id.prefix(8)) lacked cc-ci's marker \(location.directory)/\(marker.fileName)"
                incomplete = missing
                try await backup.check("marker in snapshot") { throw SnapshotIncomplete(description: missing) }
            }
            try await prepared.opState.record("backup", "snapshot_id", .string(snapshot.id))
            try await prepared.opState.record("backup", "files", .int(snapshot.files))
            await backup.note("snapshot \(snapshot.id.prefix(12)): \(snapshot.files) files, \(snapshot.bytes) bytes")
            taken = (snapshot, data)
        } catch {
            context.journal.line("backup stopped: \(error)", tier: "backup")
        }
        if !context.options.stages.contains(.backup) && !backup.failed {
            backup.conclude(.skip, reason: "not requested (a backup was still taken for restore)")
        }
        return (backup.result(), taken, backup.failed ? incomplete : nil)
    }

    /// The restore tier; returns its verdict and, when `backup_verify` shows the snapshot was
    /// incomplete, what it said. (A marker the snapshot held but the restore did not bring back is
    /// the restore's failure, not the snapshot's.)
    func restore(
        _ app: App, snapshot: BackupSnapshot, access: DataAccess, marker: DataMarker
    ) async -> (TierResult, incomplete: String?) {
        let restore = TierRecorder(tier: .restore, role: .head, journal: context.journal, reporter: context.reporter)
        var incomplete: String?
        do {
            try await restore.check("mutate data") {
                _ = try await access.write(marker.fileName, "mutated after the backup\n")
                _ = try await access.write(DataMarker.addedFileName, "must be gone after the restore\n")
            }
            if let hook = prepared.meta.preHook(for: .restore) {
                try await steps.runHook(hook, name: "pre_restore hook", op: "restore", app: app, recorder: restore)
            }
            try await restore.check("restore", waitLabel: "restore") {
                try await driver.restore(app, snapshot: snapshot)
            }
            try await steps.converge(app, recorder: restore, name: "converge after restore")
            try await steps.holdStable(app, recorder: restore) {
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
                try await steps.healthAndReadiness(app, recorder: restore)
            }
            if let hook = prepared.meta.backupVerify {
                do {
                    try await steps.runHook(
                        hook, name: "backup_verify hook", op: "verify", app: app, recorder: restore)
                } catch let failure as CheckFailure {
                    // What the hook said (redacted), without the "hook … exited N: " it comes with.
                    let said =
                        failure.message.range(of: " exited [0-9]+: ", options: .regularExpression)
                        .map { String(failure.message[$0.upperBound...]) } ?? failure.message
                    incomplete = "failed backup_verify: \(said)"
                    throw failure
                }
            }
        } catch {
            context.journal.line("restore stopped: \(error)", tier: "restore")
        }
        return (restore.result(), restore.failed ? incomplete : nil)
    }
}

/// A snapshot that lacks data written before it was taken.
struct SnapshotIncomplete: Error, CustomStringConvertible {
    let description: String
}
