import CCCICore
import CCCISystem
import Foundation

/// The upgrade tier over every base release of `upgrade_from` (SPEC F-UPGRADE): one upgrade app
/// per base, each deployed at its release, given its own marker and redeployed in place at the
/// head, side by side. The run's own slot runs one base; each other base runs beside it only on a
/// run slot that is free (`capacity`), else after a base before it. The tier passes only when
/// every base passes.
struct UpgradeChain {
    let steps: TierSteps

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }

    func run() async -> TierResult {
        let bases = prepared.upgradeBases
        guard !bases.isEmpty else {
            let upgrade = TierRecorder(
                tier: .upgrade, role: .upgrade, journal: context.journal, reporter: context.reporter)
            let reason = prepared.upgradeBaseReason ?? "no base release"
            await upgrade.note("upgrade n/a: \(reason)")
            upgrade.conclude(.na, reason: reason)
            var result = upgrade.result()
            result.na = prepared.upgradeBaseGap.map { TierNA(gap: NACoverage.Gap.orDeclare($0, [.upgrade])) }
            return result
        }
        let clock = ContinuousClock()
        let start = clock.now
        // The run holds one slot; the other bases take the ones free now.
        let extra =
            context.options.serial
            ? []
            : RunSlots.takeFree(bases.count - 1, capacity: context.config.capacity, in: context.config.lockDirectory)
        defer { for slot in extra { slot.release() } }
        // `--serial`: one thing at a time, the bases too.
        let width = context.options.serial ? 1 : extra.count + 1
        if bases.count > 1 {
            await context.say(
                "upgrade from \(bases.count) base releases (\(bases.map(\.version.raw).joined(separator: ", "))): "
                    + (width >= bases.count
                        ? "all at once"
                        : "\(width) at once (\(extra.count) more run slot\(extra.count == 1 ? "" : "s") free of "
                            + "`capacity` \(context.config.capacity))"))
        }
        let outcomes = await withTaskGroup(of: (Int, UpgradePath.Outcome).self) { group in
            var next = 0
            func start(_ index: Int) {
                var baseSteps = steps
                baseSteps.base = index
                baseSteps.baseVersion = bases[index].version.raw
                let recorder = TierRecorder(
                    tier: .upgrade, role: .upgrade, scope: bases.count > 1 ? "from \(bases[index].version.raw)" : nil,
                    journal: context.journal, reporter: context.reporter)
                group.addTask { (index, await UpgradePath(steps: baseSteps, recorder: recorder).run()) }
            }
            while next < min(width, bases.count) {
                start(next)
                next += 1
            }
            var outcomes: [Int: UpgradePath.Outcome] = [:]
            for await (index, outcome) in group {
                outcomes[index] = outcome
                if next < bases.count, !Task.isCancelled {
                    start(next)
                    next += 1
                }
            }
            return outcomes
        }
        let entries = bases.indices.map { index in
            UpgradeChain.Base(
                version: bases[index].version.raw,
                app: prepared.domain(.upgrade, attempt: steps.attempt, base: index).name,
                outcome: outcomes[index])
        }
        var result = Self.combine(entries, durationSeconds: (clock.now - start).seconds)
        result.log = context.journal.tierLogPath(Tier.upgrade.rawValue)
        // Redacted again at the end: a base's check may have failed before a secret another base's
        // hook was given had been registered.
        result.reason = result.reason.map(context.secrets.redact)
        result.checks = result.checks.map { check in
            var check = check
            check.message = check.message.map(context.secrets.redact)
            return check
        }
        result.from = result.from?.mapValues { base in
            var base = base
            base.reason = base.reason.map(context.secrets.redact)
            return base
        }
        return result
    }

    /// One base's upgrade: `nil` outcome when it never started (the run was stopped first).
    struct Base: Sendable {
        let version: String
        let app: String
        let outcome: UpgradePath.Outcome?
    }

    /// The tier's verdict over its bases (newest first): any base whose upgrade failed fails the
    /// tier, naming it; a stopped base leaves it cancelled; a base that could not itself be
    /// deployed leaves the upgrade untested (skip, naming it) — never the head's failure; else it
    /// passes. One base's checks keep their names; several bases' are prefixed `from <version>:`.
    static func combine(_ bases: [Base], durationSeconds: Double) -> TierResult {
        var from: [String: UpgradeFromResult] = [:]
        var checks: [Check] = []
        var proofs: [String] = []
        let several = bases.count > 1
        for base in bases {
            guard let outcome = base.outcome else {
                from[base.version] = UpgradeFromResult(
                    status: .cancelled, durationSeconds: 0, reason: "not started: the run was stopped", app: base.app)
                continue
            }
            let result = outcome.result
            let status: UpgradeFromResult.Status =
                switch (result.status, outcome.phase) {
                case (.pass, _): .pass
                case (.fail, .base): .unavailable
                case (.fail, _): .fail
                case (.flaky, _): .flaky
                default: .cancelled
                }
            from[base.version] = UpgradeFromResult(
                status: status, durationSeconds: result.durationSeconds, reason: result.reason, app: base.app)
            checks += result.checks.map { check in
                var check = check
                if several { check.name = "from \(base.version): \(check.name)" }
                return check
            }
            proofs += result.proofs.map { several ? "from \(base.version): \($0)" : $0 }
        }
        func named(_ status: UpgradeFromResult.Status) -> [(String, UpgradeFromResult)] {
            bases.compactMap { base in from[base.version].flatMap { $0.status == status ? (base.version, $0) : nil } }
        }
        func list(_ entries: [(String, UpgradeFromResult)]) -> String {
            entries.map { "from \($0.0): \($0.1.reason ?? $0.1.status.rawValue)" }.joined(separator: "; ")
        }
        var result = TierResult(status: .pass, durationSeconds: durationSeconds, checks: checks, proofs: proofs)
        let failed = named(.fail)
        let unavailable = named(.unavailable)
        if !failed.isEmpty {
            result.status = .fail
            result.reason =
                several
                ? "the upgrade to the head failed from \(failed.map(\.0).joined(separator: ", ")) — \(list(failed))"
                : failed[0].1.reason
        } else if !named(.cancelled).isEmpty {
            result.status = .cancelled
            result.reason = named(.cancelled).first?.1.reason ?? "the run was stopped"
        } else if !unavailable.isEmpty {
            result.status = .skip
            result.reason =
                "the base release\(unavailable.count == 1 ? "" : "s") \(unavailable.map(\.0).joined(separator: ", ")) "
                + "could not be deployed, so the upgrade from \(unavailable.count == 1 ? "it" : "them") is untested "
                + "(not the head's failure) — \(list(unavailable))"
        }
        if let flaky = named(.flaky).first, result.status == .pass {
            result.status = .flaky
            result.reason = list([flaky])
        }
        result.from = from
        return result
    }
}
