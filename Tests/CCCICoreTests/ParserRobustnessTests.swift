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
        var seeds: [Data] = []
        for directory in relative {
            let root = TestEnvironment.repositoryRoot.appendingPathComponent(directory)
            guard let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
                continue
            }
            for case let file as URL in files where file.lastPathComponent.hasSuffix(suffix) {
                if let data = try? Data(contentsOf: file) { seeds.append(data) }
            }
        }
        return seeds
    }

    /// Inputs made from `seeds` by byte flips, insertions of syntax, truncation, repetition and
    /// deep nesting — deterministic (a fixed seed), so a failure reproduces.
    static func inputs(_ seeds: [Data], tokens: [String]) -> [Data] {
        var random = SplitMix64(seed: 0xC0FFEE)
        var inputs: [Data] = seeds
        for seed in seeds where !seed.isEmpty {
            for _ in 0..<mutationsPerSeed {
                var bytes = [UInt8](seed)
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    let position = Int(random.next() % UInt64(max(bytes.count, 1)))
                    switch random.next() % 7 {
                    case 0: if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: random.next()) }
                    case 1:
                        bytes.insert(
                            contentsOf: Array(tokens[Int(random.next() % UInt64(tokens.count))].utf8), at: position)
                    case 2: bytes = Array(bytes.prefix(position))
                    case 3: if !bytes.isEmpty { bytes.remove(at: position) }
                    case 4:
                        let slice = bytes[position..<min(bytes.count, position + 40)]
                        bytes.insert(contentsOf: slice, at: position)
                    case 5:
                        let open = ["[", "{", "- ", "  "][Int(random.next() % 4)]
                        bytes.insert(contentsOf: Array(String(repeating: open, count: 200).utf8), at: position)
                    default: bytes.insert(UInt8(truncatingIfNeeded: random.next() % 32), at: position)
                    }
                }
                inputs.append(Data(bytes))
            }
        }
        return inputs
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
}
