import CCCICore
import CCCIRunner
import CCCIStore
import CCCIWarm
import Foundation
import Testing

/// The warm canonicals' pure policies: when a run may be promoted, what the sweep does with a
/// recipe, how the store swaps a record (SPEC F-CANON, F-SWEEP).
@Suite struct WarmPolicyTests {
    static let tagged = String(repeating: "a", count: 40)
    static let untagged = String(repeating: "b", count: 40)
    static let releases = ReleaseSet(tags: [
        RecipeTag(name: "1.1.0+1.0.0", commit: String(repeating: "c", count: 40), annotated: true),
        RecipeTag(name: "1.2.0+1.0.0", commit: tagged, annotated: true),
        RecipeTag(name: "1.3.0+1.0.0", commit: untagged, annotated: false),
    ])

    static func head(_ commit: String) -> RecipeHead {
        RecipeHead(
            source: RecipeSource(name: "web", location: "/srv/web", localPath: nil), commit: commit,
            version: RecipeVersion("1.2.0+1.0.0"), isRelease: commit == tagged, releases: releases)
    }

    static func gate(
        outcome: RunOutcome = .pass, stages: [Tier] = Tier.defaultStages, pr: Int = 0, ref: String? = nil,
        residueClean: Bool = true, commit: String = tagged, dependencies: [String] = [], quick: Bool = false
    ) -> PromotionGate.Verdict {
        PromotionGate.check(
            outcome: outcome, stages: stages, pr: pr, ref: ref, residueClean: residueClean, head: head(commit),
            dependencies: dependencies, quick: quick)
    }

    func refusal(_ verdict: PromotionGate.Verdict) -> String? {
        if case .refused(let reason) = verdict { return reason }
        return nil
    }

    @Test("a green, complete, clean run of a release tag is eligible, recording the tag's version and commit")
    func eligible() throws {
        guard case .eligible(let release) = Self.gate() else {
            Issue.record("refused: \(Self.gate())")
            return
        }
        #expect(release.version.raw == "1.2.0+1.0.0")
        #expect(release.tag.commit == Self.tagged)
        // The sweep's own ref (the tag name) is not a pull request.
        #expect(refusal(Self.gate(ref: "1.2.0+1.0.0")) == nil)
    }

