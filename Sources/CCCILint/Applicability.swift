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

    /// The tiers `snapshot` would make N/A; `hasTests`: whether a pack or the recipe ships a test.
    /// `backupCapable` is the pack's `backup_capable` (`nil`: read from the labels).
    public static func notApplicable(
        _ snapshot: RecipeSnapshot, hasTests: Bool, backupCapable: Bool?
    ) -> [Tier: NotApplicable] {
        var result: [Tier: NotApplicable] = [:]
        if let tags = snapshot.tags {
            let releases = ReleaseSet(tags: tags)
            let headVersion = releases.releases.last { $0.tag.commit == snapshot.headCommit }?.version
            if releases.upgradeBase(forHead: headVersion) == nil {
                result[.upgrade] =
                    releases.releases.isEmpty
                    ? NotApplicable(
                        reason: "the recipe has no release (annotated version tag) to upgrade from",
                        gap: NACoverage.Gap.noRelease)
                    : NotApplicable(
                        reason: "no release is older than the head \(headVersion?.raw ?? "")",
                        gap: NACoverage.Gap.noOlderRelease)
            }
        }
        let context = LintContext(snapshot)
        let labelled = context.evaluated.flatMap { BackupPlan(project: $0) } != nil
        if backupCapable == false || (backupCapable == nil && context.evaluated != nil && !labelled) {
            let backup =
                backupCapable == false
                ? NotApplicable(
                    reason: "backup_capable = false in the recipe's customization",
                    gap: NACoverage.Gap.backupCapableFalse)
                : NotApplicable(
                    reason: "no service is labelled backupbot.backup=true", gap: NACoverage.Gap.noBackupLabels)
            result[.backup] = backup
            result[.restore] = backup
        }
        if !hasTests {
            result[.custom] = NotApplicable(reason: "no functional tests found", gap: NACoverage.Gap.noTests)
        }
        return result
    }

    /// `meta check`'s findings: each tier N/A as declared, each possible gap and each stale
    /// declaration, against `declared` (`[na]`, from `source`).
    public static func findings(
        _ notApplicable: [Tier: NotApplicable], declared: [Tier: String], source: String?
    ) -> (notes: [String], warnings: [String]) {
        var notes: [String] = []
        var warnings: [String] = []
        for tier in Tier.allCases {
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
