/// The recipe's `[na]` held against what a run found (SPEC F-LEVEL, F-META): a tier N/A as
/// declared carries the declared reason; one N/A without a declaration is a possible coverage gap,
/// with what would make it apply (the tier that found it N/A knows, and says so at the source);
/// a declaration the recipe outgrew — the tier applied and ran — is stale, naming the key to remove.
public enum NACoverage {
    /// What would make a tier apply, for each way cc-ci finds one N/A.
    public enum Gap {
        public static let noRelease =
            "tag a release (an annotated tag such as `1.0.0+1.2.3`): the upgrade tier then deploys it and upgrades it "
            + "to the head"
        public static let noOlderRelease =
            "the head is the oldest release: the tier applies once an earlier release is tagged, or with "
            + "`upgrade_base_version`"
        public static let noBackupLabels =
            "label the service that holds the data `backupbot.backup=true` (its volumes are backed up; "
            + "`backupbot.backup.volumes.<name>=false` leaves one out)"
        public static let backupCapableFalse =
            "`backup_capable = false` gives no reason: declare `[na] backup` and `[na] restore` with it"
        public static let noTests =
            "add a functional test — an executable printing TAP or JUnit, or a pytest file — in `tests/functional/` "
            + "of the recipe or its CI pack"

        /// `hint`, and the other way out: a declaration.
        public static func orDeclare(_ hint: String, _ tiers: [Tier]) -> String {
            let names = tiers.map { "`[na] \($0.rawValue) = \"why\"`" }.joined(separator: " and ")
            return "\(hint) — or declare \(names) if it does not apply"
        }
    }

    /// The text of a declaration read from the deprecated list form, which has no reason.
    public static let noReasonGiven = "declared N/A without a reason (the deprecated `na_tiers` list)"

    /// Marks the declared tiers of `tiers`: N/A (or nothing to run) as declared, or stale.
    public static func annotate(_ tiers: inout [Tier: TierResult], declared: [Tier: String], source: String?) {
        for (tier, reason) in declared {
            guard var result = tiers[tier] else { continue }
            switch result.status {
            case .na:
                result.na = TierNA(declared: reason.isEmpty ? noReasonGiven : reason)
            case .skip where result.na?.gap != nil:
                result.na = TierNA(declared: reason.isEmpty ? noReasonGiven : reason)
            case .pass, .fail, .flaky:
                result.na = TierNA(stale: stale(tier, ran: "it applies and ran (\(result.status.rawValue))", source))
            default:
                continue
            }
            tiers[tier] = result
        }
    }

    /// The warning for a declaration of `tier` the recipe outgrew (`ran`: what shows it applies).
    public static func stale(_ tier: Tier, ran: String, _ source: String?) -> String {
        "`[na] \(tier.rawValue)` is declared, but \(ran) — remove `\(tier.rawValue)` from `[na]`"
            + (source.map { " in \($0)" } ?? "")
    }

    /// One line per declared N/A, gap and stale declaration, in ladder order — for the terminal,
    /// the reply and `meta check`.
    public static func findings(_ tiers: [String: TierResult]) -> [String] {
        var lines: [String] = []
        for tier in Tier.allCases {
            guard let result = tiers[tier.rawValue], let na = result.na else { continue }
            if let declared = na.declared {
                lines.append("\(tier.rawValue) n/a, as declared: \(declared)")
            }
            if let gap = na.gap {
                lines.append(
                    "possible coverage gap: \(tier.rawValue) is \(result.status.rawValue)"
                        + (result.reason.map { " (\($0))" } ?? "") + " and `[na]` does not declare it — \(gap)")
            }
            if let stale = na.stale { lines.append("stale declaration: \(stale)") }
        }
        return lines
    }
}
