import CCCICore
import CCCILint
import CCCITestSupport
import Foundation
import Testing

/// Lint on the real recipes' files, and the behaviours of the engine beyond single rules.
@Suite struct LintRealRecipes {
    func lint(_ recipe: String) async throws -> LintReport {
        try await RecipeLinter.lint(checkout: TestEnvironment.realRecipesRoot.appendingPathComponent(recipe))
    }

    func pinned(_ report: LintReport) -> [String] {
        report.findings.map { "\($0.location) \($0.rule.id)" }
    }

    // Every finding below was checked against the files (see the lint commit for the reasons).
    @Test("custom-php-2021: no healthchecks, the old per-service version labels, unvendored configs, README claims")
    func customPHP() async throws {
        let report = try await lint("custom-php-2021")
        #expect(
            pinned(report) == [
                "README.md:11 C018",  // says Healthcheck: Yes; every healthcheck is commented out
                "README.md:12 C018",  // says Backups: Yes; no backupbot label anywhere
                "compose.yml:3 R002",  // app (php-fpm): no healthcheck
                "compose.yml:30 C013",  // only `coop-cloud.${STACK_NAME}.app.version`, not the label abra reads
                "compose.yml:32 R002",  // frontend: its healthcheck is commented out
                "compose.yml:66 R002",  // db: no healthcheck
                "compose.yml:91 R015",  // db_root_password: 16 characters
                "compose.yml:99 R012",  // ENTRYPOINT_CONF_VERSION: no abra.sh in these files
                "compose.yml:100 C007",  // entrypoint.sh.tmpl is not among the files
                "compose.yml:103 R012",  // NGINX_DEFAULT_CONF_VERSION
                "compose.yml:104 C007",  // nginx.conf
                "compose.yml:107 R012",  // PHP_UPLOADS_CONF_VERSION
                "compose.yml:108 C007",  // uploads.ini
            ])
        #expect(report.errors == 7)
        #expect(!report.passed)
    }

    @Test("foodsharing-cms: clean compose; its README (an app README) has no metadata block")
    func foodsharing() async throws {
        let report = try await lint("foodsharing-cms")
        #expect(pinned(report) == ["README.md R007"])
    }

    @Test(
        "gaseous: unpinned images, no healthchecks, swarm-ignored `restart`, credentials in plain env — warnings only")
    func gaseous() async throws {
        let report = try await lint("gaseous")
        #expect(
            pinned(report) == [
                "compose.yml:3 R002", "compose.yml:4 R004", "compose.yml:5 C008", "compose.yml:19 C009",
                "compose.yml:34 R002", "compose.yml:35 R003", "compose.yml:36 C008", "compose.yml:42 C009",
                "compose.yml:44 C009",
            ])
        #expect(report.passed, "every gaseous finding is a warning")
        #expect(report.warnings == 9)
    }

    @Test("the real recipes are plain directories: the tag rules are skipped, and say so")
    func skippedTagRules() async throws {
        let report = try await lint("gaseous")
        #expect(report.skipped.map(\.rule.id) == ["C014", "C017", "R006", "R014"])
    }
}

@Suite struct LintEngine {
    let clean = LintFixture.clean

    func findings(_ snapshot: RecipeSnapshot, _ rule: LintRule) -> [LintFinding] {
        RecipeLinter.lint(snapshot).findings.filter { $0.rule == rule }
    }

