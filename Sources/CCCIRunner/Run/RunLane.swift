import CCCICore
import CCCIDeploy
import CCCIStore
import Foundation

/// How a run proves its tiers once it is prepared, linted and its janitor has run (SPEC F-RUN):
/// on fresh apps — the cold lane (``ColdLane``: the head path beside the upgrade path) — or on the
/// recipe's warm canonical — the quick lane (`CCCIWarm`'s `QuickRunLane`, SPEC F-QUICK). The
/// command picks the lane, as it picks the epilogue; the coordinator runs whichever it is given.
public protocol RunLane: Sendable {
    /// What the lane needs before anything is locked or deployed; a problem is a usage or
    /// configuration error (exit 2).
    func check(_ run: LaneRun) async throws(RunSetupError)
    /// The lane's tiers. Returns what it got done — all of it, or as far as it got when cancelled.
    func work(_ run: LaneRun) async -> LaneWork
    /// After the work however it ended (a stop included) and after the run's verdict is
    /// recorded: gives back what the lane borrowed. Returns why it could not, if it could not
    /// (the lane has settled what that means for what it borrowed).
    func giveBack(_ work: LaneWork, _ run: LaneRun) async -> String?
}

extension RunLane {
    public func check(_ run: LaneRun) async throws(RunSetupError) {}
    public func giveBack(_ work: LaneWork, _ run: LaneRun) async -> String? { nil }
}

/// A prepared run as a lane sees it: what it tests, and the tier machinery it works with.
public struct LaneRun: Sendable {
    let context: RunContext
    let prepared: PreparedRun
    let sink: VerdictSink

    public var recipe: String { prepared.recipe }
    public var meta: RecipeMeta { prepared.meta }
    public var config: NodeConfig { context.config }
    public var naming: AppNaming { prepared.naming }
    /// The recipe's warm app's domain.
    public var warmDomain: AppDomain { prepared.naming.warmAppDomain(recipe: prepared.recipe) }

    /// Says `line` in the run's log and on the terminal.
    public func say(_ line: String) async { await context.say(line) }

    /// Every tier asked for (lint aside, which has run) fails for `reason`: nothing could be tried.
    public func refused(_ reason: String) -> LaneWork {
        LaneWork(paths: [.refused(context.options.stages, reason: reason)])
    }

    /// One of the node's run slots, and no app locked.
    public func admitSlot() async throws {
        _ = try await RunAdmission(context: context).admit([])
    }

    /// The quick lane's tiers on `canonical`'s warm app (``QuickLane``); `borrowMark` is written
    /// once its data is snapshotted and removed when it is given back.
    public func quickTiers(on canonical: CanonicalRecord, borrowMark: URL) async -> LaneWork {
        let steps = TierSteps(context: context, prepared: prepared, dependencies: [:])
        let (path, borrowed) = await QuickLane(steps: steps, sink: sink, canonical: canonical, borrowMark: borrowMark)
            .run()
        return LaneWork(paths: [path], borrowed: borrowed, baseVersion: canonical.version)
    }

    /// Gives back what ``quickTiers(on:borrowMark:)`` borrowed (nothing borrowed: nothing to do);
    /// returns why it could not, if it could not.
    public func giveBack(_ work: LaneWork) async -> String? {
        guard let borrowed = work.borrowed else { return nil }
        let steps = TierSteps(context: context, prepared: prepared, dependencies: [:])
        return await QuickLane.giveBack(borrowed, steps: steps)
    }
}

/// What a lane got done: its tiers, and what the run must tear down or give back.
public struct LaneWork: Sendable {
    var paths: [PathResult] = []
    /// The apps the lane locked (and created, or may have): teardown removes them.
    var locked: [LockedDomain] = []
    var dependencies: [String: DependencyInfo] = [:]
    /// Why the tiers could not run once the dependencies were up.
    var setback: RunVerdict.Setback?
    /// The apps of the paths run again on fresh apps (`retry_failed`).
    var retryApps: [String] = []
    /// What the head app cost while the tiers exercised it.
    var resources: ResourceProfile?
    /// What the quick lane took from the canonical.
    var borrowed: QuickLane.Borrowed?
    /// The version the run started from when it is not the previous release (the quick lane's
    /// canonical).
    public var baseVersion: String?

    public init() {}

    init(
        paths: [PathResult], locked: [LockedDomain] = [], borrowed: QuickLane.Borrowed? = nil,
        baseVersion: String? = nil
    ) {
        self.paths = paths
        self.locked = locked
        self.borrowed = borrowed
        self.baseVersion = baseVersion
    }

    /// Whether the lane borrowed anything.
    public var borrowedAnything: Bool { borrowed != nil }
}
