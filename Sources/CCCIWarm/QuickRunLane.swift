import CCCICore
import CCCIRunner
import CCCIStore
import Foundation
import Synchronization

/// The quick lane (`ccci run --quick`, SPEC F-QUICK) as the run's ``RunLane``: the code under test
/// tried on the recipe's warm canonical, which this module owns. Before anything is locked, the
/// recipe must have a healthy canonical; then a run slot and the warm app's lock, a dead borrower's
/// mark settled (``BorrowMark``), the canonical checked unchanged, and the runner's quick tiers.
/// After them, however they ended, and once the run's verdict is recorded, the canonical is given
/// back — or marked `broken` (the run records why in `give_back`), and the next sweep re-seeds it.
public final class QuickRunLane: RunLane {
    let store: (any CanonicalStore)?
    /// The canonical ``check(_:)`` found, which the work must still find under the lock.
    private let canonical = Mutex<CanonicalRecord?>(nil)

    public init(store: (any CanonicalStore)?) {
        self.store = store
    }

    public func check(_ run: LaneRun) async throws(RunSetupError) {
        let recipe = run.recipe
        let seed = "run a cold run of a release (`ccci run \(recipe) --ref <tag>`) or the sweep first"
        guard run.meta.warmCanonical else {
            throw .recipe(
                "--quick: \(recipe) is not enrolled for a warm canonical (`warm_canonical = true` in its pack)")
        }
        guard run.meta.dependencies.isEmpty else {
            throw .recipe("--quick: \(recipe) has dependencies, which warm canonicals do not support yet")
        }
        guard let store else {
            throw .recipe("--quick: the results store, which holds the canonicals, cannot be opened")
        }
        let record: CanonicalRecord?
        do {
            record = try await store.canonical(recipe)
        } catch {
            throw .recipe("--quick: \(error)")
        }
        guard let record else { throw .recipe("--quick: \(recipe) has no warm canonical — \(seed)") }
        guard record.status == "healthy" else {
            throw .recipe("--quick: the canonical of \(recipe) (\(record.version)) is \(record.status) — \(seed)")
        }
        canonical.withLock { $0 = record }
    }

    public func work(_ run: LaneRun) async -> LaneWork {
        guard let expected = canonical.withLock({ $0 }) else { return run.refused("--quick: no canonical was checked") }
        let warm = run.warmDomain
        do {
            try await run.admitSlot()
            _ = try await AppLocks.acquire(domain: warm, in: run.config.lockDirectory) {
                await run.say("waiting for \(warm) (a promotion or another quick run has it)")
            }
            if let settled = await BorrowMark.settle(recipe: run.recipe, config: run.config, store: store) {
                throw WarmError(settled)
            }
            // The canonical may have moved while this run waited for its lock.
            guard let current = try await store?.canonical(run.recipe), current == expected else {
                throw WarmError("the canonical of \(run.recipe) changed while this run waited — run it again")
            }
        } catch {
            var refused = run.refused("\(error)")
            refused.baseVersion = expected.version
            return refused
        }
        return await run.quickTiers(
            on: expected, borrowMark: BorrowMark.path(recipe: run.recipe, config: run.config))
    }

    public func giveBack(_ work: LaneWork, _ run: LaneRun) async -> String? {
        guard let problem = await run.giveBack(work) else { return nil }
        do {
            guard let store else { throw BorrowMark.StoreUnavailable() }
            try await store.markCanonical(run.recipe, status: "broken")
            try? FileManager.default.removeItem(at: BorrowMark.path(recipe: run.recipe, config: run.config))
            return "\(problem) — the canonical is marked broken; the next sweep re-seeds it"
        } catch {
            // The borrow mark stays: the next holder of the warm lock marks it.
            return "\(problem) — and its record cannot be marked broken (\(error))"
        }
    }
}
