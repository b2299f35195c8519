/// A tier of a run: one question cc-ci answers about a recipe.
public enum Tier: String, Sendable, Codable, CaseIterable, Hashable, Comparable {
    /// A fresh deploy of the code under test converges and is healthy.
    case install
    /// The previous release, upgraded in place to the code under test, converges, is healthy and
    /// keeps its data.
    case upgrade
    /// A backup of the head app produces a non-empty snapshot.
    case backup
    /// Restoring that snapshot brings the data back.
    case restore
    /// The recipe's own functional tests pass.
    case custom
    /// The recipe lints clean.
    case lint
    /// A screenshot of the running app is captured.
    case screenshot

    /// The tiers `ccci run` executes when `--stages` is not given: all of them.
    public static let defaultStages: [Tier] = allCases

    public static func < (lhs: Tier, rhs: Tier) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The verdict of one tier.
public enum TierStatus: String, Sendable, Codable, Hashable, CaseIterable {
    case pass
    case fail
    /// Requested but not run (an earlier failure made it pointless) or not requested.
    case skip
    /// Not applicable to this recipe (no backup labels, no earlier release, declared in meta).
    case na
    /// The run was stopped (a signal, its deadline) before the tier finished: no verdict.
    case cancelled
    /// Failed, then passed when its path ran again on fresh apps (`retry_failed`): not a pass —
    /// the ladder counts it as not reached and the run fails.
    case flaky
}

extension Tier {
    /// Parses a stage list, `install,upgrade,…` (`ccci run --stages`, `!testme --stages`): ladder
    /// order, duplicates removed; the error names the first word that is not a stage.
    public static func parseStages(_ text: String) -> Result<[Tier], StageError> {
        var stages: [Tier] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() })
        where !name.isEmpty {
            guard let tier = Tier(rawValue: name), defaultStages.contains(tier) else {
                return .failure(StageError(name: name))
            }
            if !stages.contains(tier) { stages.append(tier) }
        }
        guard !stages.isEmpty else { return .failure(StageError(name: text)) }
        return .success(stages.sorted())
    }
}

/// A stage list entry that is not a stage.
public struct StageError: Error, Sendable, CustomStringConvertible {
    public let name: String

    public var description: String {
        var text = "'\(name)' is not a stage; stages are \(Tier.defaultStages.map(\.rawValue).joined(separator: ","))"
        if let suggestion = Suggestion.closest(to: name, in: Tier.defaultStages.map(\.rawValue)) {
            text += " — did you mean `\(suggestion)`?"
        }
        return text
    }
}
