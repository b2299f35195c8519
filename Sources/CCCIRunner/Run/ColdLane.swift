import CCCICore
import CCCIDeploy
import Foundation

/// The cold lane: the tiers on fresh apps, as a new operator meets the recipe (SPEC F-RUN). A run
/// slot and the locks of every app the run will create (`RunAdmission`), the recipes this one
/// depends on deployed first (`DependencySetup`) and wired in, then `HeadPath` (install →
/// screenshot → backup and restore → the recipe's own tests) beside `UpgradePath`.
public struct ColdLane: RunLane {
    public init() {}

    public func work(_ run: LaneRun) async -> LaneWork {
        let context = run.context
        let prepared = run.prepared
        let stages = context.options.stages
        var work = LaneWork()
        do {
            work.locked = try await RunAdmission(context: context).admit(
                RunAdmission.domains(of: prepared, stages: stages))
        } catch let error as AdmissionError {
            // No app can be created: every tier asked for fails for that reason.
            context.journal.line(error.message)
            work.paths.append(.refused(stages, reason: error.message))
            return work
        } catch {
            context.journal.line("stopped while waiting to be admitted: \(error)")
            return work
        }
        work.dependencies = await DependencySetup(context: context, prepared: prepared).deploy()
        if Task.isCancelled { return work }
        let wiring: DependencyWiring
        switch await wire(prepared, dependencies: work.dependencies, context: context) {
        case .success(let resolved):
            wiring = resolved
        case .failure(let setback):
            // Nothing of the recipe itself is deployed: its tiers say why (a hook's words may hold
            // a secret it was given).
            let reason = context.secrets.redact(setback.reason)
            context.journal.line(reason)
            await context.reporter.print([reason])
            let skipped = PathResult.refused(stages, reason: reason, status: .skip)
            for (tier, verdict) in skipped.tiers { await run.sink(tier, verdict) }
            work.paths.append(skipped)
            work.setback = setback.kind
            return work
        }
        let steps = TierSteps(context: context, prepared: prepared, dependencies: work.dependencies, wiring: wiring)
        let head = HeadPath(steps: steps, sink: run.sink)
        let upgrade: @Sendable () async -> PathResult = {
            guard stages.contains(.upgrade) else { return PathResult() }
            let verdict = await UpgradePath(steps: steps).run()
            await run.sink(.upgrade, verdict)
            return PathResult(tiers: [.upgrade: verdict])
        }
        if context.options.serial {
            work.paths += [await head.run(), await upgrade()]
        } else {
            async let headResult = head.run()
            async let upgradeResult = upgrade()
            work.paths += [await headResult, await upgradeResult]
        }
        return work
    }

    /// A reason the recipe cannot be tested once its dependencies are up.
    struct SetbackError: Error {
        let kind: RunVerdict.Setback
        let reason: String
    }

    /// Every dependency ready, and the facts they offer filled into the env and secrets; or why not.
    func wire(
        _ prepared: PreparedRun, dependencies: [String: DependencyInfo], context: RunContext
    ) async -> Result<DependencyWiring, SetbackError> {
        for name in prepared.meta.dependencies where dependencies[name]?.ready != true {
            return .failure(
                SetbackError(
                    kind: .dependencyFailed,
                    reason: "dependency \(name) failed: \(dependencies[name]?.reason ?? "it was not deployed")"))
        }
        do {
            let wiring = try DependencyWiring.resolve(prepared.meta, facts: dependencies)
            await prepared.inputs.record(wiring.inputs)
            return .success(wiring)
        } catch {
            return .failure(SetbackError(kind: .configuration, reason: "configuration: \(error.description)"))
        }
    }
}
