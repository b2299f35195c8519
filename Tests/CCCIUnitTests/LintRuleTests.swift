import CCCICore
import CCCILint
import Foundation
import Testing

/// A small recipe every rule passes, and the one-line edits that make each rule fail.
enum LintFixture {
    static let head = "0123456789abcdef0123456789abcdef01234567"

    static let compose = """
        version: "3.8"

        services:
          app:
            image: nginx:1.27.0
            environment:
              - TITLE=${TITLE:-site}
              - DB_PASSWORD_FILE=/run/secrets/db_password
            secrets:
              - db_password
            configs:
              - source: nginx_conf
                target: /etc/nginx/nginx.conf
            volumes:
              - content:/srv
            networks:
              - proxy
            healthcheck:
              test: ["CMD", "true"]
            deploy:
              labels:
                - "traefik.enable=true"
                - "traefik.http.services.${STACK_NAME}.loadbalancer.server.port=80"
                - "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)"
                - "coop-cloud.${STACK_NAME}.version=1.0.0+1.27.0"
                - "backupbot.backup=true"

        volumes:
          content:

        secrets:
          db_password:
            external: true
            name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}

        configs:
          nginx_conf:
            name: ${STACK_NAME}_nginx_conf_${NGINX_CONF_VERSION}
            file: nginx.conf

        networks:
          proxy:
            external: true

        """

    static let envSample = """
        TYPE=site
        DOMAIN=site.example.com
        LETS_ENCRYPT_ENV=production
        SECRET_DB_PASSWORD_VERSION=v1 # length=32

        """

    static let readme = """
        # site

        <!-- metadata -->
        * **Category**: Apps
        * **Status**: 1
        * **Image**: [`nginx`](https://hub.docker.com/_/nginx), 4, upstream
        * **Healthcheck**: Yes
        * **Backups**: Yes
        * **Email**: No
        * **Tests**: No
        * **SSO**: No
        <!-- endmetadata -->

        """

    /// The clean recipe: a git repository whose head is release 1.0.0+1.27.0.
    static let clean = RecipeSnapshot(
        name: "site",
        texts: [
            "compose.yml": compose, ".env.sample": envSample, "abra.sh": "export NGINX_CONF_VERSION=v1\n",
            "README.md": readme,
        ],
        paths: ["nginx.conf"], tags: [RecipeTag(name: "1.0.0+1.27.0", commit: head, annotated: true)],
        headCommit: head)
}

extension RecipeSnapshot {
    /// This snapshot with `file`'s text edited (every occurrence of `old` becomes `new`).
    func editing(_ file: String, _ old: String, _ new: String) -> RecipeSnapshot {
        var copy = self
        copy.texts[file] = (texts[file] ?? "").replacingOccurrences(of: old, with: new)
        return copy
    }

    /// This snapshot with `file` set (or removed, for `nil`).
    func setting(_ file: String, _ text: String?) -> RecipeSnapshot {
        var copy = self
        copy.texts[file] = text
        if text == nil { copy.paths.remove(file) } else { copy.paths.insert(file) }
        return copy
    }

    func withTags(_ tags: [RecipeTag]?) -> RecipeSnapshot {
        var copy = self
        copy.tags = tags
        return copy
    }
}

/// One rule, an input it passes and one it fails, and where the failure must be reported.
struct RuleCase: Sendable, CustomTestStringConvertible {
    let rule: LintRule
    let passing: RecipeSnapshot
    let failing: RecipeSnapshot
    /// The first finding's location (`compose.yml:5`, `README.md`, `repository`).
    let location: String
    /// Text the first finding's message contains.
    let says: String

    var testDescription: String { "\(rule.id) \(rule.spec.summary)" }

    static let clean = LintFixture.clean

