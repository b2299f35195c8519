import CCCICore

/// Which tiers a recipe checkout gives nothing to run, read without a deploy (`ccci meta check
/// --recipe`): the upgrade tier without a release older than the head, backup and restore without
/// a `backupbot.backup=true` service, functional tests without a test. A run finds the same, for
/// the same reasons, with the same way out (``NACoverage/Gap``).
public enum Applicability {
    /// A tier the checkout would make N/A: why, and what would make it apply.
    public struct NotApplicable: Sendable, Hashable {
        public let reason: String
        public let gap: String
    }

    /// What a checkout says of each tier: those it would make N/A, and those it cannot tell about
    /// (not a git repository: no releases to read; compose files that do not evaluate).
    public struct Assessment: Sendable, Hashable {
        public var notApplicable: [Tier: NotApplicable] = [:]
        /// Why the checkout cannot tell whether the tier applies.
        public var unknown: [Tier: String] = [:]
        /// The base releases a run of this checkout upgrades from (`upgrade_from`), newest first.
        public var upgradeBases: [String] = []
        /// Why `upgrade_from` cannot be followed here (it names a version that is no release): a run
        /// stops on it as a configuration error.
        public var upgradeProblem: String?
    }

    /// Assesses `snapshot`; `hasTests`: whether a pack or the recipe ships a test; `backupCapable`
    /// is the packs' `backup_capable` (`nil`: read from the labels); `upgradeFrom` and
    /// `supportedLines` the packs' `upgrade_from` and `[upgrade] supported_lines`.
    public static func assess(
        _ snapshot: RecipeSnapshot, hasTests: Bool, backupCapable: Bool?,
        upgradeFrom: [UpgradeBaseChoice] = [.previous],
        supportedLines: Int = 3
    ) -> Assessment {
        var result = Assessment()
        let named = upgradeFrom.allSatisfy { if case .version = $0 { true } else { false } }
        if let tags = snapshot.tags {
            let releases = ReleaseSet(tags: tags)
            let headVersion = releases.releases.last { $0.tag.commit == snapshot.headCommit }?.version
            var bases: [ReleaseSet.Release] = []
            do {
                bases = try releases.upgradeBases(
                    forHead: headVersion, from: upgradeFrom, supportedLines: supportedLines)
            } catch {
                result.upgradeProblem =
                    "upgrade_from \(error.version.raw) is not a release of \(snapshot.name) (releases: "
                    + "\(error.known.isEmpty ? "none" : error.known.joined(separator: ", "))) — a run would stop on it"
            }
            result.upgradeBases = bases.map(\.version.raw)
            if bases.isEmpty, result.upgradeProblem == nil {
                result.notApplicable[.upgrade] =
                    releases.releases.isEmpty
                    ? NotApplicable(
                        reason: "the recipe has no release (annotated version tag) to upgrade from",
                        gap: NACoverage.Gap.noRelease)
                    : NotApplicable(
                        reason: "no release is older than the head \(headVersion?.raw ?? "")",
                        gap: NACoverage.Gap.noOlderRelease)
            }
        } else if !named {
            // Named releases make the tier apply (or a run stop as a configuration error).
            result.unknown[.upgrade] =
                snapshot.tagsUnreadable ?? "the checkout is not a git repository, so its releases cannot be read"
        }
        let context = LintContext(snapshot)
        if backupCapable == false {
            let backup = NotApplicable(
                reason: "backup_capable = false in the recipe's customization", gap: NACoverage.Gap.backupCapableFalse)
            result.notApplicable[.backup] = backup
            result.notApplicable[.restore] = backup
        } else if backupCapable == nil {
            if let evaluated = context.evaluated {
                if BackupPlan(project: evaluated) == nil {
                    let backup = NotApplicable(
                        reason: "no service is labelled backupbot.backup=true", gap: NACoverage.Gap.noBackupLabels)
                    result.notApplicable[.backup] = backup
                    result.notApplicable[.restore] = backup
                }
            } else {
                let why =
                    "its compose files do not evaluate\(context.mergeUnavailable.map { " (\($0))" } ?? "") — `ccci lint` says why"
                result.unknown[.backup] = why
                result.unknown[.restore] = why
            }
        }
        if !hasTests {
            result.notApplicable[.custom] = NotApplicable(
                reason: "no functional tests found", gap: NACoverage.Gap.noTests)
        }
        return result
    }

    /// `meta check`'s findings: each tier N/A as declared, each possible gap and each stale
    /// declaration, against `declared` (`[na]`, from `source`).
    public static func findings(
        _ assessment: Assessment, declared: [Tier: String], source: String?
    ) -> (notes: [String], warnings: [String]) {
        let notApplicable = assessment.notApplicable
        var notes: [String] = []
        var warnings: [String] = []
        for tier in Tier.allCases {
            if let why = assessment.unknown[tier] {
                if declared[tier] != nil {
                    notes.append("\(tier.rawValue) is declared n/a; whether it applies cannot be told here: \(why)")
                }
                continue
            }
            switch (notApplicable[tier], declared[tier]) {
            case (let found?, let reason?):
                notes.append(
                    "\(tier.rawValue) n/a, as declared: \(reason.isEmpty ? NACoverage.noReasonGiven : reason)"
                        + " (\(found.reason))")
            case (let found?, nil):
                let tiers: [Tier] = tier == .backup || tier == .restore ? [.backup, .restore] : [tier]
                guard tier != .restore || declared[.backup] != nil else { continue }
                warnings.append(
                    "possible coverage gap: \(tier.rawValue) would be n/a (\(found.reason)) and `[na]` does not "
                        + "declare it — \(NACoverage.Gap.orDeclare(found.gap, tiers))")
            case (nil, _?):
                warnings.append(
                    "stale declaration: "
                        + NACoverage.stale(tier, ran: "the recipe gives the tier something to run now", source))
            case (nil, nil):
                continue
            }
        }
        return (notes, warnings)
    }
}
