import CCCICore
import CCCITestSupport
import Foundation
import Testing

/// A test pack directory with a `ccci.toml` and, optionally, hook files.
struct Pack {
    let directory: TemporaryDirectory

    init(_ toml: String?, executables: [String] = [], plainFiles: [String] = []) throws {
        directory = try TemporaryDirectory("ccci-pack")
        if let toml {
            try toml.write(to: directory.appending("ccci.toml"), atomically: true, encoding: .utf8)
        }
        for name in executables + plainFiles {
            let url = directory.appending(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try "#!/bin/sh\nexit 0\n".write(to: url, atomically: true, encoding: .utf8)
            let mode = executables.contains(name) ? 0o755 : 0o644
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        }
    }

    var url: URL { directory.url }
    var file: String { directory.appending("ccci.toml").path }
}

/// Loads packs and returns the problems they produce (failing the test when there are none).
func metaProblems(_ packs: [Pack]) -> [MetaProblem] {
    let error = #expect(throws: MetaProblems.self) { try MetaLoader.load(packDirectories: packs.map(\.url)) }
    return error?.problems ?? []
}

@Suite struct MetaLoading {
    @Test("upgrade_from takes previous, all-supported and release versions; [upgrade] sets supported_lines")
    func upgradeFrom() throws {
        let defaults = try MetaLoader.load(packDirectories: [])
        #expect(defaults.upgradeFrom == [.previous])
        #expect(defaults.supportedLines == 3)
        let pack = try Pack("upgrade_from = [\"previous\", \"1.0.0+1.0\"]\n[upgrade]\nsupported_lines = 2\n")
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.upgradeFrom == [.previous, .version(RecipeVersion("1.0.0+1.0")!)])
        #expect(meta.supportedLines == 2)
        let allSupported = try Pack("upgrade_from = \"all-supported\"\n")
        let single = try MetaLoader.load(packDirectories: [allSupported.url])
        #expect(single.upgradeFrom == [.allSupported])
        // upgrade_base_version is the one-base form.
        let pinnedPack = try Pack("upgrade_base_version = \"1.0.0+1.0\"\n")
        let pinned = try MetaLoader.load(packDirectories: [pinnedPack.url])
        #expect(pinned.upgradeFrom == [.version(RecipeVersion("1.0.0+1.0")!)])
    }

    @Test(
        "a bad upgrade_from or [upgrade] names the key and the fix",
        arguments: [
            ("upgrade_from = [\"previos\"]\n", "did you mean \"previous\""),
            ("upgrade_from = []\n", "`upgrade_from` is empty"),
            ("upgrade_from = [\"previous\", \"previous\"]\n", "more than once"),
            ("upgrade_from = 3\n", "expects an array of \"previous\""),
            ("[upgrade]\nsupported_lines = 0\n", "from 1 to 10"),
            ("[upgrade]\nsupported_lines = 2\nwarm_canonical = true\n", "move `warm_canonical` above the table"),
            ("upgrade = { lines = 2 }\n", "it takes `supported_lines`"),
            (
                "upgrade_from = [\"previous\"]\nupgrade_base_version = \"1.0.0+1.0\"\n",
                "`upgrade_base_version` is the one-base form"
            ),
        ])
    func badUpgradeFrom(toml: String, expected: String) throws {
        let problems = metaProblems([try Pack(toml)])
        #expect(problems.contains { $0.message.contains(expected) }, "\(problems)")
    }

