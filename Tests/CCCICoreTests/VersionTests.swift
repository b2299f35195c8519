import CCCICore
import Testing

@Suite struct RecipeVersions {
    @Test("semver+upstream tags parse into their recipe and upstream parts")
    func parsesCoopCloudForm() throws {
        let version = try #require(RecipeVersion("1.13.0+1.31.1"))
        #expect(version.form == .semver)
        #expect(version.semver == SemVer(major: 1, minor: 13, patch: 0))
        #expect(version.upstream == "1.31.1")
        #expect(RecipeVersion("3.6.0+1.24.2-rootless")?.upstream == "1.24.2-rootless")
        #expect(RecipeVersion("0.3.0+v0.4.219")?.upstream == "v0.4.219")
    }

    @Test("legacy upstream_revision tags parse, and non-versions do not")
    func parsesLegacyAndRejectsOthers() {
        let legacy = RecipeVersion("1.14.1-rootless_1")
        #expect(legacy?.form == .legacy)
        #expect(legacy?.upstream == "1.14.1-rootless")
        #expect(legacy?.legacyRevision == 1)
        for text in ["latest", "wip", "", "1.2", "1.2.3+", "v", "release-1", "1.2.3 +4"] {
            #expect(RecipeVersion(text) == nil, "\(text) must not parse")
        }
    }

    @Test("versions order by recipe semver, numerically, then upstream; legacy tags come first")
    func ordering() {
        let texts = [
            "1.10.0+1.3", "1.0.0+1.2", "1.9.0+2.0", "1.14.1-rootless_2", "1.14.1-rootless_1", "0.9.0+9.9",
            "1.0.0-rc.1+1.2", "1.0.0+1.10",
        ]
        let sorted = texts.compactMap(RecipeVersion.init).sorted().map(\.raw)
        #expect(
            sorted == [
                "1.14.1-rootless_1", "1.14.1-rootless_2", "0.9.0+9.9", "1.0.0-rc.1+1.2", "1.0.0+1.2", "1.0.0+1.10",
                "1.9.0+2.0", "1.10.0+1.3",
            ])
    }

    @Test("a leading v is ignored for equality")
    func leadingV() {
        #expect(RecipeVersion("v1.0.0+2") == RecipeVersion("1.0.0+2"))
        #expect(Set([RecipeVersion("v1.0.0+2")!, RecipeVersion("1.0.0+2")!]).count == 1)
    }
}

@Suite struct Releases {
    let tags = [
        RecipeTag(name: "1.0.0+1.2", commit: "aaa1111", annotated: true),
        RecipeTag(name: "1.10.0+1.3", commit: "ccc3333", annotated: true),
        RecipeTag(name: "1.9.0+2.0", commit: "bbb2222", annotated: true),
        RecipeTag(name: "2.0.0+1.4", commit: "ddd4444", annotated: false),
        RecipeTag(name: "nightly", commit: "eee5555", annotated: true),
    ]

    @Test("only annotated version tags are releases; lightweight and non-version tags are reported apart")
    func classifies() {
        let set = ReleaseSet(tags: tags)
        #expect(set.releases.map(\.version.raw) == ["1.0.0+1.2", "1.9.0+2.0", "1.10.0+1.3"])
        #expect(set.lightweight.map(\.name) == ["2.0.0+1.4"])
        #expect(set.other.map(\.name) == ["nightly"])
        #expect(set.latest?.version.raw == "1.10.0+1.3")
    }

    @Test("previous release and the upgrade base: newest older release, one step back when the head is a release")
    func previousAndUpgradeBase() {
        let set = ReleaseSet(tags: tags)
        #expect(set.previous(before: RecipeVersion("1.10.0+1.3")!)?.version.raw == "1.9.0+2.0")
        #expect(set.previous(before: RecipeVersion("1.0.0+1.2")!) == nil)
        // A PR that bumps to an unreleased version upgrades from the latest release.
        #expect(set.upgradeBase(forHead: RecipeVersion("1.11.0+1.3"))?.version.raw == "1.10.0+1.3")
        // A head equal to the latest release steps back one.
        #expect(set.upgradeBase(forHead: RecipeVersion("1.10.0+1.3"))?.version.raw == "1.9.0+2.0")
        // The lightweight 2.0.0 tag is never a base.
        #expect(set.upgradeBase(forHead: RecipeVersion("3.0.0+1.0"))?.version.raw == "1.10.0+1.3")
    }

    @Test("upgrade_from: previous, every release of the newest supported minor lines, named releases; newest first")
    func upgradeBases() throws {
        let names = ["1.0.0+1", "1.0.1+1", "1.1.0+2", "1.2.0+3", "1.2.1+3", "2.0.0+4", "2.1.0+5"]
        let set = ReleaseSet(tags: names.map { RecipeTag(name: $0, commit: "c\($0)", annotated: true) })
        let head = RecipeVersion("2.2.0+6")
        func bases(_ choices: [UpgradeBaseChoice], lines: Int = 3, head: RecipeVersion? = head) throws -> [String] {
            try set.upgradeBases(forHead: head, from: choices, supportedLines: lines).map(\.version.raw)
        }
        #expect(try bases([.previous]) == ["2.1.0+5"])
        // Lines 2.1, 2.0 and 1.2 — both 1.2 releases; 1.1 and 1.0 are out of support.
        #expect(try bases([.allSupported]) == ["2.1.0+5", "2.0.0+4", "1.2.1+3", "1.2.0+3"])
        #expect(try bases([.allSupported], lines: 1) == ["2.1.0+5"])
        #expect(try bases([.allSupported], lines: 10).count == names.count)
        // A head that is itself a release is never its own base.
        #expect(try bases([.allSupported], lines: 1, head: RecipeVersion("2.1.0+5")) == ["2.0.0+4"])
        // Each base once, whatever lists it.
        #expect(
            try bases([.previous, .version(RecipeVersion("1.0.0+1")!), .allSupported], lines: 1)
                == ["2.1.0+5", "1.0.0+1"])
        #expect(try bases([.allSupported], head: RecipeVersion("0.1.0+1")).isEmpty)
        let error = #expect(throws: UnknownRelease.self) { try bases([.version(RecipeVersion("1.5.0+1")!)]) }
        #expect(error?.description.contains("1.5.0+1 is not a release") == true)
        #expect(error?.description.contains("2.1.0+5") == true)
    }

    @Test("a commit is a release when an annotated version tag points at it")
    func commitIsRelease() {
        let set = ReleaseSet(tags: tags)
        #expect(set.isRelease(commit: "bbb2222"))
        #expect(!set.isRelease(commit: "ddd4444"), "a lightweight tag does not make a release")
        #expect(!set.isRelease(commit: "fff0000"))
    }
}
