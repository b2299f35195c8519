import CCCICore
import CCCILint
import CCCITestSupport
import Foundation
import Testing

/// Lint on the corpus of real recipes (`Fixtures/real-recipes/<name>`, each with its SOURCE.md): every
/// finding is compared with the reviewed expectation in `Fixtures/real-recipes/<name>.lint` — one
/// `location severity rule` line per finding, with why it is right after `#`. A change in findings
/// fails until the expectation is reviewed again.
@Suite struct LintCorpus {
    /// Every real recipe's directory.
    static let directories: [String] = {
        let root = TestEnvironment.realRecipesRoot
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return entries.filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/compose.yml").path)
        }.sorted()
    }()

    /// The recipes of the corpus: those with a reviewed expectation (`<name>.lint`).
    static let recipes: [String] = directories.filter {
        FileManager.default.fileExists(
            atPath: TestEnvironment.realRecipesRoot.appendingPathComponent("\($0).lint").path)
    }

    @Test(
        "the corpus holds at least ten real recipes, each naming its repository and commit; any other says why it is not in it"
    )
    func corpus() {
        #expect(Self.recipes.count >= 10, "\(Self.recipes)")
        for recipe in Self.directories {
            let source = TestEnvironment.realRecipesRoot.appendingPathComponent("\(recipe)/SOURCE.md")
            let text = (try? String(contentsOf: source, encoding: .utf8)) ?? ""
            if Self.recipes.contains(recipe) {
                #expect(text.contains("https://github.com/") && text.contains("commit"), "\(recipe) names its source")
            } else {
                #expect(text.contains("Not part of the lint corpus"), "\(recipe) says why it has no expectation")
            }
        }
    }

    @Test("each real recipe's findings are exactly its reviewed expectation", arguments: recipes)
    func expectation(_ recipe: String) async throws {
        let root = TestEnvironment.realRecipesRoot
        let report = try await RecipeLinter.lint(checkout: root.appendingPathComponent(recipe))
        let found = report.findings.map { "\($0.location) \($0.severity.rawValue) \($0.rule.id)" }
        let file = root.appendingPathComponent("\(recipe).lint")
        let text = try String(contentsOf: file, encoding: .utf8)
        let expected = text.split(separator: "\n").compactMap { line -> String? in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: \.isWhitespace)
            return fields.isEmpty ? nil : fields.joined(separator: " ")
        }
        let missing = expected.filter { !found.contains($0) }
        let unexpected = report.findings.filter {
            !expected.contains("\($0.location) \($0.severity.rawValue) \($0.rule.id)")
        }
        #expect(
            missing.isEmpty && unexpected.isEmpty && found.count == expected.count,
            """
            \(recipe): findings changed — review them and \(file.lastPathComponent)
            expected, not found: \(missing)
            found, not expected:
            \(unexpected.map(\.rendered).joined(separator: "\n"))
            """)
    }

    @Test("the real recipes are plain directories: the tag rules are skipped, and say so")
    func skippedTagRules() async throws {
        let report = try await RecipeLinter.lint(
            checkout: TestEnvironment.realRecipesRoot.appendingPathComponent("gaseous"))
        #expect(report.skipped.map(\.rule.id) == ["C014", "C017", "R006", "R014"])
    }
}

/// The classes of false positive real recipes showed, each as the smallest recipe that had it.
@Suite struct LintOnRealRecipeShapes {
    let clean = LintFixture.clean

    func findings(_ snapshot: RecipeSnapshot, _ rule: LintRule) -> [LintFinding] {
        RecipeLinter.lint(snapshot).findings.filter { $0.rule == rule }
    }

    /// An optional overlay that brings a secret, as bonfire's compose.akismet.yml does.
    static let akismet = """
        version: "3.8"
        services:
          app:
            secrets:
              - akismet_api_key
        secrets:
          akismet_api_key:
            external: true
            name: ${STACK_NAME}_akismet_api_key_${SECRET_AKISMET_API_KEY_VERSION}
        """

