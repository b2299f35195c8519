import CCCICore
import Testing

@testable import CCCIRunner

/// The verdict builder: what the steps concluded, plus the stop and the teardown, become the
/// run's tiers, outcome and level — and nothing else does.
@Suite struct RunVerdictTests {
    static func passed(_ tiers: [Tier]) -> [Tier: TierResult] {
        Dictionary(uniqueKeysWithValues: tiers.map { ($0, TierResult(status: .pass, durationSeconds: 1)) })
    }

    @Test("every tier passed and nothing was left: pass, level 5; without lint and screenshot, level 4")
    func allPassed() {
        let decision = RunVerdict.decide(
            concluded: Self.passed(Tier.defaultStages), requested: Tier.defaultStages, stop: nil, residueClean: true,
            declaredNA: [:], customTestsExecuted: 2)
        #expect(decision.outcome == .pass)
        #expect(decision.ladder.level == 5)
        let fourTiers: [Tier] = [.install, .upgrade, .backup, .restore, .custom]
        let withoutL5 = RunVerdict.decide(
            concluded: Self.passed(fourTiers), requested: fourTiers, stop: nil, residueClean: true, declaredNA: [:],
            customTestsExecuted: 2)
        #expect(withoutL5.outcome == .pass && withoutL5.ladder.level == 4)
    }

    @Test("a tier the steps did not conclude: 'not run' when requested, 'not requested' otherwise")
    func unconcluded() {
        let decision = RunVerdict.decide(
            concluded: Self.passed([.install]), requested: [.install, .upgrade], stop: nil, residueClean: true,
            declaredNA: [:], customTestsExecuted: 0)
        #expect(decision.tiers[.upgrade] == TierResult(status: .skip, durationSeconds: 0, reason: "not run"))
        #expect(decision.tiers[.backup] == TierResult(status: .skip, durationSeconds: 0, reason: "not requested"))
        #expect(decision.tiers.count == Tier.defaultStages.count)
        #expect(decision.outcome == .pass)
        #expect(decision.ladder.level == 1)
    }

    @Test("a failed requested tier fails the run; so does residue, with every tier passed")
    func failures() {
        var concluded = Self.passed(Tier.defaultStages)
        concluded[.backup] = TierResult(status: .fail, durationSeconds: 3, reason: "backup: marker missing")
        let failedTier = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true, declaredNA: [:],
            customTestsExecuted: 1)
        #expect(failedTier.outcome == .fail)
        #expect(failedTier.ladder.level == 2)
        #expect(failedTier.tiers[.backup]?.reason == "backup: marker missing", "a step's own reason is kept")

