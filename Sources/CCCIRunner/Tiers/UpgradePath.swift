import CCCICore
import CCCIDeploy
import CCCIGit
import Foundation

/// The upgrade app's path (SPEC F-UPGRADE) from one base release — what an existing operator
/// does: deploy the base release, write a data marker through the base app, redeploy the head in
/// place, prove the head runs, converge, stay healthy, and read the marker back through the head
/// app, where the head keeps that data. ``UpgradeChain`` runs one per base of `upgrade_from`.
struct UpgradePath {
    /// How far the path got: a failure while the base release itself is deployed is the base's,
    /// not the head's.
    enum Phase: Sendable {
        /// Checking out, creating the app, the pre-deploy hook.
        case setup
        /// Deploying the base release and waiting for it to converge and be healthy.
        case base
        /// The base ran: the marker, the redeploy at the head, and what the head must prove.
        case upgrade
    }

    /// The path's verdict and where it ended.
    struct Outcome: Sendable {
        let result: TierResult
        let phase: Phase
    }

    /// Its steps (`steps.base` picks the base release).
    let steps: TierSteps
    /// Records its checks.
    let recorder: TierRecorder

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }
    var driver: any AppDriver { context.driver }
    var upgradeTree: URL { prepared.upgradeTree(attempt: steps.attempt, base: steps.base) }

    func run() async -> Outcome {
        let upgrade = recorder
        let base = prepared.upgradeBases[steps.base]
        var phase = Phase.setup
        do {
            if steps.base == 0 {
                try await prepared.opState.record("upgrade", "base_version", .string(base.version.raw))
            }
            try await upgrade.check("checkout \(base.version.raw)") {
                // From the head tree, which has every object — a pull request's head included,
                // which a fresh clone of the remote would not.
                let local = RecipeSource(
                    name: prepared.recipe, location: prepared.headTree.path, localPath: prepared.headTree)
                try await RecipeCheckout(git: context.git, source: local).clone(
                    to: upgradeTree, commit: base.tag.commit)
            }
            var app = try await upgrade.check("create app") {
                try await steps.createApp(role: .upgrade, domain: steps.domain(.upgrade), tree: upgradeTree)
            }
            let (baseApp, baseEnv) = try await steps.preDeploy(
                app, op: "upgrade", recorder: upgrade, name: "pre_deploy hook (base)")
            app = baseApp
            phase = .base
            let baseRecord = try await upgrade.check("deploy \(base.version.raw)") {
                try await driver.deploy(app, mode: .pinned(base.version), envOverrides: baseEnv)
            }
            await prepared.images.record(
                baseRecord.images, app: steps.base == 0 ? "upgrade-base" : "upgrade-base-\(base.version.raw)")
            try await steps.converge(app, recorder: upgrade, name: "converge base")
            try await steps.health(app, recorder: upgrade, name: "base health")
            phase = .upgrade
            // The marker goes in through the base app, where the base keeps its data.
            let marker = DataMarker(
                runID: context.runID, role: steps.base == 0 ? "upgrade" : "upgrade-\(steps.base + 1)")
            let baseModel = try driver.model(of: app)
            let baseLocation = DataLocation.of(baseModel.project, stack: app.stack, plan: baseModel.backupPlan)
            if let baseLocation {
                let access = DataAccess(driver: driver, app: app, location: baseLocation)
                let method = try await upgrade.check("write marker") {
                    try await access.write(marker.fileName, marker.content)
                }
                await upgrade.proof(method.describe(baseLocation, verb: "marker written by \(base.version.raw)"))
            } else {
                await upgrade.skip("write marker", reason: "the recipe keeps no data in named volumes")
            }
            if let hook = prepared.meta.preHook(for: .upgrade) {
                try await steps.runHook(hook, name: "pre_upgrade hook", op: "upgrade", app: app, recorder: upgrade)
            }
            try await upgrade.check("checkout head") {
                try await context.git.checkout(prepared.head.commit, in: upgradeTree, force: true)
            }
            let (ready, env) = try await steps.preDeploy(
                app, op: "upgrade", redeploy: true, recorder: upgrade, name: "pre_deploy hook (head)")
            app = ready
            let record = try await upgrade.check("redeploy head", waitLabel: "redeploy") {
                try await driver.deploy(
                    app, mode: .chaos, envOverrides: steps.wiring.upgradeExtraEnv.merging(env) { _, hook in hook })
            }
            await prepared.images.record(
                record.images, app: steps.base == 0 ? "upgrade" : "upgrade-from-\(base.version.raw)")
            if !record.addedEnvKeys.isEmpty {
                await upgrade.note(
                    "env keys added from the head's .env.sample: \(record.addedEnvKeys.joined(separator: ", "))")
            }
            try await steps.converge(app, recorder: upgrade)
            try await steps.holdStable(app, recorder: upgrade) {
                try await steps.verifyHead(app, recorder: upgrade)
                try await steps.healthAndReadiness(app, recorder: upgrade)
            }
            if let baseLocation {
                // …and is read back through the head app, where the head keeps that data.
                try await expectMarker(marker, from: baseLocation, in: app, base: base.version.raw, recorder: upgrade)
            }
        } catch {
            upgrade.line("upgrade stopped: \(error)")
        }
        return Outcome(result: upgrade.result(), phase: phase)
    }

    /// The check that `marker`, written by the `base` release at `location`, reads back unchanged
    /// through the head app (where the head keeps that data; `upgrade_data` when declared).
    func expectMarker(
        _ marker: DataMarker, from location: DataLocation, in app: App, base: String, recorder: TierRecorder
    ) async throws {
        try await recorder.check("marker intact") {
            let inHead = try headLocation(of: location, app: app, base: base, declared: prepared.meta.upgradeData)
            let access = DataAccess(driver: driver, app: app, location: inHead)
            let (found, method) = try await access.read(marker.fileName)
            let how = method.describe(inHead, verb: "read")
            guard found == marker.content else {
                throw MarkerError.changed("\(inHead.directory)/\(marker.fileName)", found: found, how: how)
            }
            await recorder.proof(how)
        }
    }

    /// Where the head keeps the data the base wrote at `base`: where the recipe says (`upgrade_data`,
    /// after a migration), else where the head's service mounts the same volume.
    func headLocation(
        of base: DataLocation, app: App, base version: String, declared: (service: String, path: String)?
    ) throws -> DataLocation {
        let project = try driver.model(of: app).project
        if let declared {
            guard let service = project.services[declared.service] else {
                throw UpgradeDataLost(
                    message: "`upgrade_data` names service `\(declared.service)`, which the head does not have "
                        + "(services: \(project.serviceNames.joined(separator: ", ")))")
            }
            // The mount the declared path lies in, for the mountpoint fallback.
            let mount = service.namedVolumes.filter {
                declared.path == $0.target || declared.path.hasPrefix($0.target + "/")
            }.max { $0.target.count < $1.target.count }
            let volume = mount?.source ?? base.volume
            let subpath = mount.map { String(declared.path.dropFirst($0.target.count)).trimmingCharacters(in: ["/"]) }
            return DataLocation(
                service: declared.service, volume: volume,
                dockerVolume: project.dockerVolumeName(volume, stack: app.stack),
                target: mount?.target ?? declared.path, subpath: subpath?.isEmpty == false ? subpath : nil)
        }
        return try base.inHead(project, stack: app.stack, baseVersion: version)
    }
}