    static let all: [RuleCase] = [
        RuleCase(
            rule: .composeVersion, passing: clean,
            failing: clean.editing("compose.yml", "version: \"3.8\"", "version: \"3.7\""),
            location: "compose.yml:1", says: "\"3.7\""),
        RuleCase(
            rule: .healthcheck,
            passing: clean.editing(
                "compose.yml", "\nvolumes:\n",
                "  setup:\n    image: busybox:1.36\n    deploy:\n      restart_policy:\n        condition: none\n\nvolumes:\n"
            ),
            failing: clean.editing("compose.yml", "    healthcheck:\n      test: [\"CMD\", \"true\"]\n", ""),
            location: "compose.yml:4", says: "service `app` has no healthcheck"),
        RuleCase(
            rule: .imageTag, passing: clean.editing("compose.yml", "nginx:1.27.0", "nginx@sha256:0123abcd"),
            failing: clean.editing("compose.yml", "nginx:1.27.0", "nginx"),
            location: "compose.yml:5", says: "image `nginx` of service `app` has no tag"),
        RuleCase(
            rule: .stableTag, passing: clean, failing: clean.editing("compose.yml", "nginx:1.27.0", "nginx:latest"),
            location: "compose.yml:5", says: "uses `latest`"),
        RuleCase(
            rule: .semverTag, passing: clean.editing("compose.yml", "nginx:1.27.0", "nginx:1.27-alpine"),
            failing: clean.editing("compose.yml", "nginx:1.27.0", "nginx:mainline"),
            location: "compose.yml:5", says: "tag `mainline`"),
        RuleCase(
            rule: .hasRelease, passing: clean, failing: clean.withTags([]), location: "repository",
            says: "no release"),
        RuleCase(
            rule: .readmeMetadata, passing: clean,
            failing: clean.editing("README.md", "<!-- metadata -->", "<!-- data -->"),
            location: "README.md", says: "no `<!-- metadata -->`"),
        RuleCase(
            rule: .envSample, passing: clean, failing: clean.setting(".env.sample", nil), location: ".env.sample",
            says: "no .env.sample"),
        RuleCase(
            rule: .appService, passing: clean, failing: clean.editing("compose.yml", "  app:\n", "  web:\n"),
            location: "compose.yml:3", says: "no service is named `app`"),
        RuleCase(
            rule: .traefikEnabled, passing: clean,
            failing: clean.editing("compose.yml", "traefik.enable=true", "traefik.enable=false"),
            location: "compose.yml:3", says: "traefik.enable=true"),
        RuleCase(
            rule: .image, passing: clean, failing: clean.editing("compose.yml", "    image: nginx:1.27.0\n", ""),
            location: "compose.yml:4", says: "service `app` has no `image`"),
        RuleCase(
            rule: .configVersions, passing: clean, failing: clean.setting("abra.sh", "# nothing exported\n"),
            location: "compose.yml:38", says: "`${NGINX_CONF_VERSION}`, which abra.sh does not export"),
        RuleCase(
            rule: .annotatedTags, passing: clean,
            failing: clean.withTags(
                (clean.tags ?? []) + [RecipeTag(name: "1.1.0+1.27.0", commit: LintFixture.head, annotated: false)]),
            location: "repository", says: "tag `1.1.0+1.27.0` is a lightweight tag"),
        RuleCase(
            rule: .secretNameLength, passing: clean,
            failing: clean.editing("compose.yml", "db_password", "database_password")
                .editing("compose.yml", "DB_PASSWORD_VERSION", "DATABASE_PASSWORD_VERSION")
                .editing(".env.sample", "DB_PASSWORD_VERSION", "DATABASE_PASSWORD_VERSION"),
            location: "compose.yml:32", says: "17-character name"),
        RuleCase(
            rule: .composeValid, passing: clean,
            failing: clean.editing(
                "compose.yml", "    networks:\n      - proxy\n", "    networks:\n      - proxy\n   bad: [\n"),
            location: "compose.yml:18", says: "not valid YAML"),
        RuleCase(
            rule: .composeFileList,
            passing: clean.editing(".env.sample", "TYPE=site", "TYPE=site\nCOMPOSE_FILE=compose.yml:compose.smtp.yml")
                .setting(
                    "compose.smtp.yml", "version: \"3.8\"\nservices:\n  app:\n    environment:\n      - SMTP=on\n"),
            failing: clean.editing(".env.sample", "TYPE=site", "TYPE=site\nCOMPOSE_FILE=compose.yml:compose.smtp.yml"),
            location: ".env.sample:2", says: "`compose.smtp.yml`, which the recipe does not have"),
        RuleCase(
            rule: .envSampleReadable, passing: clean,
            failing: clean.editing(".env.sample", "DOMAIN=", "not a setting\nDOMAIN="),
            location: ".env.sample:2", says: "expected KEY=value"),
        RuleCase(
            rule: .envComplete, passing: clean, failing: clean.editing("compose.yml", "${TITLE:-site}", "${TITLE}"),
            location: "compose.yml:7", says: "`${TITLE}` has no default and .env.sample does not set TITLE"),
        RuleCase(
            rule: .secretVersions, passing: clean,
            failing: clean.editing(".env.sample", "SECRET_DB_PASSWORD_VERSION=v1 # length=32\n", ""),
            location: "compose.yml:34",
            says: "is named with SECRET_DB_PASSWORD_VERSION, which .env.sample does not mention"),
        RuleCase(
            rule: .declaredReferences, passing: clean,
            failing: clean.editing("compose.yml", "volumes:\n  content:\n", ""),
            location: "compose.yml:15", says: "uses volume `content`, which the compose files do not declare"),
        RuleCase(
            rule: .fileReferences, passing: clean,
            failing: {
                var snapshot = clean
                snapshot.paths.remove("nginx.conf")
                return snapshot
            }(), location: "compose.yml:39", says: "`nginx.conf`, which the recipe does not have"),
        RuleCase(
            rule: .swarmIgnoredKeys, passing: clean,
            failing: clean.editing("compose.yml", "nginx:1.27.0\n", "nginx:1.27.0\n    restart: always\n"),
            location: "compose.yml:6", says: "sets `restart`, which `docker stack deploy` ignores"),
        RuleCase(
            rule: .plaintextCredentials, passing: clean,
            failing: clean.editing("compose.yml", "DB_PASSWORD_FILE=/run/secrets/db_password", "DB_PASSWORD=hunter2"),
            location: "compose.yml:8", says: "environment `DB_PASSWORD` of service `app` holds a credential"),
        RuleCase(
            rule: .traefikRoute, passing: clean,
            failing: clean.editing(
                "compose.yml", "        - \"traefik.http.services.${STACK_NAME}.loadbalancer.server.port=80\"\n", ""),
            location: "compose.yml:22", says: "no `traefik.http.services.<name>.loadbalancer.server.port`"),
        RuleCase(
            rule: .proxyNetwork, passing: clean,
            failing: clean.editing("compose.yml", "  proxy:\n    external: true\n", "  proxy:\n"),
            location: "compose.yml:42", says: "network `proxy` is not declared `external: true`"),
        RuleCase(
            rule: .serviceLabels, passing: clean,
            failing: clean.editing(
                "compose.yml", "    deploy:\n", "    labels:\n      - traefik.docker.network=proxy\n    deploy:\n"),
            location: "compose.yml:21", says: "label `traefik.docker.network` of service `app` is a container label"),
        RuleCase(
            rule: .versionLabel, passing: clean,
            failing: clean.editing("compose.yml", "        - \"coop-cloud.${STACK_NAME}.version=1.0.0+1.27.0\"\n", ""),
            location: "compose.yml:21", says: "no `coop-cloud.${STACK_NAME}.version` label"),
        RuleCase(
            rule: .versionLabelRelease, passing: clean,
            failing: clean.withTags([RecipeTag(name: "1.0.1+1.27.0", commit: LintFixture.head, annotated: true)]),
            location: "compose.yml:25",
            says: "release 1.0.1+1.27.0 but its `coop-cloud.${STACK_NAME}.version` label says 1.0.0+1.27.0"),
        RuleCase(
            rule: .backupVolumes, passing: clean,
            failing: clean.editing(
                "compose.yml", "- \"backupbot.backup=true\"\n",
                "- \"backupbot.backup=true\"\n        - \"backupbot.backup.volumes.data.path=db\"\n"),
            location: "compose.yml:27",
            says: "names volume `data`, which service `app` does not mount — name one of its volumes (content)"),
        RuleCase(
            rule: .backupEffective, passing: clean,
            failing: clean.editing("compose.yml", "backupbot.backup=true", "backupbot.backup.pre-hook=dump"),
            location: "compose.yml:26", says: "has backupbot labels but not `backupbot.backup=true`"),
        RuleCase(
            rule: .releaseTagForm, passing: clean,
            failing: clean.withTags([RecipeTag(name: "v1.0.0", commit: LintFixture.head, annotated: true)]),
            location: "repository", says: "release tag `v1.0.0` is not in `X.Y.Z+<upstream version>` form"),
        RuleCase(
            rule: .readmeAgrees, passing: clean, failing: clean.editing("README.md", "Backups**: Yes", "Backups**: No"),
            location: "README.md:8", says: "Backups: No, but service `app` sets backupbot.backup=true"),
    ]
}