        let residue = RunVerdict.decide(
            concluded: Self.passed(Tier.defaultStages), requested: Tier.defaultStages, stop: nil,
            residueClean: false, declaredNA: [:], customTestsExecuted: 1)
        #expect(residue.outcome == .fail)
    }

    @Test("a stopped run: the stop's outcome, requested tiers not reached are cancelled with its reason")
    func stopped() {
        var concluded = Self.passed([.install])
        concluded[.upgrade] = TierResult(status: .cancelled, durationSeconds: 4, reason: "stopped during `converge`")
        let stop = RunVerdict.Stop(outcome: .cancelled, description: "SIGTERM")
        let decision = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: stop, residueClean: true, declaredNA: [:],
            customTestsExecuted: 0)
        #expect(decision.outcome == .cancelled)
        #expect(decision.tiers[.upgrade]?.reason == "stopped during `converge` (SIGTERM)")
        #expect(decision.tiers[.backup]?.status == .cancelled)
        #expect(decision.tiers[.backup]?.reason == "not run: the run was stopped (SIGTERM)")
        #expect(decision.tiers[.install]?.status == .pass, "a concluded pass stays a pass")
    }

    @Test("a stop decides the outcome even when a tier failed before it (the run did not finish)")
    func stopOverFailure() {
        var concluded = Self.passed([.install])
        concluded[.upgrade] = TierResult(status: .fail, durationSeconds: 1, reason: "x")
        let decision = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages,
            stop: RunVerdict.Stop(outcome: .deadline, description: "the 1m hard deadline"), residueClean: false,
            declaredNA: [:], customTestsExecuted: 0)
        #expect(decision.outcome == .deadline)
    }

    @Test("tiers the recipe declares N/A count as reached rungs, and no functional test means no L4")
    func notApplicable() {
        var concluded = Self.passed([.install, .upgrade, .custom])
        concluded[.backup] = TierResult(status: .na, durationSeconds: 0, reason: "no backupbot labels")
        concluded[.restore] = TierResult(status: .na, durationSeconds: 0, reason: "no backupbot labels")
        let reasons: [Tier: String] = [.backup: "the app keeps no data", .restore: "the app keeps no data"]
        let declared = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true,
            declaredNA: reasons, customTestsExecuted: 1)
        #expect(declared.ladder.level == 4)
        #expect(declared.tiers[.backup]?.na == TierNA(declared: "the app keeps no data"))
        let noTests = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true,
            declaredNA: reasons, customTestsExecuted: 0)
        #expect(noTests.ladder.level == 3)
    }

    @Test(
        "[na]: a declared N/A carries its reason; an undeclared one keeps the gap its tier named and breaks the ladder; a declared tier that ran is stale"
    )
    func declaredGapStale() {
        var concluded = Self.passed([.install, .backup, .restore, .custom])
        concluded[.upgrade] = TierResult(
            status: .na, durationSeconds: 0, reason: "the recipe has no release",
            na: TierNA(gap: NACoverage.Gap.noRelease))
        let undeclared = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true, declaredNA: [:],
            customTestsExecuted: 1)
        #expect(undeclared.ladder.level == 1, "an undeclared N/A is a missed rung")
        #expect(undeclared.tiers[.upgrade]?.na?.gap == NACoverage.Gap.noRelease)
        let lines = NACoverage.findings(
            Dictionary(uniqueKeysWithValues: undeclared.tiers.map { ($0.key.rawValue, $0.value) }))
        #expect(
            lines.count == 1 && lines[0].hasPrefix("possible coverage gap: upgrade is na (the recipe has no release)"))

        let declared = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true,
            declaredNA: [.upgrade: "first release: nothing to upgrade from", .backup: "no data"],
            naSource: "packs/x/ccci.toml", customTestsExecuted: 1)
        #expect(declared.tiers[.upgrade]?.na == TierNA(declared: "first release: nothing to upgrade from"))
        let stale = try? #require(declared.tiers[.backup]?.na?.stale)
        #expect(stale?.contains("remove `backup` from `[na]` in packs/x/ccci.toml") == true, "\(stale ?? "")")
        #expect(declared.ladder.level == 4, "the stale tier passed; the declared one does not break the ladder")

        let legacy = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true,
            declaredNA: [.upgrade: ""], customTestsExecuted: 1)
        #expect(legacy.tiers[.upgrade]?.na?.declared == NACoverage.noReasonGiven)
    }

    @Test(
        "retry_failed: a failure that passes on fresh apps is flaky; one that fails again stays a failure naming both; an unreached tier takes the second verdict; a pass stays a pass"
    )
    func flakyVerdicts() {
        let failed = TierResult(status: .fail, durationSeconds: 1, reason: "once.sh failed")
        let passed = TierResult(status: .pass, durationSeconds: 2)
        let flaky = FlakyVerdict.combine(failed, passed)
        #expect(flaky.status == .flaky && flaky.retry == TierRetry(attempt: 2, of: 2, failures: ["once.sh failed"]))
        #expect(flaky.reason == "failed, then passed on fresh apps — attempt 1: once.sh failed")
        let twice = FlakyVerdict.combine(failed, TierResult(status: .fail, durationSeconds: 1, reason: "again"))
        #expect(twice.status == .fail && twice.retry?.failures == ["once.sh failed", "again"])
        let unreached = TierResult(status: .skip, durationSeconds: 0, reason: "the head app did not install")
        #expect(FlakyVerdict.combine(unreached, passed) == passed)
        let flipped = FlakyVerdict.combine(passed, failed)
        #expect(
            flipped.status == .flaky
                && flipped.reason == "passed, then failed on fresh apps — attempt 2: once.sh failed")
        let notReached = FlakyVerdict.combine(failed, unreached)
        #expect(notReached.status == .fail)
        #expect(notReached.retry?.failures.last == "attempt 2 did not decide it: the head app did not install")
        let na = TierResult(status: .na, durationSeconds: 0, reason: "no labels")
        #expect(FlakyVerdict.combine(na, passed) == na)

        var concluded = Self.passed(Tier.defaultStages)
        concluded[.custom] = flaky
        let decision = RunVerdict.decide(
            concluded: concluded, requested: Tier.defaultStages, stop: nil, residueClean: true, declaredNA: [:],
            customTestsExecuted: 1)
        #expect(decision.outcome == .fail, "a flaky tier is not a pass")
        #expect(decision.ladder.level == 3)
    }

    @Test(
        "several upgrade bases: a failed upgrade fails the tier naming only that base; a base that could not itself deploy leaves it untested (skip); a stop leaves it cancelled; checks are named by base"
    )
    func upgradeChainVerdict() {
        func base(
            _ version: String, _ status: TierStatus, _ phase: UpgradePath.Phase, reason: String? = nil
        )
            -> UpgradeChain.Base
        {
            let check = Check(name: "converge", status: status == .pass ? .pass : .fail, durationSeconds: 1)
            return UpgradeChain.Base(
                version: version, app: "app-\(version)",
                outcome: UpgradePath.Outcome(
                    result: TierResult(status: status, durationSeconds: 3, checks: [check], reason: reason),
                    phase: phase))
        }
        let failed = UpgradeChain.combine(
            [
                base("1.2.0+1", .pass, .upgrade), base("1.1.0+1", .fail, .base, reason: "deploy: image gone"),
                base("1.0.0+1", .fail, .upgrade, reason: "converge: exited 1"),
            ], durationSeconds: 4)
        #expect(failed.status == .fail)
        #expect(failed.reason == "the upgrade to the head failed from 1.0.0+1 — from 1.0.0+1: converge: exited 1")
        #expect(failed.from?["1.1.0+1"]?.status == .unavailable && failed.from?["1.2.0+1"]?.status == .pass)
        #expect(failed.checks.map(\.name).contains("from 1.0.0+1: converge"))
        #expect(failed.bases.map(\.version) == ["1.2.0+1", "1.1.0+1", "1.0.0+1"])

        let untested = UpgradeChain.combine(
            [base("1.2.0+1", .pass, .upgrade), base("1.1.0+1", .fail, .base, reason: "deploy: image gone")],
            durationSeconds: 4)
        #expect(untested.status == .skip)
        #expect(untested.reason?.hasPrefix("the base release 1.1.0+1 could not be deployed") == true)

        let stopped = UpgradeChain.combine(
            [base("1.2.0+1", .pass, .upgrade), UpgradeChain.Base(version: "1.1.0+1", app: "a", outcome: nil)],
            durationSeconds: 4)
        #expect(stopped.status == .cancelled && stopped.from?["1.1.0+1"]?.status == .cancelled)

        // One base: its checks and reason as they were.
        let one = UpgradeChain.combine(
            [base("1.2.0+1", .fail, .upgrade, reason: "marker intact: lost")], durationSeconds: 3)
        #expect(one.status == .fail && one.reason == "marker intact: lost")
        #expect(one.checks.map(\.name) == ["converge"])
    }

    @Test(
        "retry_failed with several bases: each base is judged over its two attempts — one that failed once and passed once is flaky, and so is the tier when no base failed twice"
    )
    func upgradeBasesOverAttempts() {
        func tier(_ statuses: [String: UpgradeFromResult.Status]) -> TierResult {
            var result = TierResult(
                status: statuses.values.contains(.fail) ? .fail : .pass, durationSeconds: 5,
                reason: statuses.values.contains(.fail) ? "the upgrade to the head failed" : nil)
            result.from = statuses.mapValues {
                UpgradeFromResult(status: $0, durationSeconds: 2, reason: $0 == .fail ? "converge" : nil, app: "a")
            }
            return result
        }
        // A fails then passes, B passes then fails: neither failed twice.
        let crossed = FlakyVerdict.combine(tier(["A": .fail, "B": .pass]), tier(["A": .pass, "B": .fail]))
        #expect(crossed.status == .flaky, "\(crossed)")
        #expect(crossed.from?["A"]?.status == .flaky && crossed.from?["B"]?.status == .flaky)
        #expect(crossed.reason?.contains("the upgrade from A, B failed on one attempt and passed on the other") == true)
        // A fails, then everything passes: the tier and A are flaky, B passed.
        let healed = FlakyVerdict.combine(tier(["A": .fail, "B": .pass]), tier(["A": .pass, "B": .pass]))
        #expect(healed.status == .flaky && healed.from?["A"]?.status == .flaky && healed.from?["B"]?.status == .pass)
        #expect(healed.from?["A"]?.reason == "failed, then passed on a fresh app — attempt 1: converge")
        // A fails twice: the tier fails.
        let twice = FlakyVerdict.combine(tier(["A": .fail, "B": .pass]), tier(["A": .fail, "B": .pass]))
        #expect(twice.status == .fail && twice.from?["A"]?.status == .fail)
        #expect(twice.from?["A"]?.reason?.hasPrefix("failed twice, on a fresh app too") == true)
    }
}
