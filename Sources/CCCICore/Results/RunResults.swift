import Foundation

/// The `results.json` document of one run (SPEC F-RESULTS), schema `ccci.results/3`
/// (`schemas/results.schema.json`).
///
/// Stable public names: top-level `schema`, `run_id`, `recipe`, `level`, `tiers` (keyed by tier
/// name, each with `status` and `duration_s`). Everything else is cc-ci's to evolve, with the
/// schema version bumped on incompatible change.
public struct RunResults: Sendable, Hashable, Codable {
    /// `/2`: a tier's status may be `cancelled` (the run was stopped before it finished).
    /// `/3`: the manifest records each service's image as deployed (`manifest.images`: digest, id).
    public static let schemaVersion = "ccci.results/3"

    public var schema: String = RunResults.schemaVersion
    public var runID: String
    public var recipe: String
    /// The ref asked for (`--ref`), if any.
    public var ref: String?
    public var pr: Int?
    public var headCommit: String
    public var headVersion: String?
    public var baseVersion: String?
    public var driver: String
    /// `cold` or `quick`.
    public var mode: String
    public var appDomain: String
    public var upgradeAppDomain: String?
    public var startedAt: Date
    public var finishedAt: Date
    public var durationSeconds: Double
    /// How the run ended (`pass`, `fail`, `cancelled`, …).
    public var outcome: RunOutcome
    public var exitCode: Int32
    public var tiers: [String: TierResult]
    public var level: Int
    public var ladder: Ladder
    /// Fresh deploys performed (a run may do at most one per app).
    public var deployCount: Int
    public var manifest: Manifest
    /// Notable conditions (`keep-on-failure`, `residue`, `lab-dnsrr-overlay`, …).
    public var flags: [String]
    public var artifacts: Artifacts
    public var ccciVersion: String
    /// What became of the run for the recipe's warm canonical (enrolled recipes only).
    public var promotion: PromotionSummary?
    /// A quick run's give-back of the canonical, recorded after the verdict (`nil`: a cold run).
    public var giveBack: GiveBack?

    public init(
        runID: String, recipe: String, ref: String?, pr: Int?, headCommit: String, headVersion: String?,
        baseVersion: String?, driver: String, mode: String, appDomain: String, upgradeAppDomain: String?,
        startedAt: Date, finishedAt: Date, outcome: RunOutcome, exitCode: Int32, tiers: [String: TierResult],
        ladder: Ladder, deployCount: Int, manifest: Manifest, flags: [String], artifacts: Artifacts,
        ccciVersion: String
    ) {
        self.runID = runID
        self.recipe = recipe
        self.ref = ref
        self.pr = pr
        self.headCommit = headCommit
        self.headVersion = headVersion
        self.baseVersion = baseVersion
        self.driver = driver
        self.mode = mode
        self.appDomain = appDomain
        self.upgradeAppDomain = upgradeAppDomain
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationSeconds = (finishedAt.timeIntervalSince(startedAt) * 1000).rounded() / 1000
        self.outcome = outcome
        self.exitCode = exitCode
        self.tiers = tiers
        self.level = ladder.level
        self.ladder = ladder
        self.deployCount = deployCount
        self.manifest = manifest
        self.flags = flags
        self.artifacts = artifacts
        self.ccciVersion = ccciVersion
    }

    enum CodingKeys: String, CodingKey {
        case schema, recipe, ref, pr, driver, mode, outcome, tiers, level, ladder, manifest, flags, artifacts, promotion
        case giveBack = "give_back"
        case runID = "run_id"
        case headCommit = "head_commit"
        case headVersion = "head_version"
        case baseVersion = "base_version"
        case appDomain = "app_domain"
        case upgradeAppDomain = "upgrade_app_domain"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_s"
        case exitCode = "exit_code"
        case deployCount = "deploy_count"
        case ccciVersion = "ccci_version"
    }

    /// Encodes the document (pretty, sorted keys).
    public func encoded() throws -> Data {
        try JSONCoding.prettyEncoder.encode(self)
    }
}

/// How a quick run gave the warm canonical back (SPEC F-QUICK). The run's verdict is recorded
/// first, with the give-back `pending`; the outcome follows once the canonical runs its version
/// again, or is marked broken.
public struct GiveBack: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case pending, ok, failed
    }

    public var state: State
    /// Why it failed.
    public var reason: String?
    public var durationSeconds: Double?

    public init(state: State, reason: String? = nil, durationSeconds: Double? = nil) {
        self.state = state
        self.reason = reason
        self.durationSeconds = durationSeconds.map { ($0 * 1000).rounded() / 1000 }
    }

    enum CodingKeys: String, CodingKey {
        case state, reason
        case durationSeconds = "duration_s"
    }
}

/// The verdict and evidence of one tier.
public struct TierResult: Sendable, Hashable, Codable {
    public var status: TierStatus
    public var durationSeconds: Double
    public var checks: [Check]
    /// Why the tier failed, was skipped or is N/A.
    public var reason: String?
    /// The tier's log file, relative to the run directory.
    public var log: String?
    /// How the tier's data proofs were made ("read through the head app (service app at /var/www)").
    public var proofs: [String]

    public init(
        status: TierStatus, durationSeconds: Double, checks: [Check] = [], reason: String? = nil, log: String? = nil,
        proofs: [String] = []
    ) {
        self.status = status
        self.durationSeconds = (durationSeconds * 1000).rounded() / 1000
        self.checks = checks
        self.reason = reason
        self.log = log
        self.proofs = proofs
    }

    enum CodingKeys: String, CodingKey {
        case status, checks, reason, log, proofs
        case durationSeconds = "duration_s"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(TierStatus.self, forKey: .status)
        durationSeconds = try container.decode(Double.self, forKey: .durationSeconds)
        checks = try container.decodeIfPresent([Check].self, forKey: .checks) ?? []
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        log = try container.decodeIfPresent(String.self, forKey: .log)
        proofs = try container.decodeIfPresent([String].self, forKey: .proofs) ?? []
    }
}

/// One check inside a tier (a convergence wait, a health request, one functional test).
public struct Check: Sendable, Hashable, Codable {
    public var name: String
    public var status: TierStatus
    public var durationSeconds: Double
    public var message: String?

    public init(name: String, status: TierStatus, durationSeconds: Double, message: String? = nil) {
        self.name = name
        self.status = status
        self.durationSeconds = (durationSeconds * 1000).rounded() / 1000
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case name, status, message
        case durationSeconds = "duration_s"
    }
}

/// Where a run's files are, relative to its run directory.
public struct Artifacts: Sendable, Hashable, Codable {
    public var runDirectory: String
    public var results: String
    public var junit: String
    public var log: String
    public var tierLogs: [String: String]
    public var serviceLogs: [String]
    public var screenshot: String?

    public init(
        runDirectory: String, results: String = "results.json", junit: String = "junit.xml", log: String = "run.log",
        tierLogs: [String: String] = [:], serviceLogs: [String] = [], screenshot: String? = nil
    ) {
        self.runDirectory = runDirectory
        self.results = results
        self.junit = junit
        self.log = log
        self.tierLogs = tierLogs
        self.serviceLogs = serviceLogs
        self.screenshot = screenshot
    }

    enum CodingKeys: String, CodingKey {
        case results, junit, log, screenshot
        case runDirectory = "run_dir"
        case tierLogs = "tier_logs"
        case serviceLogs = "service_logs"
    }
}
