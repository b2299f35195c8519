import Foundation

/// The `results.json` document of one run (SPEC F-RESULTS), schema `ccci.results/5`
/// (`schemas/results.schema.json`).
///
/// Stable public names: top-level `schema`, `run_id`, `recipe`, `level`, `tiers` (keyed by tier
/// name, each with `status` and `duration_s`). Everything else is cc-ci's to evolve, with the
/// schema version bumped on incompatible change.
public struct RunResults: Sendable, Hashable, Codable {
    /// `/2`: a tier's status may be `cancelled` (the run was stopped before it finished).
    /// `/3`: the manifest records each service's image as deployed (`manifest.images`: digest, id).
    /// `/4`: a tier may carry `na` (declared with its reason, a coverage gap, a stale declaration)
    /// and `retry` (decided on a later attempt).
    public static let schemaVersion = "ccci.results/5"

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
    /// The apps of the paths run again on fresh apps (`retry_failed`), when there were any.
    public var retryAppDomains: [String]?
    /// What the head app cost while the tiers exercised it (F-RESOURCES, docs/design.md).
    public var resources: ResourceProfile?
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
        case retryAppDomains = "retry_app_domains"
        case resources
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
    /// How an N/A stands against the recipe's `[na]`: declared with its reason, a possible coverage
    /// gap, or a declaration the recipe outgrew.
    public var na: TierNA?
    /// The tier needed more than one attempt (a backup taken again): never a clean pass.
    public var retry: TierRetry?
    /// The upgrade tier: each base release's upgrade to the head, by the base's version.
    public var from: [String: UpgradeFromResult]?

    public init(
        status: TierStatus, durationSeconds: Double, checks: [Check] = [], reason: String? = nil, log: String? = nil,
        proofs: [String] = [], na: TierNA? = nil
    ) {
        self.status = status
        self.durationSeconds = (durationSeconds * 1000).rounded() / 1000
        self.checks = checks
        self.reason = reason
        self.log = log
        self.proofs = proofs
        self.na = na
    }

    enum CodingKeys: String, CodingKey {
        case status, checks, reason, log, proofs, na, retry, from
        case durationSeconds = "duration_s"
    }

    /// The reason as people read it: a declared N/A's declared reason, a retried tier's attempts.
    public var displayReason: String? {
        if let declared = na?.declared { return "declared N/A: \(declared)" }
        if let retry, status != .flaky {
            let attempts = retry.summary(status)
            return reason.map { "\($0) — \(attempts)" } ?? attempts
        }
        return reason
    }

    /// The upgrade tier's bases (`from`), newest release first.
    public var bases: [(version: String, result: UpgradeFromResult)] {
        (from ?? [:]).sorted { lhs, rhs in
            switch (RecipeVersion(lhs.key), RecipeVersion(rhs.key)) {
            case (let left?, let right?) where left != right: left > right
            default: lhs.key > rhs.key
            }
        }.map { ($0.key, $0.value) }
    }

    /// The verdict as people read it: `pass (retried)` for a pass that needed another attempt.
    public var verdictText: String {
        status == .pass && retry != nil ? "pass (retried)" : status.rawValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(TierStatus.self, forKey: .status)
        durationSeconds = try container.decode(Double.self, forKey: .durationSeconds)
        checks = try container.decodeIfPresent([Check].self, forKey: .checks) ?? []
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        log = try container.decodeIfPresent(String.self, forKey: .log)
        proofs = try container.decodeIfPresent([String].self, forKey: .proofs) ?? []
        na = try container.decodeIfPresent(TierNA.self, forKey: .na)
        retry = try container.decodeIfPresent(TierRetry.self, forKey: .retry)
        from = try container.decodeIfPresent([String: UpgradeFromResult].self, forKey: .from)
    }
}

/// The upgrade from one base release to the head (`upgrade_from`, SPEC F-UPGRADE), under
/// `tiers.upgrade.from["<version>"]`.
public struct UpgradeFromResult: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// Deployed at the base, upgraded in place to the head, and the head kept the base's data.
        case pass
        /// The head's upgrade from this base failed.
        case fail
        /// The base release itself could not be deployed (its images are gone, it no longer
        /// converges): the upgrade from it is untested — not the head's failure.
        case unavailable
        /// The run was stopped first.
        case cancelled
        /// Failed on one attempt and passed on the other (`retry_failed`).
        case flaky
    }

    public var status: Status
    public var durationSeconds: Double
    /// Why it did not pass.
    public var reason: String?
    /// The upgrade app's domain.
    public var app: String

    public init(status: Status, durationSeconds: Double, reason: String? = nil, app: String) {
        self.status = status
        self.durationSeconds = (durationSeconds * 1000).rounded() / 1000
        self.reason = reason
        self.app = app
    }

    enum CodingKeys: String, CodingKey {
        case status, reason, app
        case durationSeconds = "duration_s"
    }

    /// The verdict as people read it.
    public var verdictText: String { status == .unavailable ? "base could not be deployed" : status.rawValue }
}

/// A tier's N/A against the recipe's `[na]` declaration (SPEC F-LEVEL): exactly one of the three.
public struct TierNA: Sendable, Hashable, Codable {
    /// The reason `[na]` gives (the tier is N/A, as declared).
    public var declared: String?
    /// N/A without a declaration — a possible coverage gap: what would make the tier apply.
    public var gap: String?
    /// Declared N/A, yet the tier applied and ran: the key to remove.
    public var stale: String?

    public init(declared: String? = nil, gap: String? = nil, stale: String? = nil) {
        self.declared = declared
        self.gap = gap
        self.stale = stale
    }
}

/// A tier decided on a later attempt (SPEC F-BACKUP-TIER: a backup taken again because its
/// snapshot proved incomplete).
public struct TierRetry: Sendable, Hashable, Codable {
    /// The attempt that decided the tier (2 or more).
    public var attempt: Int
    /// How many attempts were allowed.
    public var of: Int
    /// Why each earlier attempt did not count, in order.
    public var failures: [String]

    public init(attempt: Int, of: Int, failures: [String]) {
        self.attempt = attempt
        self.of = of
        self.failures = failures
    }

    /// "passed on attempt 2 of 3: attempt 1's snapshot lacked …".
    public func summary(_ status: TierStatus) -> String {
        let verb =
            switch status {
            case .pass: "passed on attempt \(attempt) of \(of)"
            case .flaky: "failed, then passed on attempt \(attempt) on fresh apps"
            default: "failed after \(attempt) attempts of \(of)"
            }
        let why = failures.enumerated().map { "attempt \($0.offset + 1)'s \($0.element)" }.joined(separator: "; ")
        return why.isEmpty ? verb : "\(verb): \(why)"
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