    @Test(".env.sample completeness: a commented-out setting counts as documented, a required one does not")
    func commentedSettings() {
        let optional = clean.editing("compose.yml", "${TITLE:-site}", "${TITLE}")
            .editing(".env.sample", "TYPE=site", "TYPE=site\n#TITLE=my site")
        #expect(findings(optional, .envComplete).isEmpty)
        let required = clean.editing("compose.yml", "${TITLE:-site}", "${TITLE:?set a title}")
            .editing(".env.sample", "TYPE=site", "TYPE=site\n#TITLE=my site")
        #expect(
            findings(required, .envComplete).map(\.message) == [
                "`${TITLE:?…}` requires TITLE, which .env.sample does not set — add `TITLE=…`"
            ])
    }

    @Test(".env.sample completeness: abra.sh exports count; a pass-through variable must be set too")
    func exportsAndPassThrough() {
        let exported = clean.editing("compose.yml", "${TITLE:-site}", "${TITLE}")
            .setting("abra.sh", "export NGINX_CONF_VERSION=v1\nexport TITLE=site\n")
        #expect(findings(exported, .envComplete).isEmpty)
        let passThrough = clean.editing("compose.yml", "- TITLE=${TITLE:-site}", "- TITLE")
        let found = findings(passThrough, .envComplete)
        #expect(found.map(\.location) == ["compose.yml:7"])
        #expect(found.first?.message.contains("passed through from the app env") == true)
    }

    @Test("each variable is reported once, where it is first used")
    func reportedOnce() {
        let twice = clean.editing("compose.yml", "${TITLE:-site}", "${TITLE}")
            .editing("compose.yml", "test: [\"CMD\", \"true\"]", "test: [\"CMD\", \"test\", \"${TITLE}\"]")
        #expect(findings(twice, .envComplete).map(\.location) == ["compose.yml:7"])
    }

    @Test("a finding in an overlay names the overlay file; COMPOSE_FILE's files merge first")
    func overlays() {
        let overlay = "version: \"3.8\"\nservices:\n  app:\n    image: nginx:latest\n"
        let snapshot = clean.editing(".env.sample", "TYPE=site", "TYPE=site\nCOMPOSE_FILE=compose.yml:compose.dev.yml")
            .setting("compose.dev.yml", overlay)
        #expect(findings(snapshot, .stableTag).map(\.location) == ["compose.dev.yml:4"])
        let noVersion = clean.setting("compose.extra.yml", "services:\n  app:\n    environment:\n      - X=1\n")
        #expect(
            findings(noVersion, .composeVersion).map(\.rendered) == [
                "compose.extra.yml: warning R001: compose.extra.yml declares no `version` — add `version: \"3.8\"` as "
                    + "Co-op Cloud recipes do"
            ])
    }

    @Test("an invalid variable reference and a service that is not a mapping are compose errors with their lines")
    func invalidCompose() {
        let reference = clean.editing("compose.yml", "${TITLE:-site}", "${TITLE")
        #expect(findings(reference, .composeValid).map(\.location) == ["compose.yml:7"])
        let notMapping = clean.editing("compose.yml", "\nvolumes:\n", "  worker: busybox\n\nvolumes:\n")
        #expect(
            findings(notMapping, .composeValid).map(\.rendered) == [
                "compose.yml:27: error C001: service `worker` is not a mapping of settings"
            ])
    }

    @Test("an image named with a variable is checked as the deploy fills it in from .env.sample")
    func imageVariables() {
        let pinned = clean.editing("compose.yml", "nginx:1.27.0", "nginx:${NGINX_TAG}")
            .editing(".env.sample", "TYPE=site", "TYPE=site\nNGINX_TAG=1.27.0")
        #expect(RecipeLinter.lint(pinned).findings.isEmpty)
        let latest = pinned.editing(".env.sample", "NGINX_TAG=1.27.0", "NGINX_TAG=latest")
        #expect(
            findings(latest, .stableTag).map(\.message) == [
                "image `nginx:latest` of service `app` uses `latest` — pin a version"
            ])
    }

    @Test("recipe text in a message is one line and bounded, and braces that are not placeholders stay")
    func messagesFromRecipeText() {
        let snapshot = clean.editing("compose.yml", "nginx:1.27.0", "nginx:\"\n  \(String(repeating: "x", count: 400))")
        for finding in RecipeLinter.lint(snapshot).findings {
            #expect(!finding.message.contains("\n"))
            #expect(finding.message.count < 600)
        }
        let versionless = findings(
            clean.editing("compose.yml", "        - \"coop-cloud.${STACK_NAME}.version=1.0.0+1.27.0\"\n", ""),
            .versionLabel)
        #expect(versionless.first?.message.contains("coop-cloud.${STACK_NAME}.version") == true)
    }

    @Test("--json document: schema, counts, findings with rule, severity, file, line and message; null when absent")
    func jsonDocument() throws {
        let snapshot = clean.editing("compose.yml", "nginx:1.27.0", "nginx:latest").withTags([])
        let data = try RecipeLinter.lint(snapshot).encoded()
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(document.keys) == ["schema", "recipe", "errors", "warnings", "findings", "skipped"])
        #expect(document["schema"] as? String == "ccci.lint/1")
        #expect(document["errors"] as? Int == 0)
        #expect(document["warnings"] as? Int == 2)
        let findings = try #require(document["findings"] as? [[String: Any]])
        #expect(
            findings.map { Set($0.keys) }
                == Array(repeating: ["rule", "severity", "file", "line", "message"], count: 2))
        #expect(findings.first?["rule"] as? String == "R004")
        #expect(findings.first?["file"] as? String == "compose.yml")
        #expect(findings.first?["line"] as? Int == 5)
        #expect(findings.last?["rule"] as? String == "R006")
        #expect(findings.last?["file"] is NSNull)
        #expect(findings.last?["line"] is NSNull)
    }

    @Test("mutated recipe files give findings, never a crash")
    func mutatedRecipes() {
        let composes = Mutations.inputs(
            Mutations.seeds(["Fixtures/real-recipes", "Fixtures/recipes/web"], suffix: "compose.yml"),
            tokens: [
                "${", ":-", ":?", "}", "$$", "- ", ": ", "&a", "*a", "<<: *a", "[", "{", "traefik.", "backupbot.",
            ],
            perSeed: 40)
        let samples = Mutations.inputs(
            Mutations.seeds(["Fixtures/real-recipes"], suffix: ".env.sample"),
            tokens: ["=", "#", " length=", "${", "COMPOSE_FILE=", "../", "SECRET_X_VERSION=v1", "\n"], perSeed: 20)
        var count = 0
        for (index, compose) in composes.enumerated() {
            var snapshot = clean
            snapshot.texts["compose.yml"] = String(decoding: compose, as: UTF8.self)
            snapshot.texts[".env.sample"] = String(decoding: samples[index % samples.count], as: UTF8.self)
            count += RecipeLinter.lint(snapshot).findings.count
        }
        #expect(count > 0)
    }
}

@Suite struct LintDocsSync {
    @Test("docs/lint.md is exactly what the rule table generates (regenerate: ccci lint --docs > docs/lint.md)")
    func lintDocsInSync() throws {
        let file = TestEnvironment.repositoryRoot.appendingPathComponent("docs/lint.md")
        let committed = try String(contentsOf: file, encoding: .utf8)
        #expect(committed == LintDocs.markdown())
    }

    @Test("every rule of the table is in docs/lint.md with its severity")
    func everyRuleDocumented() {
        let docs = LintDocs.markdown()
        for rule in LintRule.allCases {
            #expect(docs.contains("| \(rule.id) | \(rule.spec.severity.rawValue) |"))
        }
    }
}