    @Test(
        "C005: a commented version line documents an optional overlay's secret; the name's variable decides, not the key"
    )
    func secretVersions() {
        let optional = clean.setting("compose.akismet.yml", Self.akismet)
            .editing(".env.sample", "TYPE=site", "TYPE=site\n#SECRET_AKISMET_API_KEY_VERSION=v1")
        #expect(findings(optional, .secretVersions).isEmpty)
        let undocumented = clean.setting("compose.akismet.yml", Self.akismet)
        #expect(
            findings(undocumented, .secretVersions).map(\.rendered) == [
                "compose.akismet.yml:9: error C005: secret `akismet_api_key` is named with "
                    + "SECRET_AKISMET_API_KEY_VERSION, which .env.sample does not mention — add "
                    + "`SECRET_AKISMET_API_KEY_VERSION=v1` (`#SECRET_AKISMET_API_KEY_VERSION=v1` when its overlay "
                    + "is optional)"
            ])
        // bonfire's orcid: key `orchid_client_secret`, name versioned by SECRET_ORCID_CLIENT_SECRET_VERSION.
        let spelled = Self.akismet.replacingOccurrences(of: "akismet_api_key:", with: "orchid_client_secret:")
            .replacingOccurrences(of: "- akismet_api_key", with: "- orchid_client_secret")
            .replacingOccurrences(of: "SECRET_AKISMET_API_KEY_VERSION", with: "SECRET_ORCID_CLIENT_SECRET_VERSION")
        let orcid = clean.setting("compose.orcid.yml", spelled)
            .editing(".env.sample", "TYPE=site", "TYPE=site\n# SECRET_ORCID_CLIENT_SECRET_VERSION=v1")
        #expect(findings(orcid, .secretVersions).isEmpty)
        #expect(findings(orcid.editing(".env.sample", "# SECRET_ORCID", "# SECRET_OTHER"), .secretVersions).count == 1)
        // A name whose last part is not a variable cannot be rotated.
        let fixed = clean.editing("compose.yml", "_${SECRET_DB_PASSWORD_VERSION}", "_v1")
        #expect(findings(fixed, .secretVersions).map(\.message).first?.contains("is not a version variable") == true)
        // A default is a value.
        let defaulted = clean.setting(
            "compose.akismet.yml", Self.akismet.replacingOccurrences(of: "_VERSION}", with: "_VERSION:-v1}"))
        #expect(findings(defaulted, .secretVersions).isEmpty)
    }

    @Test(
        "backupbot and traefik label values are read as the deploy fills them in: `${ENABLE_BACKUPS:-true}` is on, and the README may say so"
    )
    func interpolatedLabels() {
        let interpolated = clean.editing(
            "compose.yml", "\"backupbot.backup=true\"", "\"backupbot.backup=${ENABLE_BACKUPS:-true}\""
        )
        .editing("compose.yml", "\"traefik.enable=true\"", "\"traefik.enable=${TRAEFIK:-true}\"")
        let report = RecipeLinter.lint(interpolated)
        #expect(report.findings.isEmpty, "\(report.findings.map(\.rendered))")
        let mapped = interpolated.editing(
            "compose.yml", "- \"backupbot.backup=${ENABLE_BACKUPS:-true}\"",
            "- \"backupbot.backup.volumes.content.path=srv\"\n        - \"backupbot.backup=${ENABLE_BACKUPS}\""
        ).editing(".env.sample", "TYPE=site", "TYPE=site\nENABLE_BACKUPS=true")
        #expect(findings(mapped, .backupEffective).isEmpty && findings(mapped, .readmeAgrees).isEmpty)
        let off = mapped.editing(".env.sample", "ENABLE_BACKUPS=true", "ENABLE_BACKUPS=false")
        #expect(findings(off, .backupEffective).map(\.location) == ["compose.yml:26"], "at the first backupbot label")
        #expect(findings(off, .readmeAgrees).map(\.message).first?.contains("Backups: Yes") == true)
    }

    @Test(
        "a finding about a list member is reported in the file that added the member, not the last file with the list")
    func memberLocations() {
        let github = """
            version: "3.8"
            services:
              app:
                secrets:
                  - github_client_secret
            secrets:
              oauth_client_secret:
                external: true
                name: ${STACK_NAME}_oauth_client_secret_${SECRET_OAUTH_CLIENT_SECRET_VERSION:-v1}
            """
        let webpush = """
            version: "3.8"
            services:
              app:
                secrets:
                  - webpush_key
            secrets:
              webpush_key:
                external: true
                name: ${STACK_NAME}_webpush_key_${SECRET_WEBPUSH_KEY_VERSION:-v1}
            """
        let snapshot = clean.setting("compose.auth.github.yml", github).setting("compose.webpush.yml", webpush)
        #expect(
            findings(snapshot, .declaredReferences).map(\.location) == ["compose.auth.github.yml:5"],
            "where github_client_secret is used")
    }

    @Test(
        "a compose file the merge needs that does not read: C001, and the merged-project rules skipped, not run on the rest"
    )
    func noCascade() {
        let overlay = "version: \"3.8\"\nservices:\n  app:\n    environment:\n      - X=1\n"
        let broken = clean.editing("compose.yml", "services:\n", "services: [\n").setting("compose.extra.yml", overlay)
        let report = RecipeLinter.lint(broken)
        #expect(report.findings.map(\.rule) == [.composeValid], "\(report.findings.map(\.rendered))")
        let skipped = Set(report.skipped.map(\.rule))
        for rule in [LintRule.traefikEnabled, .image, .versionLabel, .readmeAgrees, .appService] {
            #expect(skipped.contains(rule), "\(rule.id) is skipped")
        }
        #expect(report.skipped.first { $0.rule == .image }?.reason.contains("compose.yml does not read (C001)") == true)
        // An optional overlay that does not read leaves the deploy's files checkable.
        let optional = clean.setting("compose.extra.yml", "services: [\n")
        let partial = RecipeLinter.lint(optional)
        #expect(partial.findings.map(\.rule) == [.composeValid])
        #expect(!partial.skipped.contains { $0.rule == .image })
    }

    @Test("C010: a router handing requests to another provider (api@internal) needs no port of this service")
    func internalRouters() {
        let dashboard = clean.editing(
            "compose.yml", "\"traefik.http.services.${STACK_NAME}.loadbalancer.server.port=80\"",
            "\"traefik.http.services.traefik.loadbalancer.server.port=web\"\n        - \"traefik.http.routers.${STACK_NAME}.service=api@internal\""
        )
        #expect(findings(dashboard, .traefikRoute).isEmpty)
        let ownService = dashboard.editing("compose.yml", "service=api@internal", "service=traefik")
        #expect(
            findings(ownService, .traefikRoute).map(\.message).first?.contains("is `web`, which is not a port") == true)
    }

    @Test(
        "C013: the 2021 per-service label and an empty version before the first release are warnings; empty after one is an error"
    )
    func versionLabels() {
        let legacy = clean.editing(
            "compose.yml", "coop-cloud.${STACK_NAME}.version=", "coop-cloud.${STACK_NAME}.app.version=")
        #expect(
            findings(legacy, .versionLabel).map(\.rendered) == [
                "compose.yml:25: warning C013: service `app` carries the 2021 form "
                    + "`coop-cloud.${STACK_NAME}.app.version` — rename it `coop-cloud.${STACK_NAME}.version`, the "
                    + "label abra reads now"
            ])
        let empty = clean.editing("compose.yml", "version=1.0.0+1.27.0", "version=")
        #expect(findings(empty.withTags([]), .versionLabel).map(\.severity) == [.warning])
        #expect(findings(empty.withTags(nil), .versionLabel).map(\.severity) == [.warning])
        #expect(findings(empty, .versionLabel).map(\.severity) == [.error], "the recipe has a release")
    }

    @Test("R010 is skipped, as abra skips it, when .env.sample sets no DOMAIN")
    func noDomain() {
        let worker = clean.editing("compose.yml", "\"traefik.enable=true\"", "\"traefik.enable=false\"")
        #expect(findings(worker, .traefikEnabled).count == 1)
        let noDomain = worker.editing(".env.sample", "DOMAIN=site.example.com\n", "")
        let report = RecipeLinter.lint(noDomain)
        #expect(report.findings.filter { $0.rule == .traefikEnabled }.isEmpty)
        #expect(report.skipped.first { $0.rule == .traefikEnabled }?.reason.contains("sets no DOMAIN") == true)
    }
}
