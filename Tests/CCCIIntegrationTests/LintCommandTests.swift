import CCCICore
import CCCIGit
import CCCILab
import CCCILint
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

/// Lint on the lab's fixture recipes as real git repositories, and `ccci lint` as a user runs it.
@Suite struct LintLabFixtures {
    static let deployable = ["web", "appdb", "oneshot", "provider", "consumer", "broken", "flaky"]

    func materialize(_ name: String, in directory: TemporaryDirectory) async throws -> FixtureRecipes.Repository {
        try await FixtureRecipes(root: TestEnvironment.fixturesRoot).materialize(name, at: directory.appending(name))
    }

    @Test("the lab fixtures lint with no errors, at the PR head and at every release", arguments: deployable)
    func fixturesHaveNoErrors(name: String) async throws {
        let directory = try TemporaryDirectory("ccci-lint-fixture")
        let repository = try await materialize(name, in: directory)
        let head = try await RecipeLinter.lint(checkout: repository.path)
        #expect(head.errors == 0, "\(head.findings.filter { $0.severity == .error }.map(\.rendered))")
        #expect(head.skipped.isEmpty, "a fixture is a git repository: its tags are checked")
        for version in repository.releases.keys.sorted() {
            try await Git().checkout(version, in: repository.path, force: true)
            let release = try await RecipeLinter.lint(checkout: repository.path)
            #expect(
                release.errors == 0, "\(version): \(release.findings.filter { $0.severity == .error }.map(\.rendered))")
        }
    }

    @Test("lintbad: a lightweight tag, a variable .env.sample lacks, an untagged image, a service without healthcheck")
    func lintbad() async throws {
        let directory = try TemporaryDirectory("ccci-lint-fixture")
        let repository = try await materialize("lintbad", in: directory)
        #expect(repository.releases.keys.sorted() == ["0.1.0+1.36.1"], "the lightweight tag is not a release")
        let tags = try await Git().tags(in: repository.path)
        #expect(tags.first { $0.name == "0.2.0+1.36.1" }?.annotated == false)
        let report = try await RecipeLinter.lint(checkout: repository.path)
        #expect(report.ruleIDs == ["C004", "R002", "R003", "R014"])
        #expect(!report.passed)
        #expect(
            report.findings.filter { $0.severity == .error }.map(\.rendered) == [
                "compose.yml:12: error C004: `${GREETING}` has no default and .env.sample does not set GREETING — add "
                    + "`GREETING=…` to .env.sample (commented out if optional) or write `${GREETING:-default}`",
                "repository: error R014: tag `0.2.0+1.36.1` is a lightweight tag, so it is not a release — re-create "
                    + "it annotated: `git tag -d 0.2.0+1.36.1 && git tag -a 0.2.0+1.36.1 "
                    + "\(tags.first { $0.name == "0.2.0+1.36.1" }?.commit.prefix(12) ?? "?") -m 'Release 0.2.0+1.36.1'`",
            ])
    }
}

@Suite struct LintCommand {
    func ccci(_ arguments: [String], environment: [String: String?] = [:]) async throws -> CommandResult {
        try await ProcessRunner().run(Command(TestEnvironment.ccciExecutable.path, arguments, environment: environment))
    }

    func realRecipe(_ name: String) -> String {
        TestEnvironment.realRecipesRoot.appendingPathComponent(name).path
    }

    @Test("warnings only: exit 0, findings grouped by file with file:line, a summary line")
    func warningsExitZero() async throws {
        let result = try await ccci(["lint", realRecipe("gaseous")])
        #expect(result.status == 0, "\(result.errorOutput)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "compose.yml")
        #expect(
            lines.contains(
                "  compose.yml:35: warning R003: image `mariadb` of service `db` has no tag — pin a version, e.g. `mariadb:1.2.3`"
            ))
        #expect(lines.last == "gaseous: 0 errors, 9 warnings")
    }

    @Test("errors: exit 1, each with its rule id")
    func errorsExitOne() async throws {
        let result = try await ccci(["lint", realRecipe("custom-php-2021")])
        #expect(result.status == 1)
        #expect(result.output.contains("compose.yml:99: error R012:"))
        #expect(result.output.contains("compose.yml:31: warning C013:"))
        #expect(result.output.contains("README.md\n"))
        #expect(result.output.contains("custom-php-2021: 6 errors, 7 warnings"))
    }

    @Test("--json: one document with rule, severity, file, line, message; the exit status still says errors")
    func json() async throws {
        let result = try await ccci(["lint", realRecipe("foodsharing-cms"), "--json"])
        #expect(result.status == 1)
        let report = try JSONCoding.decoder.decode(LintReport.self, from: Data(result.output.utf8))
        #expect(report.schema == "ccci.lint/1")
        #expect(report.recipe == "foodsharing-cms")
        #expect(report.findings.map(\.rule) == [.readmeMetadata])
        #expect(report.findings.first?.file == "README.md")
        #expect(report.findings.first?.line == nil)
        #expect(report.errors == 1 && report.warnings == 0)
        #expect(report.skipped.count == 4)
    }

    @Test("a directory that is not a recipe, or no directory at all, exits 2 and says why")
    func notARecipe() async throws {
        let empty = try TemporaryDirectory("ccci-lint-empty")
        let result = try await ccci(["lint", empty.url.path])
        #expect(result.status == 2)
        #expect(result.errorOutput.contains("is not a recipe: it has no compose.yml"))
        let missing = try await ccci(["lint", empty.appending("nope/recipe").path])
        #expect(missing.status == 2)
        #expect(missing.errorOutput.contains("is not a directory"))
        let none = try await ccci(["lint"])
        #expect(none.status == 2)
    }

    @Test("a catalogue name lints the catalogue's checkout: lintbad fails naming its rules, web passes")
    func catalogueName() async throws {
        let catalogue = try TemporaryDirectory("ccci-lint-catalogue")
        let fixtures = FixtureRecipes(root: TestEnvironment.fixturesRoot)
        for name in ["lintbad", "web"] { try await fixtures.materialize(name, at: catalogue.appending(name)) }
        let home = try TemporaryDirectory("ccci-lint-home")
        let environment: [String: String?] = [
            "CCCI_CATALOGUE_DIR": catalogue.url.path, "CCCI_HOME": home.url.path, "CCCI_CONFIG": nil,
        ]
        let bad = try await ccci(["lint", "lintbad", "--json"], environment: environment)
        #expect(bad.status == 1, "\(bad.errorOutput)")
        let report = try JSONCoding.decoder.decode(LintReport.self, from: Data(bad.output.utf8))
        #expect(report.ruleIDs == ["C004", "R002", "R003", "R014"])
        let web = try await ccci(["lint", "web"], environment: environment)
        #expect(web.status == 0, "\(web.output)\(web.errorOutput)")
        let unknown = try await ccci(["lint", "no-such-recipe"], environment: environment)
        #expect(unknown.status == 2)
        #expect(unknown.errorOutput.contains("no recipe 'no-such-recipe'"))
    }

    @Test("--docs prints docs/lint.md")
    func docs() async throws {
        let result = try await ccci(["lint", "--docs"])
        #expect(result.status == 0)
        let committed = try String(
            contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("docs/lint.md"), encoding: .utf8)
        #expect(result.output == committed)
    }
}
