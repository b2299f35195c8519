import CCCICore
import CCCILint
import CCCITestSupport
import Foundation
import Testing

/// The behaviours of the lint engine beyond single rules.
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

    @Test(
        ".env.sample completeness: abra.sh exports count; a bare pass-through `- VAR` is not reported (docker passes an unset one as unset)"
    )
    func exportsAndPassThrough() {
        let exported = clean.editing("compose.yml", "${TITLE:-site}", "${TITLE}")
            .setting("abra.sh", "export NGINX_CONF_VERSION=v1\nexport TITLE=site\n")
        #expect(findings(exported, .envComplete).isEmpty)
        let passThrough = clean.editing("compose.yml", "- TITLE=${TITLE:-site}", "- TITLE")
        #expect(findings(passThrough, .envComplete).isEmpty)
        // `${TITLE}` is the case that becomes empty: still reported.
        let empty = clean.editing("compose.yml", "- TITLE=${TITLE:-site}", "- TITLE=${TITLE}")
        #expect(findings(empty, .envComplete).map(\.location) == ["compose.yml:7"])
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
