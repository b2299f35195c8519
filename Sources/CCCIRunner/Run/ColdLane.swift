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
                RunAdmission.domains(of: prepared, stages: stages, attempts: context.config.retryFailed + 1))
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
        // What the head app costs while the tiers exercise it (the engine's stats stream).
        let samples = ResourceSamples()
        let watcher =
            context.config.resourceProfile
            ? Task { await context.driver.watchResources(of: prepared.headDomain, into: samples) } : nil
        var (head, upgrade) = await paths(steps, head: true, upgrade: stages.contains(.upgrade), sink: run.sink)
        if let watcher {
            watcher.cancel()
            await watcher.value
            let profile = await samples.profile(app: prepared.headDomain.name)
            if !profile.services.isEmpty {
                work.resources = profile
                await context.say("resources of the head app: \(profile.summary)")
            }
        }
        // `retry_failed`: a path with a failed tier runs once more on fresh apps of its own; a tier
        // that fails and then passes is flaky — never a pass.
        if context.config.retryFailed > 0, !Task.isCancelled {
            // A head that cannot even be read fails the same way every time: nothing to retry.
            let headFailed = prepared.headProblem == nil && head.tiers.values.contains { $0.status == .fail }
            // A base that could not be deployed gets its second chance too (a pull that failed once).
            let upgradeFailed =
                upgrade.tiers[.upgrade]?.status == .fail
                || upgrade.tiers[.upgrade]?.from?.values.contains { $0.status == .unavailable } == true
            if headFailed || upgradeFailed {
                let failed = (head.tiers.merging(upgrade.tiers) { first, _ in first })
                    .filter { $0.value.status == .fail }.keys.sorted().map(\.rawValue)
                await context.say(
                    "retry_failed: \(failed.joined(separator: ", ")) failed — running "
                        + [headFailed ? "the head path" : nil, upgradeFailed ? "the upgrade path" : nil]
                        .compactMap { $0 }.joined(separator: " and ") + " once more on fresh apps")
                var again = steps
                again.attempt = 2
                let (first, firstUpgrade) = (head, upgrade)
                let (secondHead, secondUpgrade) = await paths(
                    again, head: headFailed, upgrade: upgradeFailed,
                    sink: { tier, verdict in
                        await run.sink(
                            tier, FlakyVerdict.combine(first.tiers[tier] ?? firstUpgrade.tiers[tier], verdict))
                    })
                if headFailed { head = FlakyVerdict.combine(head, secondHead) }
                if upgradeFailed { upgrade = FlakyVerdict.combine(upgrade, secondUpgrade) }
                head.flags.append(FlakyVerdict.flag)
                work.retryApps =
                    (headFailed ? [again.domain(.head).name] : [])
                    + (upgradeFailed
                        ? prepared.upgradeBases.indices.map { prepared.domain(.upgrade, attempt: 2, base: $0).name }
                        : [])
            }
        }
        work.paths += [head, upgrade]
        return work
    }

    /// The head path and the upgrade path of one attempt, side by side (one after the other with
    /// `--serial`); a path not asked for concludes nothing.
    func paths(
        _ steps: TierSteps, head runHead: Bool, upgrade runUpgrade: Bool, sink: @escaping VerdictSink
    ) async -> (head: PathResult, upgrade: PathResult) {
        let head: @Sendable () async -> PathResult = {
            guard runHead else { return PathResult() }
            return await HeadPath(steps: steps, sink: sink).run()
        }
        let upgrade: @Sendable () async -> PathResult = {
            guard runUpgrade else { return PathResult() }
            let verdict = await UpgradeChain(steps: steps).run()
            await sink(.upgrade, verdict)
            return PathResult(tiers: [.upgrade: verdict])
        }
        if steps.context.options.serial {
            return (await head(), await upgrade())
        }
        async let headResult = head()
        async let upgradeResult = upgrade()
        return (await headResult, await upgradeResult)
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

/// A tier's verdict over two attempts of its path (`retry_failed`, SPEC F-RUN): a tier that
/// failed on one attempt and passed on the other is flaky, whichever came first; one that fails
/// again stays a failure, saying so; a tier the first attempt did not reach takes the second's
/// verdict; a failure the second attempt did not reach stays a failure, saying why.
enum FlakyVerdict {
    /// The results' flag of a run that ran a path again (its apps: `retry_app_domains`).
    static let flag = "retry-failed"

    static func combine(_ first: TierResult?, _ second: TierResult) -> TierResult {
        var result = verdict(first, second)
        // The upgrade tier's bases, each over its two attempts: a base that failed once and passed
        // once is flaky; the tier is flaky when no base failed both times but one was flaky.
        if let bases = combine(bases: first?.from, second.from) {
            result.from = bases
            let flaky = bases.filter { $0.value.status == .flaky }.keys.sorted()
            if result.status == .fail, !bases.values.contains(where: { $0.status == .fail }), !flaky.isEmpty {
                result.status = .flaky
                result.reason =
                    "the upgrade from \(flaky.joined(separator: ", ")) failed on one attempt and passed on the other "
                    + "(fresh apps) — not a pass"
            }
        }
        return result
    }

    /// Each base's verdict over two attempts (`tiers.upgrade.from`), as for a tier.
    static func combine(
        bases first: [String: UpgradeFromResult]?, _ second: [String: UpgradeFromResult]?
    ) -> [String: UpgradeFromResult]? {
        guard let second else { return first }
        guard let first else { return second }
        var merged = first
        for (version, again) in second {
            guard let before = first[version] else {
                merged[version] = again
                continue
            }
            var base = again
            switch (before.status, again.status) {
            case (.fail, .pass):
                base.status = .flaky
                base.reason = "failed, then passed on a fresh app — attempt 1: \(before.reason ?? "failed")"
            case (.pass, .fail):
                base.status = .flaky
                base.reason = "passed, then failed on a fresh app — attempt 2: \(again.reason ?? "failed")"
            case (.fail, .fail):
                base.reason = "failed twice, on a fresh app too — attempt 2: \(again.reason ?? "failed")"
            default:
                break
            }
            merged[version] = base
        }
        return merged
    }

    /// The tier's verdict over two attempts, its bases aside.
    static func verdict(_ first: TierResult?, _ second: TierResult) -> TierResult {
        guard let first, first.status != .skip else { return second }
        let firstReason = first.reason ?? "failed"
        let secondReason = second.reason ?? "failed"
        /// What the second attempt's own retries (a backup taken again) said.
        let inner = second.retry?.failures.map { "attempt 2: \($0)" } ?? []
        switch (first.status, second.status) {
        case (.fail, .pass):
            var flaky = second
            flaky.status = .flaky
            flaky.reason = "failed, then passed on fresh apps — attempt 1: \(firstReason)"
            flaky.retry = TierRetry(attempt: 2, of: 2, failures: [firstReason] + inner)
            return flaky
        case (.pass, .fail):
            var flaky = second
            flaky.status = .flaky
            flaky.reason = "passed, then failed on fresh apps — attempt 2: \(secondReason)"
            flaky.retry = TierRetry(attempt: 2, of: 2, failures: [secondReason] + inner)
            return flaky
        case (.fail, .fail):
            var again = second
            again.reason = "failed twice, on fresh apps too — attempt 2: \(secondReason)"
            again.retry = TierRetry(attempt: 2, of: 2, failures: [firstReason, secondReason])
            return again
        case (.fail, _):
            var kept = first
            kept.retry = TierRetry(
                attempt: 2, of: 2, failures: [firstReason, "attempt 2 did not decide it: \(secondReason)"])
            return kept
        default:
            return first
        }
    }

    /// `first`'s tiers combined with `second`'s.
    static func combine(_ first: PathResult, _ second: PathResult) -> PathResult {
        var result = first
        for (tier, verdict) in second.tiers { result.tiers[tier] = combine(first.tiers[tier], verdict) }
        if second.tiers[.custom] != nil, result.tiers[.custom] != first.tiers[.custom] {
            result.customTestsExecuted = second.customTestsExecuted
        }
        result.flags += second.flags.filter { !result.flags.contains($0) }
        return result
    }
}