    @Test("with no ccci.toml every key has its registry default")
    func defaults() throws {
        let empty = try Pack(nil)
        let meta = try MetaLoader.load(packDirectories: [empty.url])
        #expect(meta.settings.isEmpty)
        #expect(meta.warnings.isEmpty)
        for key in MetaKey.allCases {
            #expect(meta.value(key) == key.spec.defaultValue, "\(key.rawValue)")
            #expect(!meta.isCustomized(key))
        }
        #expect(meta.deployTimeout == .seconds(600))
        #expect(meta.extraEnv.isEmpty)
        #expect(meta.upgradeExtraEnv.isEmpty)
        #expect(meta.healthPath == "/")
        #expect(meta.healthStatuses == [200, 301, 302, 303, 307, 308])
        #expect(meta.readyProbe == nil)
        #expect(meta.backupCapable == nil)
        #expect(meta.backupVerify == nil)
        #expect(meta.naTiers.isEmpty)
        #expect(meta.screenshot?.path == "/")
        #expect(meta.screenshot?.wait == .zero)
        #expect(meta.dependencies.isEmpty)
        #expect(!meta.warmCanonical)
        #expect(meta.upgradeBaseVersion == nil)
        #expect(meta.composeOverlay == "compose.ccci.yml")
        #expect(meta.hooks.isEmpty)
        for tier in Tier.allCases { #expect(meta.preHook(for: tier) == nil) }
    }

    @Test("no pack directories at all also gives the defaults")
    func noPacks() throws {
        let meta = try MetaLoader.load(packDirectories: [])
        #expect(meta.deployTimeout == .seconds(600))
    }

    @Test(
        "durations are written as text or as a number of seconds",
        arguments: [
            ("\"10m\"", 600), ("\"1h30m\"", 5400), ("90", 90), ("\"90s\"", 90), ("\"2h\"", 7200), ("\"45\"", 45),
        ])
    func durations(text: String, seconds: Int) throws {
        let pack = try Pack("deploy_timeout = \(text)\n")
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.deployTimeout == .seconds(seconds))
        #expect(meta.isCustomized(.deployTimeout) == (seconds != 600))
    }

    @Test("a duration that does not parse is a problem showing the text and the accepted forms")
    func badDuration() throws {
        let pack = try Pack("deploy_timeout = \"ten minutes\"\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("ten minutes") == true)
        #expect(problems.first?.message.contains("10m") == true)
    }

    @Test("strings, booleans, string lists, int lists, version and tier list are read")
    func scalarAndListTypes() throws {
        let pack = try Pack(
            """
            health_path = "api/health"
            warm_canonical = true
            dependencies = ["keycloak", "postgres"]
            health_statuses = [200, 401]
            upgrade_base_version = "1.2.0+3.4.5"
            na_tiers = ["backup", "restore"]
            compose_overlay = "compose.ci.yml"
            """)
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.healthPath == "/api/health", "a health path gets its leading slash")
        #expect(meta.warmCanonical)
        #expect(meta.dependencies == ["keycloak", "postgres"])
        #expect(meta.healthStatuses == [200, 401])
        #expect(meta.upgradeBaseVersion == RecipeVersion("1.2.0+3.4.5"))
        #expect(meta.naTiers == [.backup, .restore])
        #expect(meta.composeOverlay == "compose.ci.yml")
        #expect(meta.settings[.healthPath]?.source == pack.file)
    }

