import CCCICore
import Foundation

/// Where run history lives (SPEC F-RESULTS, F-QUEUE later). SQLite is the embedded default; a
/// PostgreSQL store can implement the same protocol for several nodes.
public protocol ResultStore: Sendable {
    /// Records a finished run (its results document and per-tier verdicts).
    func record(_ results: RunResults) async throws
    /// Runs, newest first, optionally of one recipe.
    func runs(recipe: String?, limit: Int) async throws -> [RunSummary]
    /// One run's full results document.
    func results(runID: String) async throws -> RunResults?
}

/// A run as listed by `ccci results`.
public struct RunSummary: Sendable, Hashable, Codable {
    public let runID: String
    public let recipe: String
    public let headCommit: String
    public let headVersion: String?
    public let outcome: RunOutcome
    public let exitCode: Int
    public let level: Int
    public let ladderVersion: String
    public let startedAt: Date
    public let durationSeconds: Double
    public let tiers: [String: TierStatus]
    public let runDirectory: String

    public init(
        runID: String, recipe: String, headCommit: String, headVersion: String?, outcome: RunOutcome, exitCode: Int,
        level: Int, ladderVersion: String, startedAt: Date, durationSeconds: Double, tiers: [String: TierStatus],
        runDirectory: String
    ) {
        self.runID = runID
        self.recipe = recipe
        self.headCommit = headCommit
        self.headVersion = headVersion
        self.outcome = outcome
        self.exitCode = exitCode
        self.level = level
        self.ladderVersion = ladderVersion
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.tiers = tiers
        self.runDirectory = runDirectory
    }

    enum CodingKeys: String, CodingKey {
        case recipe, outcome, level, tiers
        case runID = "run_id"
        case headCommit = "head_commit"
        case headVersion = "head_version"
        case exitCode = "exit_code"
        case ladderVersion = "ladder_version"
        case startedAt = "started_at"
        case durationSeconds = "duration_s"
        case runDirectory = "run_dir"
    }
}
