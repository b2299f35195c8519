import CCCICore

/// What the sweep does with one enrolled recipe (SPEC F-SWEEP), keyed on *versions*: it sees the
/// newest release and the canonical's version, never a commit, so new commits on a branch can
/// never start a run — only a new release can.
public enum SweepDecision: Sendable, Hashable {
    /// Run cold on this release; `seeding` when there is no (usable) canonical yet.
    case run(RecipeVersion, seeding: Bool)
    /// Nothing to do, for this reason (`no-new-version`, `never-released`, …).
    case skip(String)

    /// Decides from the newest release and the canonical (its version and status), if any.
    public static func decide(newest: RecipeVersion?, canonical: String?, canonicalStatus: String? = nil) -> Self {
        guard let newest else { return .skip("never-released") }
        guard let canonical, let current = RecipeVersion(canonical) else { return .run(newest, seeding: true) }
        // A canonical whose rollback failed is re-seeded at the newest release.
        if canonicalStatus == "broken" { return .run(newest, seeding: true) }
        if newest > current { return .run(newest, seeding: false) }
        if newest == current { return .skip("no-new-version") }
        return .skip("canonical-newer-than-release")
    }
}
