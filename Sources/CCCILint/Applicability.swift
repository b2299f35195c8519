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
    }

    /// Assesses `snapshot`; `hasTests`: whether a pack or the recipe ships a test; `backupCapable`
    /// is the packs' `backup_capable` (`nil`: read from the labels); `pinnedBase`: whether
    /// `upgrade_base_version` names the base (the upgrade tier then applies).
    public static func assess(
        _ snapshot: RecipeSnapshot, hasTests: Bool, backupCapable: Bool?, pinnedBase: Bool = false
    ) -> Assessment {
        var result = Assessment()
        if pinnedBase {
            // The run starts from the named release (or stops as a configuration error).
        } else if let tags = snapshot.tags {
            let releases = ReleaseSet(tags: tags)
            let headVersion = releases.releases.last { $0.tag.commit == snapshot.headCommit }?.version
            if releases.upgradeBase(forHead: headVersion) == nil {
                result.notApplicable[.upgrade] =
                    releases.releases.isEmpty
                    ? NotApplicable(
                        reason: "the recipe has no release (annotated version tag) to upgrade from",
                        gap: NACoverage.Gap.noRelease)
                    : NotApplicable(
                        reason: "no release is older than the head \(headVersion?.raw ?? "")",
                        gap: NACoverage.Gap.noOlderRelease)
            }
        } else {
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