    @Test("each condition refuses on its own, saying which")
    func refusals() {
        #expect(refusal(Self.gate(outcome: .fail))?.contains("not green") == true)
        #expect(refusal(Self.gate(outcome: .deadline))?.contains("not green") == true)
        #expect(refusal(Self.gate(residueClean: false))?.contains("residue") == true)
        #expect(refusal(Self.gate(stages: [.install, .upgrade]))?.contains("missing backup, restore, custom") == true)
        #expect(refusal(Self.gate(pr: 12))?.contains("pull request") == true)
        #expect(refusal(Self.gate(ref: "refs/pull/12/head"))?.contains("pull request") == true)
        #expect(
            refusal(Self.gate(commit: Self.untagged))?.contains("not a release") == true,
            "a lightweight tag is not a release")
        #expect(refusal(Self.gate(dependencies: ["provider"]))?.contains("dependencies") == true)
        #expect(refusal(Self.gate(quick: true))?.contains("quick run is never promoted") == true)
    }

    @Test("the sweep decides on versions: newer runs, equal skips, none released skips, no canonical seeds")
    func decisions() throws {
        let v12 = try #require(RecipeVersion("1.2.0+1.0.0"))
        let v13 = try #require(RecipeVersion("1.3.0+1.0.0"))
        #expect(SweepDecision.decide(newest: v13, canonical: "1.2.0+1.0.0") == .run(v13, seeding: false))
        #expect(SweepDecision.decide(newest: v12, canonical: "1.2.0+1.0.0") == .skip("no-new-version"))
        #expect(SweepDecision.decide(newest: nil, canonical: "1.2.0+1.0.0") == .skip("never-released"))
        #expect(SweepDecision.decide(newest: nil, canonical: nil) == .skip("never-released"))
        #expect(SweepDecision.decide(newest: v12, canonical: nil) == .run(v12, seeding: true))
        #expect(SweepDecision.decide(newest: v12, canonical: "1.3.0+1.0.0") == .skip("canonical-newer-than-release"))
        #expect(
            SweepDecision.decide(newest: v12, canonical: "1.2.0+1.0.0", canonicalStatus: "broken")
                == .run(v12, seeding: true), "a broken canonical is re-seeded")
    }

    @Test("labels say what exists: promoted, green-but-promote-failed with both versions, fail, skip, sync")
    func labels() {
        typealias Label = SweepReport.Label
        #expect(Label.promoted("1.2.0").description == "PROMOTED 1.2.0")
        #expect(
            Label.greenButPromoteFailed(canonical: nil, expected: "1.2.0").description
                == "GREEN-BUT-PROMOTE-FAILED (canonical=none, expected 1.2.0)")
        #expect(Label.fail.description == "FAIL (canonical unchanged)")
        #expect(Label.skip("no-new-version").description == "SKIP(no-new-version)")
        #expect(Label.syncFailed.description == "SYNC-FAILED")
        #expect(!Label.promoted("1").isProblem && !Label.skip("x").isProblem)
        #expect(
            Label.fail.isProblem && Label.syncFailed.isProblem
                && Label.greenButPromoteFailed(canonical: nil, expected: "1").isProblem)
    }

    /// `config.toml` text loaded as the node configuration, or the error it gives.
    func configError(_ text: String) -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-config-\(UUID())")
        defer { try? FileManager.default.removeItem(at: home) }
        do {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let file = home.appendingPathComponent("config.toml")
            try Data(text.utf8).write(to: file)
            let config = try NodeConfig.load(environment: ["CCCI_HOME": home.path, "CCCI_CONFIG": file.path])
            return "(loaded \(config.mirrors.keys.sorted()))"
        } catch {
            return "\(error)"
        }
    }

    @Test("[mirror.<recipe>] tables are read; each bad one is an error naming the key and the fix")
    func mirrorTables() {
        #expect(
            configError(
                """
                [mirror.web]
                upstream = "https://git.example.org/coop-cloud/web.git"
                branch = "main"
                token_file = "/etc/ccci/upstream-token"
                repository = "ci-mirrors/web"
                """) == "(loaded [\"web\"])")
        let cases: [(String, String)] = [
            ("[mirror]\nweb = \"https://x\"", "`mirror.web`: expects a table"),
            ("mirror = 3", "`mirror`: expects tables, e.g. [mirror.web]"),
            ("[mirror.\"../etc\"]\nupstream = \"https://x\"", "`mirror.../etc`: is not a recipe name"),
            ("[mirror.web]\nbranch = \"main\"", "`mirror.web.upstream`: is required"),
            ("[mirror.web]\nupstream = \"\"", "`mirror.web.upstream`: expects a non-empty string"),
            ("[mirror.web]\nupstream = \"https://x\"\nbranch = \"--force\"", "'--force' is not a branch name"),
            ("[mirror.web]\nupstream = \"https://x\"\nbranch = \"a..b\"", "'a..b' is not a branch name"),
            (
                "[mirror.web]\nupstream = \"https://x\"\nrepository = \"web\"",
                "`mirror.web.repository`: expects `owner/name`"
            ),
            ("[mirror.web]\nupstream = \"https://x\"\nrepository = \"a/b/c\"", "expects `owner/name`"),
            ("[mirror.web]\nupstream = \"https://x\"\ntoken = \"s3cret\"", "mirror.web.token"),
        ]
        for (text, expected) in cases {
            let error = configError(text)
            #expect(error.contains(expected), "\(text) → \(error)")
            #expect(error.contains("config.toml"), "the error names the file: \(error)")
            #expect(!error.contains("s3cret"), "a value that may be a secret is not echoed: \(error)")
        }
    }

    @Test("sizes for [warm] volume_budget: binary units, junk refused")
    func sizes() {
        #expect(WarmConfig.bytes("20G") == Int64(20) << 30)
        #expect(WarmConfig.bytes("512m") == Int64(512) << 20)
        #expect(WarmConfig.bytes("4096") == 4096)
        for junk in ["", "G", "-1G", "1.5G", "20GB", "20GiB", "lots", "99999999999T"] {
            #expect(WarmConfig.bytes(junk) == nil, "\(junk)")
        }
        #expect(WarmConfig.format(96 * 1024) == "96 KiB")
        #expect(WarmConfig.format(3 * 1024 * 1024 / 2) == "1.5 MiB")
    }
}