    @Test("string maps accept numbers and booleans as their text")
    func stringMaps() throws {
        let pack = try Pack(
            """
            extra_env = { COMPOSE_FILE = "compose.yml:compose.smtp.yml", PORT = 8080, DEBUG = true }

            [upgrade_extra_env]
            NEW_SETTING = "on"
            """)
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.extraEnv == ["COMPOSE_FILE": "compose.yml:compose.smtp.yml", "PORT": "8080", "DEBUG": "true"])
        #expect(meta.upgradeExtraEnv == ["NEW_SETTING": "on"])
    }

    @Test("a string map member that is a table or array is a problem naming the member")
    func badStringMapMember() throws {
        let pack = try Pack("extra_env = { LIST = [1, 2] }\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("extra_env.LIST") == true)
        #expect(problems.first?.message.contains("array") == true)
    }

    @Test("backup_capable is tri-state: \"auto\" means detect, true and false are kept")
    func triState() throws {
        for (text, expected) in [("\"auto\"", nil), ("true", true), ("false", false)] as [(String, Bool?)] {
            let pack = try Pack("backup_capable = \(text)\n")
            #expect(try MetaLoader.load(packDirectories: [pack.url]).backupCapable == expected, "\(text)")
        }
        let bad = try Pack("backup_capable = \"maybe\"\n")
        let problems = metaProblems([bad])
        #expect(problems.first?.message.contains("backup_capable") == true)
        #expect(problems.first?.message.contains("auto") == true)
    }

    @Test("ready_probe as a table is an HTTP probe with defaults for missing fields")
    func probeTable() throws {
        let pack = try Pack(
            """
            [ready_probe]
            path = "api/health"
            status = 204
            contains = "ok"
            timeout = "2m"
            """)
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.readyProbe == .http(path: "/api/health", status: 204, contains: "ok", timeout: .seconds(120)))
        let minimal = try Pack("ready_probe = { path = \"/ready\" }\n")
        #expect(
            try MetaLoader.load(packDirectories: [minimal.url]).readyProbe
                == .http(path: "/ready", status: 200, contains: nil, timeout: .seconds(120)))
    }

    @Test("an unknown ready_probe field is a problem with a suggestion")
    func probeUnknownField() throws {
        let pack = try Pack("ready_probe = { path = \"/\", statuss = 200 }\n")
        let problems = metaProblems([pack])
        #expect(problems.first?.message.contains("statuss") == true)
        #expect(problems.first?.message.contains("did you mean `status`") == true)
    }

    @Test("ready_probe as a string names an executable hook in the pack")
    func probeHook() throws {
        let pack = try Pack("ready_probe = \"hooks/ready.sh\"\n", executables: ["hooks/ready.sh"])
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        guard case .hook(let hook) = meta.readyProbe else {
            Issue.record("expected a hook probe, got \(String(describing: meta.readyProbe))")
            return
        }
        #expect(hook.declared == "hooks/ready.sh")
        #expect(hook.path == pack.url.appendingPathComponent("hooks/ready.sh").standardizedFileURL.path)
        #expect(meta.hooks[.readyProbe] == hook)
    }

    @Test("hook keys resolve to executables in the pack and feed preHook(for:)")
    func hooks() throws {
        let pack = try Pack(
            """
            pre_install = "pre-install.sh"
            pre_upgrade = "pre-upgrade.sh"
            pre_backup = "pre-backup.sh"
            pre_restore = "pre-restore.sh"
            backup_verify = "verify.sh"
            """, executables: ["pre-install.sh", "pre-upgrade.sh", "pre-backup.sh", "pre-restore.sh", "verify.sh"])
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.preHook(for: .install)?.declared == "pre-install.sh")
        #expect(meta.preHook(for: .upgrade)?.declared == "pre-upgrade.sh")
        #expect(meta.preHook(for: .backup)?.declared == "pre-backup.sh")
        #expect(meta.preHook(for: .restore)?.declared == "pre-restore.sh")
        #expect(meta.preHook(for: .custom) == nil)
        #expect(meta.backupVerify?.declared == "verify.sh")
        #expect(meta.backupVerify?.path.hasPrefix(pack.url.standardizedFileURL.path) == true)
        #expect(Set(meta.hooks.keys) == [.preInstall, .preUpgrade, .preBackup, .preRestore, .backupVerify])
    }

    @Test("a hook naming a missing file is a problem naming the path")
    func missingHook() throws {
        let pack = try Pack("pre_install = \"hooks/missing.sh\"\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        let message = problems.first?.message ?? ""
        #expect(message.contains("pre_install"))
        #expect(message.contains("hooks/missing.sh"))
        #expect(message.contains("does not exist"))
    }

    @Test("a hook that is not executable is a problem saying chmod +x")
    func notExecutableHook() throws {
        let pack = try Pack("backup_verify = \"verify.sh\"\n", plainFiles: ["verify.sh"])
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("chmod +x") == true)
        #expect(problems.first?.message.contains("verify.sh") == true)
    }

    @Test("a hook naming a directory is a problem")
    func directoryHook() throws {
        let pack = try Pack("pre_backup = \"hooks\"\n", executables: ["hooks/x.sh"])
        #expect(metaProblems([pack]).count == 1)
    }

    @Test("screenshot is a table { path, selector, text, wait, viewport }, or false to disable it")
    func screenshot() throws {
        let table = try Pack("screenshot = { path = \"/login\", wait = \"2s\" }\n")
        let spec = try MetaLoader.load(packDirectories: [table.url]).screenshot
        #expect(spec?.path == "/login")
        #expect(spec?.wait == .seconds(2))
        let off = try Pack("screenshot = false\n")
        let offMeta = try MetaLoader.load(packDirectories: [off.url])
        #expect(offMeta.screenshot == nil)
        #expect(offMeta.isCustomized(.screenshot))
        let unknown = try Pack("screenshot = { path = \"/\", delay = \"2s\" }\n")
        #expect(metaProblems([unknown]).first?.message.contains("delay") == true)
        let full = try Pack(
            "screenshot = { path = \"login\", selector = \"#app\", text = \"Welcome\", viewport = \"1024x640\" }\n")
        let fullSpec = try #require(try MetaLoader.load(packDirectories: [full.url]).screenshot)
        #expect(fullSpec == ScreenshotSpec(path: "/login", selector: "#app", text: "Welcome", width: 1024, height: 640))
        #expect(ScreenshotSpec().width == 1280 && ScreenshotSpec().height == 800)
        for bad in ["1024", "10x10", "1024x99999", "wide"] {
            let pack = try Pack("screenshot = { viewport = \"\(bad)\" }\n")
            let message = metaProblems([pack]).first?.message ?? ""
            #expect(message.contains("viewport") && message.contains(bad) && message.contains("WIDTHxHEIGHT"), "\(bad)")
        }
    }

    @Test(
        "dependency placeholders are checked across packs: they must name a declared dependency; extra_secrets' values never show"
    )
    func dependencyPlaceholders() throws {
        let recipe = try Pack("dependencies = [\"provider\"]\n")
        let ci = try Pack(
            """
            extra_env = { OIDC = "{{deps.provider.url}}" }
            extra_secrets = { client_secret = "{{deps.provider.creds.client_secret}}", api = "literal-value" }
            pre_deploy = "hooks/pre.sh"

            """, executables: ["hooks/pre.sh"])
        let meta = try MetaLoader.load(packDirectories: [recipe.url, ci.url])
        #expect(meta.extraSecrets["api"] == "literal-value" && meta.preDeploy?.declared == "hooks/pre.sh")
        let manifest = Manifest(meta: meta, overlays: [], customTests: [], envOverrides: meta.extraEnv)
        #expect(manifest.meta["extra_secrets"]?.value["api"] == .string(Redaction.mask), "a literal secret is hidden")
        let undeclared = try Pack("extra_secrets = { s = \"{{deps.keycloak.creds.secret}}\" }\n")
        let problem = try #require(metaProblems([recipe, undeclared]).first)
        #expect(problem.key == "extra_secrets.s" && problem.message.contains("`keycloak` is not in `dependencies`"))
        let malformed = try Pack("upgrade_extra_env = { A = \"{{deps.provider.port}}\" }\n")
        #expect(metaProblems([recipe, malformed]).first?.message.contains("is not a dependency fact") == true)
    }

    @Test("a malformed upgrade_base_version is a problem showing the text")
    func badVersion() throws {
        let pack = try Pack("upgrade_base_version = \"latest\"\n")
        let problems = metaProblems([pack])
        #expect(problems.first?.message.contains("latest") == true)
        #expect(problems.first?.message.contains("upgrade_base_version") == true)
    }

    @Test(
        "[na] takes a reason per tier; the old na_tiers list is still read, with a warning saying how to write reasons")
    func declaredNA() throws {
        let pack = try Pack(
            "deploy_timeout = \"5m\"\n\n[na]\nupgrade = \"first release: nothing to upgrade from\"\ncustom = \" no tests yet \"\n"
        )
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.naReasons == [.upgrade: "first release: nothing to upgrade from", .custom: "no tests yet"])
        #expect(meta.naTiers == [.upgrade, .custom])
        #expect(meta.naSource == pack.file)
        #expect(meta.warnings.isEmpty)

        let legacy = try Pack("na_tiers = [\"backup\", \"restore\"]\n")
        let old = try MetaLoader.load(packDirectories: [legacy.url])
        #expect(old.naReasons == [.backup: "", .restore: ""])
        #expect(old.warnings.count == 1)
        #expect(
            old.warnings.first?.contains(
                "`na_tiers` is deprecated — write a `[na]` table with the reason for each tier")
                == true, "\(old.warnings)")
        #expect(old.warnings.first?.contains("`backup = \"why it does not apply\"`") == true)

        for (toml, expected) in [
            ("[na]\nbackup = \"  \"\n", "`na.backup` is empty — say why the tier does not apply"),
            ("[na]\nbakup = \"x\"\n", "did you mean `backup`"),
            ("[na]\nbackup = true\n", "`na.backup` must be the reason as a string, found a boolean"),
            ("[na]\nbackup = \"x\"\ndeploy_timeout = \"5m\"\n", "keys after a `[na]` table belong to it"),
            ("[na]\ninstall = \"x\"\n", "every recipe must install"),
            ("[na]\nscreenshot = \"x\"\n", "L5"),
            ("backup_retries = 9\n", "between 0 (never again) and 5"),
            ("backup_retries = \"two\"\n", "`backup_retries` expects a whole number"),
        ] {
            let problems = metaProblems([try Pack(toml)])
            #expect(problems.contains { $0.message.contains(expected) }, "\(toml): \(problems)")
        }
        let never = try Pack("backup_retries = 0\n")
        #expect(try MetaLoader.load(packDirectories: [never.url]).backupRetries == 0)
        let defaults = try Pack(nil)
        #expect(try MetaLoader.load(packDirectories: [defaults.url]).backupRetries == 2)
    }

    @Test("an unknown tier in na_tiers is a problem with a suggestion")
    func badTier() throws {
        let pack = try Pack("na_tiers = [\"bakup\"]\n")
        let problems = metaProblems([pack])
        #expect(problems.first?.message.contains("bakup") == true)
        #expect(problems.first?.message.contains("did you mean `backup`") == true)
    }

    @Test("an unknown key is a problem with a did-you-mean suggestion, the file and the line")
    func unknownKey() throws {
        let pack = try Pack("# customization\ndeploy_timout = \"5m\"\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        #expect(problem.message.contains("unknown key `deploy_timout`"))
        #expect(problem.message.contains("did you mean `deploy_timeout`"))
        #expect(problem.key == "deploy_timout")
        #expect(problem.line == 2)
        #expect(problem.file == pack.file)
        #expect(problem.description.contains("\(pack.file):2"))
    }

    @Test("an unknown key far from every registry key gets no suggestion")
    func unknownKeyNoSuggestion() throws {
        let pack = try Pack("completely_unrelated_setting = 1\n")
        let problems = metaProblems([pack])
        #expect(problems.first?.message.contains("did you mean") == false)
    }

    @Test(
        "a type mismatch names the key, the expected type and the found type",
        arguments: [
            ("deploy_timeout = true", "deploy_timeout", "duration", "boolean"),
            ("health_path = 5", "health_path", "a string", "an integer"),
            ("warm_canonical = \"yes\"", "warm_canonical", "a boolean", "a string"),
            ("dependencies = \"keycloak\"", "dependencies", "an array of strings", "a string"),
            ("health_statuses = [200, \"ok\"]", "health_statuses", "an array of integers", "a string"),
            ("extra_env = \"A=1\"", "extra_env", "a table of strings", "a string"),
            ("screenshot = 3", "screenshot", "a table { path, selector, text, wait, viewport } or false", "an integer"),
            ("na_tiers = \"backup\"", "na_tiers", "an array of tier names", "a string"),
        ])
    func typeMismatch(line: String, key: String, expected: String, found: String) throws {
        let pack = try Pack(line + "\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        let message = problems.first?.message ?? ""
        #expect(message.contains("`\(key)`"), "\(message)")
        #expect(message.contains(expected), "\(message)")
        #expect(message.contains(found), "\(message)")
    }

    @Test("every problem of a file is listed at once")
    func allProblems() throws {
        let pack = try Pack(
            """
            deploy_timout = "5m"
            health_path = "/ok"
            warm_canonical = "yes"
            pre_install = "nope.sh"
            """)
        let problems = metaProblems([pack])
        #expect(problems.count == 3)
        #expect(Set(problems.compactMap(\.key)) == ["deploy_timout", "warm_canonical", "pre_install"])
        #expect(problems.compactMap(\.line).sorted() == [1, 3, 4])
    }

    @Test("problems from several packs are all reported")
    func problemsAcrossPacks() throws {
        let first = try Pack("deploy_timout = \"5m\"\n")
        let second = try Pack("health_path = false\n")
        let problems = metaProblems([first, second])
        #expect(Set(problems.map(\.file)) == [first.file, second.file])
    }

    @Test("a file that is not valid TOML is a problem naming the file")
    func invalidTOML() throws {
        let pack = try Pack("deploy_timeout = \n[[[\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        #expect(problems.first?.file == pack.file)
        #expect(problems.first?.message.contains("not valid TOML") == true)
    }

    @Test("a later pack overrides an earlier one key by key")
    func laterPackOverrides() throws {
        let recipePack = try Pack("deploy_timeout = \"5m\"\nhealth_path = \"/a\"\n")
        let ciPack = try Pack("health_path = \"/b\"\nwarm_canonical = true\n")
        let meta = try MetaLoader.load(packDirectories: [recipePack.url, ciPack.url])
        #expect(meta.deployTimeout == .seconds(300))
        #expect(meta.healthPath == "/b")
        #expect(meta.warmCanonical)
        #expect(meta.settings[.deployTimeout]?.source == recipePack.file)
        #expect(meta.settings[.healthPath]?.source == ciPack.file)
        let reversed = try MetaLoader.load(packDirectories: [ciPack.url, recipePack.url])
        #expect(reversed.healthPath == "/a")
    }

    @Test("a pack setting a key to its default is not a customization")
    func defaultIsNotCustomized() throws {
        let pack = try Pack("health_path = \"/\"\ndeploy_timeout = \"10m\"\n")
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(!meta.isCustomized(.healthPath))
        #expect(!meta.isCustomized(.deployTimeout))
    }

    @Test("deprecated health_ok sets health_statuses and warns to rename it")
    func deprecatedHealthOK() throws {
        let pack = try Pack("health_ok = [200, 418]\n")
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        #expect(meta.healthStatuses == [200, 418])
        #expect(meta.settings[.healthOK] == nil)
        #expect(meta.warnings.count == 1)
        #expect(meta.warnings.first?.contains("health_ok") == true)
        #expect(meta.warnings.first?.contains("health_statuses") == true)
        #expect(meta.warnings.first?.contains(pack.file) == true)
    }

    @Test("when a file sets both health_ok and health_statuses, the new key wins")
    func newKeyWins() throws {
        let pack = try Pack("health_statuses = [204]\nhealth_ok = [418]\n")
        #expect(try MetaLoader.load(packDirectories: [pack.url]).healthStatuses == [204])
    }
}

@Suite struct MetaRegistryDocs {
    @Test("the generated docs have a row for every registry key with its type")
    func docsMentionEveryKey() {
        let markdown = MetaDocs.markdown()
        for key in MetaKey.allCases {
            #expect(markdown.contains("| `\(key.rawValue)` | \(key.spec.type.rawValue) |"), "\(key.rawValue)")
        }
    }

    @Test("deprecated keys are marked with their replacement in the docs")
    func docsMarkDeprecation() {
        let row = MetaDocs.markdown().split(separator: "\n").first { $0.hasPrefix("| `health_ok`") }
        #expect(row?.contains("Deprecated") == true)
        #expect(row?.contains("`health_statuses`") == true)
    }

    @Test("the docs are deterministic")
    func deterministic() {
        #expect(MetaDocs.markdown() == MetaDocs.markdown())
    }

    @Test("the spec's required keys are in the registry")
    func requiredKeys() {
        let names = Set(MetaKey.allCases.map(\.rawValue))
        for name in [
            "deploy_timeout", "extra_env", "upgrade_extra_env", "health_statuses", "health_path", "ready_probe",
            "backup_capable", "backup_verify", "na", "na_tiers", "backup_retries", "screenshot", "dependencies",
            "warm_canonical",
            "upgrade_base_version", "compose_overlay", "pre_install", "pre_upgrade", "pre_backup", "pre_restore",
        ] {
            #expect(names.contains(name), "\(name)")
        }
    }

    @Test("edit distance and suggestions")
    func suggestions() {
        #expect(Suggestion.distance("kitten", "sitting") == 3)
        #expect(Suggestion.distance("", "abc") == 3)
        #expect(Suggestion.closest(to: "helth_path", in: ["health_path", "health_ok"]) == "health_path")
        #expect(Suggestion.closest(to: "zzz", in: ["health_path"]) == nil)
    }
}

@Suite struct MetaTableFields {
    @Test("a ready_probe timeout that is not a duration is a problem naming the field")
    func probeTimeout() throws {
        let pack = try Pack("ready_probe = { path = \"/\", timeout = true }\n")
        let message = metaProblems([pack]).first?.message ?? ""
        #expect(message.contains("ready_probe.timeout"))
        #expect(message.contains("duration"))
        #expect(message.contains("boolean"))
    }

    @Test("a ready_probe status that is not an integer is a problem naming the field")
    func probeStatus() throws {
        let pack = try Pack("ready_probe = { status = \"200\" }\n")
        let message = metaProblems([pack]).first?.message ?? ""
        #expect(message.contains("ready_probe.status"))
        #expect(message.contains("integer"))
    }

    @Test(
        "table fields that must be strings are type-checked, not silently replaced by a default",
        arguments: [
            "ready_probe = { path = 5 }", "ready_probe = { path = \"/\", contains = 5 }", "screenshot = { path = 5 }",
        ])
    func stringFields(line: String) throws {
        // A present `path`/`contains` that is not a string is a type mismatch naming the field, not a default.
        let pack = try Pack(line + "\n")
        let problems = metaProblems([pack])
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("an integer") == true)
    }

    @Test("a screenshot wait that is not a duration is a problem")
    func screenshotWait() throws {
        let pack = try Pack("screenshot = { wait = \"soon\" }\n")
        #expect(metaProblems([pack]).first?.message.contains("soon") == true)
    }

    @Test("problem line numbers are right in a file with CRLF line endings")
    func crlfLines() throws {
        // Line numbers count CRLF line endings too.
        let pack = try Pack("# comment\r\nhealth_path = \"/\"\r\ndeploy_timout = \"5m\"\r\n")
        #expect(metaProblems([pack]).first?.line == 3)
    }
}

@Suite struct Durations {
    @Test(
        "duration text: units, combinations and bare seconds",
        arguments: [
            ("90s", 90_000), ("10m", 600_000), ("1h30m", 5_400_000), ("90", 90_000), ("500ms", 500), ("1.5s", 1500),
            ("1d", 86_400_000), (" 2M ", 120_000),
        ])
    func parses(text: String, milliseconds: Int64) {
        #expect(DurationText.parse(text) == .milliseconds(milliseconds))
    }

    @Test("text that is not a duration does not parse", arguments: ["", "m", "10x", "-5", "ten", "5 m", "1h-2m"])
    func rejects(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test("durations format compactly")
    func formats() {
        #expect(DurationText.format(.seconds(5400)) == "1h30m")
        #expect(DurationText.format(.seconds(600)) == "10m")
        #expect(DurationText.format(.seconds(45)) == "45s")
        #expect(DurationText.format(.milliseconds(1200)) == "1.2s")
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.seconds(3661)) == "1h1m1s")
    }
}
