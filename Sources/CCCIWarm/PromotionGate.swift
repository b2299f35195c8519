import CCCICore
import CCCIRunner

/// Whether a finished run may become its recipe's warm canonical (SPEC F-CANON). Pure: it reads
/// the run and decides; ``Promoter`` does the work.
///
/// A run is promoted only when it was green, cold, covered every tier of the ladder, left nothing
/// behind, tested no pull request, and its head *is* a release: a commit an annotated release tag
/// points at. What is recorded is that tag's version — the tested one — never the newest tag.
public enum PromotionGate {
    public enum Verdict: Sendable, Hashable {
        case eligible(ReleaseSet.Release)
        case refused(String)
    }

    /// The tiers a promoted run must have asked for.
    public static let requiredTiers: [Tier] = [.install, .upgrade, .backup, .restore, .custom]

    public static func check(_ run: FinishedRun) -> Verdict {
        check(
            outcome: run.outcome, stages: run.options.stages, pr: run.options.pr, ref: run.options.ref,
            residueClean: run.residueClean, head: run.head, dependencies: run.meta.dependencies,
            quick: run.options.quick)
    }

    public static func check(
        outcome: RunOutcome, stages: [Tier], pr: Int, ref: String?, residueClean: Bool, head: RecipeHead,
        dependencies: [String], quick: Bool = false
    ) -> Verdict {
        guard !quick else { return .refused("a quick run is never promoted (only a cold run proves a fresh install)") }
        guard outcome == .pass else { return .refused("the run was not green (\(outcome.rawValue))") }
        guard residueClean else { return .refused("teardown left residue") }
        let missing = requiredTiers.filter { !stages.contains($0) }
        guard missing.isEmpty else {
            return .refused(
                "the run did not ask for every tier (missing \(missing.map(\.rawValue).joined(separator: ", ")))")
        }
        guard pr == 0, !(ref ?? "").hasPrefix("refs/pull/") else {
            return .refused("a pull request is never promoted")
        }
        guard let release = head.releases.releases(at: head.commit).last else {
            return .refused(
                "the tested head \(head.commit.prefix(12)) is not a release (no annotated release tag points at it)")
        }
        guard dependencies.isEmpty else {
            return .refused(
                "a recipe with dependencies (\(dependencies.joined(separator: ", "))) cannot be kept warm yet: its "
                    + "dependencies would need warm apps of their own")
        }
        return .eligible(release)
    }
}
