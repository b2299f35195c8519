import CCCICore
import CCCILint
import Testing

/// `ccci meta check --recipe`: `[na]` held against a checkout, before any deploy.
@Suite struct ApplicabilityTests {
    static let compose = """
        version: "3.8"
        services:
          app:
            image: nginx:1.25
            volumes: [data:/data]
            deploy:
              labels:
                backupbot.backup: "${ENABLE_BACKUPS:-true}"
        volumes:
          data:
        """

    static func snapshot(compose: String = compose, tags: [RecipeTag]? = []) -> RecipeSnapshot {
        RecipeSnapshot(
            name: "x", texts: ["compose.yml": compose, ".env.sample": "TYPE=x\n"], tags: tags,
            headCommit: String(repeating: "b", count: 40))
    }

    @Test("no release, no backupbot label, no test: each tier N/A with why and the way out")
    func everythingMissing() {
        let bare = Self.compose.replacingOccurrences(of: "backupbot.backup", with: "other.label")
        let assessment = Applicability.assess(Self.snapshot(compose: bare), hasTests: false, backupCapable: nil)
        let found = assessment.notApplicable
        #expect(Set(found.keys) == [.upgrade, .backup, .restore, .custom])
        #expect(found[.upgrade]?.gap == NACoverage.Gap.noRelease)
        #expect(found[.backup]?.reason == "no service is labelled backupbot.backup=true")
        let (notes, warnings) = Applicability.findings(
            assessment, declared: [.custom: "nothing to test"], source: "p/ccci.toml")
        #expect(notes == ["custom n/a, as declared: nothing to test (no functional tests found)"])
        #expect(warnings.count == 2, "upgrade, and backup (restore goes with it): \(warnings)")
        #expect(warnings.allSatisfy { $0.hasPrefix("possible coverage gap: ") })
        #expect(warnings.contains { $0.contains("`[na] backup = \"why\"` and `[na] restore = \"why\"`") })
    }

    @Test("a declaration the recipe outgrew is stale: it gained a release and backupbot labels (interpolated)")
    func stale() {
        let tags = [RecipeTag(name: "1.0.0+1.25", commit: String(repeating: "a", count: 40), annotated: true)]
        let assessment = Applicability.assess(Self.snapshot(tags: tags), hasTests: true, backupCapable: nil)
        #expect(assessment.notApplicable.isEmpty && assessment.unknown.isEmpty, "\(assessment)")
        let (_, warnings) = Applicability.findings(
            assessment, declared: [.upgrade: "first release", .backup: "no data"], source: "p/ccci.toml")
        #expect(
            warnings == [
                "stale declaration: `[na] upgrade` is declared, but the recipe gives the tier something to run now — remove `upgrade` from `[na]` in p/ccci.toml",
                "stale declaration: `[na] backup` is declared, but the recipe gives the tier something to run now — remove `backup` from `[na]` in p/ccci.toml",
            ])
    }

    @Test(
        "the head is the only release: nothing older to upgrade from; backup_capable = false says so without a reason")
    func headIsTheRelease() {
        let head = String(repeating: "b", count: 40)
        let tags = [RecipeTag(name: "1.0.0+1.25", commit: head, annotated: true)]
        let found = Applicability.assess(Self.snapshot(tags: tags), hasTests: true, backupCapable: false).notApplicable
        #expect(found[.upgrade]?.gap == NACoverage.Gap.noOlderRelease)
        #expect(found[.backup]?.gap == NACoverage.Gap.backupCapableFalse)
        #expect(found[.custom] == nil)
    }

    @Test(
        "what a checkout cannot tell is never called stale: no git repository (no releases), compose files that do not evaluate; upgrade_base_version makes the upgrade apply"
    )
    func unknownIsNotStale() {
        let broken = RecipeSnapshot(name: "x", texts: ["compose.yml": "services: [not a map"], tags: nil)
        let assessment = Applicability.assess(broken, hasTests: true, backupCapable: nil)
        #expect(Set(assessment.unknown.keys) == [.upgrade, .backup, .restore], "\(assessment)")
        let (notes, warnings) = Applicability.findings(
            assessment, declared: [.upgrade: "first release", .backup: "no data"], source: nil)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(notes.contains { $0.hasPrefix("upgrade is declared n/a; whether it applies cannot be told here") })
        let pinned = Applicability.assess(
            broken, hasTests: true, backupCapable: nil, upgradeFrom: [.version(RecipeVersion("1.0.0+1")!)])
        #expect(pinned.notApplicable[.upgrade] == nil && pinned.unknown[.upgrade] == nil)
    }

    @Test("upgrade_from held against the checkout's releases: the bases a run takes, or the version that is no release")
    func upgradeFrom() {
        let tags = ["1.0.0+1", "1.1.0+1", "2.0.0+2"].map { RecipeTag(name: $0, commit: "c\($0)", annotated: true) }
        let supported = Applicability.assess(
            Self.snapshot(tags: tags), hasTests: true, backupCapable: nil, upgradeFrom: [.allSupported],
            supportedLines: 2)
        #expect(supported.upgradeBases == ["2.0.0+2", "1.1.0+1"])
        #expect(supported.notApplicable[.upgrade] == nil && supported.upgradeProblem == nil)
        let missing = Applicability.assess(
            Self.snapshot(tags: tags), hasTests: true, backupCapable: nil,
            upgradeFrom: [.previous, .version(RecipeVersion("1.5.0+1")!)])
        #expect(
            missing.upgradeProblem?.hasPrefix("upgrade_from 1.5.0+1 is not a release of x (releases: 1.0.0+1") == true)
        #expect(missing.notApplicable[.upgrade] == nil, "a configuration error, not an N/A")
        let none = Applicability.assess(
            Self.snapshot(), hasTests: true, backupCapable: nil, upgradeFrom: [.allSupported])
        #expect(none.notApplicable[.upgrade]?.gap == NACoverage.Gap.noRelease)
    }
}
