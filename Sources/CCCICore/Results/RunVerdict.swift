/// A run's verdict from what its steps returned (SPEC F-RUN, F-LEVEL). Pure: the steps conclude
/// their own tiers; this only fills in the tiers no step concluded, decides the outcome and
/// evaluates the ladder — no step writes another step's verdict.
public enum RunVerdict {
    /// Why a run was stopped from outside, when it was.
    public struct Stop: Sendable, Hashable {
        public let outcome: RunOutcome
        /// `SIGTERM`, `the 60m hard deadline`.
        public let description: String

        public init(outcome: RunOutcome, description: String) {
            self.outcome = outcome
            self.description = description
        }
    }

    /// Why the tiers could not run once the dependencies were up.
    public enum Setback: Sendable, Hashable {
        /// A dependency did not converge, answer or provision.
        case dependencyFailed
        /// A placeholder no dependency provides.
        case configuration
    }

    /// The verdict.
    public struct Decision: Sendable, Hashable {
        public let tiers: [Tier: TierResult]
        public let outcome: RunOutcome
        public let ladder: Ladder
    }

    /// - Parameters:
    ///   - concluded: the tiers the steps concluded;
    ///   - requested: the stages asked for;
    ///   - stop: the stop, when the run was stopped;
    ///   - residueClean: whether teardown left nothing (or the apps were kept on purpose);
    ///   - declaredNA: tiers the recipe declares N/A, with their reasons (`[na]`);
    ///   - naSource: the `ccci.toml` that declares them (named in a stale declaration's warning);
    ///   - customTestsExecuted: functional tests that actually ran;
    ///   - setback: why the recipe could not be tested after its dependencies were deployed — a
    ///     dependency that failed (the run fails) or a configuration error (exit 2).
    public static func decide(
        concluded: [Tier: TierResult], requested: [Tier], stop: Stop?, residueClean: Bool,
        declaredNA: [Tier: String], naSource: String? = nil, customTestsExecuted: Int, setback: Setback? = nil
    ) -> Decision {
        var tiers = concluded
        for tier in Tier.defaultStages where tiers[tier] == nil {
            if requested.contains(tier), let stop {
                tiers[tier] = TierResult(
                    status: .cancelled, durationSeconds: 0,
                    reason: "not run: the run was stopped (\(stop.description))")
            } else {
                tiers[tier] = TierResult(
                    status: .skip, durationSeconds: 0, reason: requested.contains(tier) ? "not run" : "not requested")
            }
        }
        // A verdict cut short carries the stop's reason.
        if let stop {
            for (tier, result) in tiers where result.status == .cancelled && concluded[tier] != nil {
                var result = result
                result.reason = "\(result.reason ?? "stopped") (\(stop.description))"
                tiers[tier] = result
            }
        }
        NACoverage.annotate(&tiers, declared: declaredNA, source: naSource)
        // A flaky tier is not a pass: the run fails, as it would have without the second attempt.
        let failed = requested.contains { tiers[$0]?.status == .fail || tiers[$0]?.status == .flaky }
        let outcome: RunOutcome =
            stop?.outcome
            ?? (setback == .configuration ? .error : (failed || !residueClean || setback != nil ? .fail : .pass))
        let ladder = LevelLadder.evaluate(
            statuses: tiers.mapValues(\.status), declaredNA: Set(declaredNA.keys),
            customTestsExecuted: customTestsExecuted)
        return Decision(tiers: tiers, outcome: outcome, ladder: ladder)
    }
}
