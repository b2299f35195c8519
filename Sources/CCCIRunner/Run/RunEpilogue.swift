import CCCICore
import CCCIDeploy
import CCCIGit
import CCCISystem
import Foundation

/// What runs after a run's verdict and teardown, before its results are written: the warm
/// canonical's promotion (`CCCIWarm`). Its summary goes into the results.
public protocol RunEpilogue: Sendable {
    func afterRun(_ run: FinishedRun) async -> PromotionSummary?
}

/// A run that has its verdict, its apps removed — what an epilogue may look at and work with.
public struct FinishedRun: Sendable {
    public let runID: String
    public let options: RunOptions
    public let config: NodeConfig
    public let naming: AppNaming
    public let driver: any AppDriver
    public let git: any GitClient
    public let journal: RunJournal
    public let reporter: Reporter
    public let secrets: SecretRegistry

    /// The verdict.
    public let outcome: RunOutcome
    /// Every tier's verdict (lint and screenshot included).
    public let tiers: [Tier: TierStatus]
    /// Whether teardown left nothing behind.
    public let residueClean: Bool

    public let recipe: String
    public let source: RecipeSource
    public let head: RecipeHead
    public let meta: RecipeMeta
    public let packComposeFiles: [URL]
    public let probe: HTTPSProbe
    public let deployTimeout: Duration
}

extension RunCoordinator {
    /// The epilogue's say on a run that got past its setup (`nil`: no epilogue, or nothing to say).
    func epilogue(
        _ prepared: PreparedRun, context: RunContext, decision: RunVerdict.Decision, residueClean: Bool
    ) async -> PromotionSummary? {
        guard let epilogue else { return nil }
        let finished = FinishedRun(
            runID: runID, options: options, config: config, naming: prepared.naming, driver: driver, git: context.git,
            journal: context.journal, reporter: reporter, secrets: secrets, outcome: decision.outcome,
            tiers: decision.tiers.mapValues(\.status), residueClean: residueClean, recipe: prepared.recipe,
            source: prepared.head.source, head: prepared.head, meta: prepared.meta,
            packComposeFiles: prepared.packComposeFiles, probe: prepared.probe, deployTimeout: prepared.deployTimeout)
        let summary = await epilogue.afterRun(finished)
        if let summary {
            context.journal.line(summary.line)
            await reporter.print([summary.line])
        }
        return summary
    }
}
