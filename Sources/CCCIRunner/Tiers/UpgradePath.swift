import CCCICore
import CCCIDeploy
import CCCISwarm
import Foundation

/// The upgrade app's path (SPEC F-UPGRADE): deploy the base release, write a data marker,
/// redeploy the head in place, prove the head runs, converge, health, marker intact — what an
/// existing operator does.
extension RunCoordinator {
    func upgradePath(_ prepared: PreparedRun, state: RunState) async {
        guard options.stages.contains(.upgrade) else { return }
        let journal = prepared.journal
        let upgrade = TierRecorder(tier: .upgrade, role: .upgrade, journal: journal, reporter: reporter)
        guard let base = prepared.upgradeBase else {
            let reason = prepared.upgradeBaseReason ?? "no base release"
            await upgrade.note("upgrade n/a: \(reason)")
            upgrade.conclude(.na, reason: reason)
            await state.setTier(.upgrade, upgrade.result())
            return
        }
        do {
            try await prepared.opState.record("upgrade", "base_version", .string(base.version.raw))
            try await upgrade.check("checkout \(base.version.raw)") {
                // From the head tree, which has every object — a pull request's head included,
                // which a fresh clone of the remote would not.
                let local = RecipeSource(
                    name: prepared.recipe, location: prepared.headTree.path, localPath: prepared.headTree)
                try await RecipeCheckout(git: git, source: local).clone(
                    to: prepared.upgradeTree, commit: base.tag.commit)
            }
            let app = try await upgrade.check("create app") {
                try await createApp(
                    role: .upgrade, domain: prepared.upgradeDomain, tree: prepared.upgradeTree, prepared: prepared,
                    state: state)
            }
            let baseRecord = try await upgrade.check("deploy \(base.version.raw)") {
                try await driver.deploy(app, mode: .pinned(base.version))
            }
            await state.record("upgrade-base", baseRecord)
            try await converge(app, prepared: prepared, recorder: upgrade, name: "converge base")
            try await health(app, prepared: prepared, recorder: upgrade, name: "base health")
            let marker = DataMarker(runID: runID, role: "upgrade")
            var markerFile: URL?
            if let directory = try await driver.backupEngine(for: app).markerDirectory() {
                markerFile = try await upgrade.check("write marker") { try marker.write(into: directory) }
            } else {
                await upgrade.skip("write marker", reason: "the recipe keeps no data in named volumes")
            }
            if let hook = prepared.meta.preHook(for: .upgrade) {
                try await runHook(
                    hook, name: "pre_upgrade hook", op: "upgrade", app: app, prepared: prepared, state: state,
                    recorder: upgrade)
            }
            try await upgrade.check("checkout head") {
                try await git.checkout(prepared.head.commit, in: prepared.upgradeTree, force: true)
            }
            let record = try await upgrade.check("redeploy head", waitLabel: "redeploy") {
                try await driver.deploy(app, mode: .chaos, envOverrides: prepared.meta.upgradeExtraEnv)
            }
            await state.record("upgrade-head", record)
            if !record.addedEnvKeys.isEmpty {
                await upgrade.note(
                    "env keys added from the head's .env.sample: \(record.addedEnvKeys.joined(separator: ", "))")
            }
            try await converge(app, prepared: prepared, recorder: upgrade)
            try await holdStable(app, prepared: prepared, recorder: upgrade) {
                try await verifyHeadLabel(app, prepared: prepared, recorder: upgrade)
                try await healthAndReadiness(app, prepared: prepared, state: state, recorder: upgrade)
            }
            if let markerFile {
                try await upgrade.check("marker intact") { try marker.verifyIntact(markerFile) }
            }
        } catch {
            await journal.line("upgrade stopped: \(error)", tier: "upgrade")
        }
        await state.setTier(.upgrade, upgrade.result())
    }
}
