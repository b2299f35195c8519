import CCCICore
import CCCIDeploy
import Foundation

/// The tiers a path of a run concluded, and how many functional tests ran.
struct PathResult: Sendable {
    var tiers: [Tier: TierResult] = [:]
    var customTestsExecuted = 0
    /// Conditions the results' `flags` carry (`quick-changes-volumes-or-secrets`).
    var flags: [String] = []

    /// Every tier of `stages` (lint aside, which runs before any lane) concluded `status` for
    /// `reason` without being tried: no app could be created, a dependency failed.
    static func refused(_ stages: [Tier], reason: String, status: TierStatus = .fail) -> PathResult {
        var result = PathResult()
        for tier in stages where tier != .lint {
            result.tiers[tier] = TierResult(status: status, durationSeconds: 0, reason: reason)
        }
        return result
    }
}

/// The head app's path (SPEC F-INSTALL, F-BACKUP-TIER, F-RESTORE-TIER, F-CUSTOM, F-LEVEL): a fresh
/// install of the code under test — what a new operator does — then, on that app, its
/// screenshot, backup, restore and the recipe's own tests. Each tier concludes once, reported to `sink` as it does; a stopped run
/// leaves the tiers it did not reach without a verdict.
struct HeadPath {
    let steps: TierSteps
    let sink: VerdictSink

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }

    func run() async -> PathResult {
        var result = PathResult()
        let stages = context.options.stages
        guard stages.contains(where: { $0 != .upgrade && $0 != .lint }) else { return result }
        let (install, app) = await self.install()
        await conclude(.install, install, into: &result)
        guard install.status != .cancelled, !Task.isCancelled else { return result }
        guard let app, install.status != .fail else {
            for tier in [Tier.screenshot, .backup, .restore, .custom] where stages.contains(tier) {
                await conclude(
                    tier, TierResult(status: .skip, durationSeconds: 0, reason: "the head app did not install"),
                    into: &result)
            }
            return result
        }
        if stages.contains(.screenshot), !Task.isCancelled {
            await conclude(.screenshot, await ScreenshotTier(steps: steps).run(app), into: &result)
        }
        if stages.contains(.backup) || stages.contains(.restore) {
            let tiers = await BackupAndRestore(steps: steps).run(app)
            for (tier, verdict) in tiers { await conclude(tier, verdict, into: &result) }
        }
        if stages.contains(.custom), !Task.isCancelled {
            let (custom, executed) = await CustomTier(steps: steps).run(app)
            result.customTestsExecuted = executed
            await conclude(.custom, custom, into: &result)
        }
        return result
    }

    func conclude(_ tier: Tier, _ verdict: TierResult, into result: inout PathResult) async {
        result.tiers[tier] = verdict
        await sink(tier, verdict)
    }

    /// A fresh deploy of the code under test converges, stays healthy, answers on its domain and
    /// runs the head's code. Returns the verdict and the app (when it was created).
    func install() async -> (TierResult, App?) {
        let install = TierRecorder(tier: .install, role: .head, journal: context.journal, reporter: context.reporter)
        var app: App?
        do {
            if let problem = prepared.headProblem {
                try await install.check("read recipe") { throw RecipeUnusable(description: problem) }
            }
            let fresh = try await install.check("create app") {
                try await steps.createApp(role: .head, domain: steps.domain(.head), tree: prepared.headTree)
            }
            app = fresh
            let (created, env) = try await steps.preDeploy(fresh, op: "install", recorder: install)
            app = created
            let record = try await install.check("deploy") {
                try await steps.driver.deploy(created, mode: .chaos, envOverrides: env)
            }
            await prepared.images.record(record.images, app: "head")
            try await steps.converge(created, recorder: install)
            if let hook = prepared.meta.preHook(for: .install) {
                try await steps.runHook(hook, name: "pre_install hook", op: "install", app: created, recorder: install)
            }
            try await steps.holdStable(created, recorder: install) {
                try await steps.healthAndReadiness(created, recorder: install)
                try await steps.verifyHead(created, recorder: install)
            }
        } catch {
            context.journal.line("install stopped: \(error)", tier: "install")
        }
        if !context.options.stages.contains(.install) && !install.failed {
            install.conclude(.skip, reason: "not requested (the head app was still deployed for the other tiers)")
        }
        return (install.result(), app)
    }
}

/// The code under test cannot be deployed (its compose files or env do not resolve).
struct RecipeUnusable: Error, CustomStringConvertible {
    let description: String
}