@Suite struct LintRules {
    @Test("the clean fixture recipe has no finding and no skipped rule")
    func cleanRecipe() {
        let report = RecipeLinter.lint(LintFixture.clean)
        #expect(report.findings.map(\.rendered) == [])
        #expect(report.skipped.isEmpty)
        #expect(report.passed)
    }

    @Test("every rule of the table has a passing and a failing case")
    func everyRuleCovered() {
        #expect(Set(RuleCase.all.map(\.rule)) == Set(LintRule.allCases))
    }

    @Test("each rule passes its passing input and reports its failing one at the right place", arguments: RuleCase.all)
    func rule(_ test: RuleCase) throws {
        let passed = RecipeLinter.lint(test.passing).findings.filter { $0.rule == test.rule }
        #expect(passed.isEmpty, "\(passed.map(\.rendered))")
        let failed = RecipeLinter.lint(test.failing).findings.filter { $0.rule == test.rule }
        let first = try #require(failed.first, "\(test.rule.id) found nothing in its failing input")
        #expect(first.location == test.location, "\(first.rendered)")
        #expect(first.message.contains(test.says), "\(first.rendered)")
        #expect(first.severity == test.rule.spec.severity)
        for finding in failed {
            #expect(!finding.message.contains("\n"))
            #expect(
                finding.message.range(of: #"\{[a-z][A-Za-z]*\}"#, options: .regularExpression) == nil,
                "unfilled placeholder: \(finding.message)")
        }
    }

    @Test("a checkout that is not a git repository skips the tag rules and says why")
    func noRepository() {
        let report = RecipeLinter.lint(LintFixture.clean.withTags(nil))
        #expect(
            Set(report.skipped.map(\.rule)) == [.hasRelease, .annotatedTags, .versionLabelRelease, .releaseTagForm])
        #expect(report.skipped.allSatisfy { $0.reason.contains("not a git repository") })
        #expect(report.findings.isEmpty)
    }
}
