import CCCICore
import CCCITestSupport
import Foundation
import Testing

/// The readers of untrusted input — a pull request controls the recipe's `tests/ccci.toml`,
/// `.env.sample` and compose files — are fed thousands of mutated real files. A crash here
/// (a trap, an abort, a stack overflow) kills the test process, so the tests fail loudly; errors
/// are the expected outcome. `scripts/fuzz` does the same with libFuzzer's coverage guidance and
/// far more inputs.
@Suite struct ParserRobustness {
    /// Mutations per seed file.
    static let mutationsPerSeed = 400

    static func seeds(_ relative: [String], suffix: String) -> [Data] {
        Mutations.seeds(relative, suffix: suffix)
    }

    static func inputs(_ seeds: [Data], tokens: [String]) -> [Data] {
        Mutations.inputs(seeds, tokens: tokens, perSeed: mutationsPerSeed)
    }

    @Test("ccci.toml: mutated packs give a document or problems, never a crash")
    func packs() {
        let inputs = Self.inputs(
            Self.seeds(["Fixtures/packs"], suffix: ".toml"),
            tokens: ["[[[", "]]", "\"\"\"", "'''", "=", ".", "{", "}", "\\u", "0x", "1e999", "\n[a]\n", "inf", "#"])
        #expect(inputs.count > 2000)
        let pack = URL(fileURLWithPath: "/nonexistent-pack")
        var problems = 0
        for input in inputs {
            let parsed = MetaLoader.parse(
                String(decoding: input, as: UTF8.self), file: "ccci.toml", packDirectory: pack)
            problems += parsed.problems.count
        }
        #expect(problems > 0, "the mutations reach the error paths")
    }

    @Test(".env.sample: mutated env files give an env or an error, never a crash")
    func envFiles() {
        let inputs = Self.inputs(
            Self.seeds(["Fixtures/recipes"], suffix: ".env.sample"),
            tokens: ["=", "#", " length=", "${", "}", "\"", "'", "\\", "SECRET_X_VERSION=v1", "\n", "export "])
        #expect(inputs.count > 1000)
        for input in inputs {
            if let file = try? EnvFile.parse(String(decoding: input, as: UTF8.self), source: ".env.sample") {
                let env = AppEnv(sample: file, recipe: "fuzz", domain: "fuzz-abcdef.ci.ccci.test")
                _ = env.composeFiles
                _ = env.secretVersions
                _ = file.rendered()
            }
        }
    }

    @Test("compose files: mutated real compose files give a project or an error, never a crash")
    func composeFiles() {
        let inputs = Self.inputs(
            Self.seeds(["Fixtures/recipes", "Fixtures/real-recipes"], suffix: ".yml"),
            tokens: ["${", ":-", "}", "$$", "- ", ": ", "&a", "*a", "<<: *a", "!!binary", "[", "{", "\t", "---\n"])
        #expect(inputs.count > 2000)
        let environment = ["STACK_NAME": "fuzz_ci_ccci_test", "DOMAIN": "fuzz.ci.ccci.test"]
        for input in inputs {
            guard
                let document = try? ComposeDocument.load(
                    yaml: String(decoding: input, as: UTF8.self), name: "compose.yml", environment: environment),
                let project = try? ComposeProject(document: document, files: ["compose.yml"])
            else { continue }
            _ = project.routes
            _ = BackupPlan(project: project)
        }
    }

    @Test("compose files as lint reads them: mutated files give a source map and literal document, or an error")
    func composeFilesForLint() {
        let inputs = Self.inputs(
            Self.seeds(["Fixtures/recipes", "Fixtures/real-recipes"], suffix: ".yml"),
            tokens: ["${", ":-", ":?", "}", "$$", "- ", ": ", "&a", "*a", "<<: *a", "[", "{", "\t", "---\n"])
        var failures = 0
        for input in inputs {
            let text = String(decoding: input, as: UTF8.self)
            guard let map = try? ComposeSourceMap.read(yaml: text) else {
                failures += 1
                continue
            }
            for value in map.values { _ = try? Interpolation.references(in: value.text, location: "compose.yml") }
            _ = try? ComposeDocument.literal(yaml: text, name: "compose.yml")
        }
        #expect(failures > 0, "the mutations reach the error paths")
    }
}
