/// The level ladder (SPEC F-LEVEL): the highest rung reached with no gap below.
///
/// Rungs: L1 install, L2 upgrade, L3 backup + restore, L4 functional tests (at least one
/// executed), L5 lint clean + screenshot. A rung whose tiers the recipe's meta declares N/A is
/// shown N/A and does not break the ladder; any other non-pass (fail, skip, or an N/A the meta
/// did not declare) stops it. L5 is never N/A: it is earned only by passing lint and the
/// screenshot. The ladder's version travels with every result so that levels from different
/// ladders are never compared as if they were the same scale.
public enum LevelLadder {
    /// Bump when rungs change meaning. `ladder/2`: L5 can no longer be declared N/A.
    public static let version = "ladder/2"

    /// Rungs that can only be reached by passing their tiers.
    public static let earnedOnly: Set<Int> = [5]

    public struct Rung: Sendable, Hashable {
        public let level: Int
        public let name: String
        public let tiers: [Tier]
    }

    public static let rungs: [Rung] = [
        Rung(level: 1, name: "install", tiers: [.install]),
        Rung(level: 2, name: "upgrade", tiers: [.upgrade]),
        Rung(level: 3, name: "backup + restore", tiers: [.backup, .restore]),
        Rung(level: 4, name: "functional tests", tiers: [.custom]),
        Rung(level: 5, name: "lint + screenshot", tiers: [.lint, .screenshot]),
    ]

    /// Evaluates the ladder.
    /// - Parameters:
    ///   - statuses: the verdict of each tier (missing tiers count as skipped);
    ///   - declaredNA: tiers the meta declares N/A;
    ///   - customTestsExecuted: how many functional tests actually ran (L4 needs at least one).
    public static func evaluate(
        statuses: [Tier: TierStatus], declaredNA: Set<Tier>, customTestsExecuted: Int
    ) -> Ladder {
        var level = 0
        var broken = false
        var results: [Ladder.RungResult] = []
        for rung in rungs {
            let declaredNA = earnedOnly.contains(rung.level) ? [] : declaredNA
            let verdicts = rung.tiers.map { statuses[$0] ?? .skip }
            let allDeclaredNA = zip(rung.tiers, verdicts).allSatisfy {
                declaredNA.contains($0) && ($1 == .na || $1 == .skip)
            }
            var passed = zip(rung.tiers, verdicts).allSatisfy { tier, verdict in
                verdict == .pass || (verdict == .na && declaredNA.contains(tier))
            }
            if rung.tiers.contains(.custom), statuses[.custom] == .pass, customTestsExecuted < 1 { passed = false }
            let state: Ladder.RungState
            if allDeclaredNA {
                state = .na
            } else if passed && !broken {
                state = .reached
            } else {
                state = .missed
            }
            if state == .missed { broken = true }
            if state == .reached || (state == .na && !broken) {
                if !broken { level = rung.level }
            }
            results.append(Ladder.RungResult(level: rung.level, name: rung.name, state: state))
        }
        return Ladder(version: version, level: level, rungs: results)
    }
}

/// An evaluated ladder.
public struct Ladder: Sendable, Hashable, Codable {
    public enum RungState: String, Sendable, Hashable, Codable {
        case reached
        case na
        case missed
    }

    public struct RungResult: Sendable, Hashable, Codable {
        public let level: Int
        public let name: String
        public let state: RungState
    }

    public let version: String
    public let level: Int
    public let rungs: [RungResult]
}
