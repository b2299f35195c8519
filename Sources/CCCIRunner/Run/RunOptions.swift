import CCCICore
import Foundation

/// What `ccci run` was asked to do.
public struct RunOptions: Sendable, Hashable {
    /// A path or git URL of a recipe repository, or a name from the catalogue.
    public var recipe: String
    /// The commit under test (default: the repository's `HEAD`).
    public var ref: String?
    /// The pull request the ref belongs to (0 when none).
    public var pr: Int
    /// The tiers to run, in ladder order.
    public var stages: [Tier]
    /// Leave the apps up when the run fails (and say how to remove them).
    public var keepOnFailure: Bool
    /// Overrides the recipe's `deploy_timeout`.
    public var deployTimeout: Duration?
    /// Run the upgrade path after the head path instead of alongside it.
    public var serial: Bool
    /// Print only the results document.
    public var json: Bool

    public init(
        recipe: String, ref: String? = nil, pr: Int = 0, stages: [Tier] = Tier.defaultStages,
        keepOnFailure: Bool = false,
        deployTimeout: Duration? = nil, serial: Bool = false, json: Bool = false
    ) {
        self.recipe = recipe
        self.ref = ref
        self.pr = pr
        self.stages = stages
        self.keepOnFailure = keepOnFailure
        self.deployTimeout = deployTimeout
        self.serial = serial
        self.json = json
    }

    /// Parses `install,upgrade,…` (ladder order, duplicates removed); `nil` names the bad stage.
    public static func parseStages(_ text: String) -> Result<[Tier], StageError> {
        var stages: [Tier] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() })
        where !name.isEmpty {
            guard let tier = Tier(rawValue: name), Tier.defaultStages.contains(tier) else {
                return .failure(StageError(name: name))
            }
            if !stages.contains(tier) { stages.append(tier) }
        }
        guard !stages.isEmpty else { return .failure(StageError(name: text)) }
        return .success(stages.sorted())
    }
}

/// A `--stages` value that is not a stage.
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
