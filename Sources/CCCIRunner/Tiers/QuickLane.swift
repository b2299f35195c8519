import CCCICore
import CCCIDeploy
import CCCIStore
import Foundation

/// The quick lane (SPEC F-QUICK, `ccci run --quick`): the code under test tried on the recipe's
/// warm canonical instead of fresh apps — snapshot the canonical's data, upgrade it in place to
/// the head, run the recipe's own tests — and then, always, the canonical back: its version
/// redeployed from its own tree and its data restored from the snapshot.
///
/// Invariant: the warm app is held under its lock for the whole run, and ``giveBack(_:)`` runs
/// after the work however it ended — a failure, SIGTERM or the deadline — once the run's verdict
/// on the head is recorded (results, store, reply), still under the lock; its outcome is recorded
/// on the run after it (`give_back`). A canonical that cannot be given back is marked `broken`
/// (the next sweep re-seeds it), so its record never claims what the app does not run. The cold path's apps are never created; what is proven is the `upgrade`
/// tier (canonical version → head, its data kept) and the `custom` tier, and the ladder counts
/// only those.
struct QuickLane {
    let steps: TierSteps
    let sink: VerdictSink
    let canonical: CanonicalRecord
    /// The mark left on the canonical while it is borrowed (`CCCIWarm`'s `BorrowMark`).
    let borrowMark: URL

