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
    /// The run's id when the caller chose it (`ccci serve` does); `nil`: a new one.
    public var runID: String?
    /// The quick lane: the head tried on the recipe's warm canonical (SPEC F-QUICK).
    public var quick = false

    /// The tiers the quick lane can prove (its default stages).
    public static let quickStages: [Tier] = [.lint, .upgrade, .custom]

    public init(
        recipe: String, ref: String? = nil, pr: Int = 0, stages: [Tier] = Tier.defaultStages,
        keepOnFailure: Bool = false,
        deployTimeout: Duration? = nil, serial: Bool = false, json: Bool = false, runID: String? = nil
    ) {
        self.recipe = recipe
        self.ref = ref
        self.pr = pr
        self.stages = stages
        self.keepOnFailure = keepOnFailure
        self.deployTimeout = deployTimeout
        self.serial = serial
        self.json = json
        self.runID = runID
    }

    /// Parses `install,upgrade,…` (see ``Tier/parseStages(_:)``).
    public static func parseStages(_ text: String) -> Result<[Tier], StageError> {
        Tier.parseStages(text)
    }
}