    /// The flag of a quick run whose head adds or drops volumes or secrets.
    static let changesVolumesOrSecrets = "quick-changes-volumes-or-secrets"

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }
    var driver: any AppDriver { steps.driver }

    /// What the lane took from the canonical, to give it back.
    struct Borrowed: Sendable {
        let app: App
        let snapshot: BackupSnapshot?
        let canonical: CanonicalRecord
        /// The canonical's env file (the head's deploy adds keys to it).
        let envFile: Data
        let borrowMark: URL
    }

    /// The warm app as its canonical tree describes it (`tree`: that tree, or the head's).
    static func spec(_ prepared: PreparedRun, context: RunContext, tree: URL) -> AppSpec {
        AppSpec(
            recipe: prepared.recipe, domain: prepared.naming.warmAppDomain(recipe: prepared.recipe), checkout: tree,
            packComposeFiles: prepared.packComposeFiles, extraEnv: prepared.meta.extraEnv,
            workDirectory: context.deployDirectory, runID: context.runID)
    }

    /// Upgrades the canonical to the head and runs the tests; returns the tiers and what to give
    /// back (`nil` when nothing was taken).
    func run() async -> (PathResult, Borrowed?) {
        var result = PathResult()
        let stages = context.options.stages
        let upgrade = TierRecorder(tier: .upgrade, role: .head, journal: context.journal, reporter: context.reporter)
        var borrowed: Borrowed?
        var headApp: App?
        // The recipe's tests, started once the head alone serves: they run while swarm watches
        // the update through its monitor period, which the verdict still waits for.
        var tests: Task<(TierResult, Int), Never>?
        do {
            let warmTree = context.config.warmTree(recipe: prepared.recipe)
            guard let app = driver.existingApp(Self.spec(prepared, context: context, tree: warmTree)) else {
                throw QuickLaneError(
                    "the warm app of \(prepared.recipe) is gone though its record says \(canonical.version) — "
                        + "`ccci canonical drop \(prepared.recipe)`, then a sweep seeds it again")
            }
            let canonicalModel = try driver.model(of: app)
            if canonicalModel.backupPlan == nil, !canonicalModel.project.volumes.isEmpty {
                throw QuickLaneError(
                    "\(prepared.recipe) keeps data in volumes but declares no backup (backupbot labels), so the "
                        + "canonical's data could not be given back — --quick needs them")
            }
            let envFile = try Data(contentsOf: app.envFile)
            let snapshot = try await upgrade.check("snapshot canonical \(canonical.version)", waitLabel: "snapshot") {
                canonicalModel.backupPlan == nil ? nil : try await driver.backup(app)
            }
            borrowed = Borrowed(
                app: app, snapshot: snapshot, canonical: canonical, envFile: envFile, borrowMark: borrowMark)
            // Before the canonical changes: should this process die outright, the next holder of
            // the warm lock finds the mark and marks the record broken.
            try AtomicFile.write("quick run \(context.runID)\n", to: borrowMark)
            // The marker goes in through the canonical, and must be read back through the head.
            let marker = DataMarker(runID: context.runID, role: "quick")
            let model = try driver.model(of: app)
            let location = DataLocation.of(model.project, stack: app.stack, plan: model.backupPlan)
            if let location {
                let access = DataAccess(driver: driver, app: app, location: location)
                let method = try await upgrade.check("write marker") {
                    try await access.write(marker.fileName, marker.content)
                }
                await upgrade.proof(method.describe(location, verb: "marker written by \(canonical.version)"))
            }
            let head = App(
                spec: Self.spec(prepared, context: context, tree: prepared.headTree), stack: app.stack,
                envFile: app.envFile, secretValues: app.secretValues)
            let (ready, env) = try await steps.preDeploy(
                head, op: "upgrade", redeploy: true, recorder: upgrade, name: "pre_deploy hook (head)")
            headApp = ready
            // What a quick run cannot prove: volumes and secrets the canonical never had.
            let headProject = try driver.model(of: ready).project
            if Set(headProject.volumes.keys) != Set(canonicalModel.project.volumes.keys)
                || Set(headProject.secrets.keys) != Set(canonicalModel.project.secrets.keys)
            {
                result.flags.append(Self.changesVolumesOrSecrets)
                await upgrade.note(
                    "the head changes the recipe's volumes or secrets: only a cold run proves them on a fresh install")
            }
            let record = try await upgrade.check("redeploy head", waitLabel: "redeploy") {
                try await driver.deploy(
                    ready, mode: .chaos, envOverrides: steps.wiring.upgradeExtraEnv.merging(env) { _, hook in hook })
            }
            await prepared.images.record(record.images, app: "upgrade")
            if stages.contains(.custom) {
                try await upgrade.check("head serving", waitLabel: "serving") {
                    _ = try await driver.waitServing(ready, timeout: prepared.deployTimeout)
                }
                tests = Task { await CustomTier(steps: steps).run(ready) }
            }
            try await steps.converge(ready, recorder: upgrade)
            try await steps.holdStable(ready, recorder: upgrade) {
                try await steps.verifyHead(ready, recorder: upgrade)
                try await steps.healthAndReadiness(ready, recorder: upgrade)
            }
            if let location {
                // As the cold upgrade reads it (`upgrade_data` honoured).
                try await UpgradePath(steps: steps, recorder: upgrade).expectMarker(
                    marker, from: location, in: ready, base: canonical.version, recorder: upgrade)
            }
        } catch {
            context.journal.line("quick upgrade stopped: \(error)", tier: "upgrade")
        }
        result.tiers[.upgrade] = upgrade.result()
        await sink(.upgrade, result.tiers[.upgrade]!)
        // Tests of a head that did not hold prove nothing: they stop, as they do on a stop.
        if upgrade.failed || Task.isCancelled { tests?.cancel() }
        let running = tests
        let ran = await withTaskCancellationHandler {
            await running?.value
        } onCancel: {
            running?.cancel()
        }
        guard stages.contains(.custom), !Task.isCancelled else { return (result, borrowed) }
        guard headApp != nil, !upgrade.failed, let (custom, executed) = ran else {
            // Tests that ran against a head swarm then rolled back, or that never started, prove nothing.
            let skipped = TierResult(
                status: .skip, durationSeconds: 0, reason: "the canonical was not upgraded to the head")
            result.tiers[.custom] = skipped
            await sink(.custom, skipped)
            return (result, borrowed)
        }
        result.customTestsExecuted = executed
        result.tiers[.custom] = custom
        await sink(.custom, custom)
        return (result, borrowed)
    }

    /// Gives the canonical back: its version redeployed from its tree, its data restored, proven
    /// healthy. Returns why it could not be, if it could not.
    static func giveBack(_ borrowed: Borrowed, steps: TierSteps) async -> String? {
        let context = steps.context
        let driver = steps.driver
        let app = borrowed.app
        let version = borrowed.canonical.version
        context.journal.line("quick: giving the canonical back (\(version))")
        await context.reporter.print(["quick: returning \(app.domain) to the canonical \(version)"])
        do {
            guard let pinned = RecipeVersion(version) else {
                throw QuickLaneError("the canonical's version '\(version)' is not a recipe version")
            }
            try AtomicFile.write(borrowed.envFile, to: app.envFile, permissions: 0o640)
            // Exactly the canonical: a service only the head defines goes.
            _ = try await driver.deploy(app, mode: .pinned(pinned), prune: true)
            _ = try await driver.waitConverged(app, timeout: steps.prepared.deployTimeout)
            if let snapshot = borrowed.snapshot {
                try await driver.restore(app, snapshot: snapshot)
                _ = try await driver.waitConverged(app, timeout: steps.prepared.deployTimeout)
            }
            _ = try await HealthChecker(probe: steps.prepared.probe).waitHealthy(
                domain: app.domain.name, path: steps.prepared.meta.healthPath,
                accepted: steps.prepared.meta.healthStatuses, timeout: min(steps.prepared.deployTimeout, .seconds(120)))
            context.journal.line("quick: the canonical is \(version) again, its data restored")
            try? FileManager.default.removeItem(at: borrowed.borrowMark)
            return nil
        } catch {
            let reason = "the canonical \(version) could not be given back: \(error)"
            context.journal.line("quick: \(reason)")
            return reason
        }
    }
}

/// The quick lane cannot go on.
struct QuickLaneError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
