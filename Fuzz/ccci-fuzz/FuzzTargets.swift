import CCCICore
import Foundation

/// Fuzz targets for the readers of untrusted input: a pull request controls the recipe's
/// `tests/ccci.toml`, its `.env.sample` and its compose files, so none of them may crash cc-ci.
///
/// Built two ways:
/// - `scripts/fuzz` builds this target with `-sanitize=fuzzer -DFUZZING`: libFuzzer drives
///   `LLVMFuzzerTestOneInput` with coverage-guided inputs (`CCCI_FUZZ_TARGET` picks the reader);
/// - a normal build gives `ccci-fuzz <target> <file>…`, which replays inputs (a crash found by
///   the fuzzer, or a corpus) through the same code.
enum FuzzTarget: String, CaseIterable {
    case toml, meta, env, compose

    /// Feeds one input to the reader. Errors are the expected outcome of bad input; only a crash
    /// (a trap, an abort, a stack overflow) is a finding.
    func run(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        switch self {
        case .toml:
            _ = try? TOML.parse(text)
        case .meta:
            let pack = URL(fileURLWithPath: "/nonexistent-ccci-fuzz-pack")
            _ = MetaLoader.parse(text, file: "ccci.toml", packDirectory: pack)
        case .env:
            if let file = try? EnvFile.parse(text, source: ".env.sample") {
                let env = AppEnv(sample: file, recipe: "fuzz", domain: "fuzz-abcdef.ci.ccci.test")
                _ = env.composeFiles
                _ = env.secretVersions
                _ = file.rendered()
            }
        case .compose:
            let environment = ["STACK_NAME": "fuzz_ci_ccci_test", "DOMAIN": "fuzz.ci.ccci.test"]
            if let document = try? ComposeDocument.load(yaml: text, name: "compose.yml", environment: environment),
                let project = try? ComposeProject(document: document, files: ["compose.yml"])
            {
                _ = project.routes
                _ = BackupPlan(project: project)
                _ = project.images
            }
        }
    }

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["CCCI_FUZZ_TARGET"] ?? "toml"
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("CCCI_FUZZ_TARGET must be one of toml, meta, env, compose\n".utf8))
            exit(2)
        }
        return target
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzTarget.selected.run(Data(bytes: bytes, count: count))
    return 0
}

#if FUZZING
/// libFuzzer's driver (from its runtime), called with the process' arguments.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point under this name; with `-sanitize=fuzzer` it hands
/// the process to libFuzzer.
@_cdecl("ccci_fuzz_main")
func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { bytes, size in
        FuzzTarget.selected.run(Data(bytes: bytes, count: size))
        return 0
    }
}
#else
/// Replays inputs: `ccci-fuzz <toml|meta|env|compose> <file|directory>…`.
@main
struct Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `ccci-fuzz toml-json <file>`: what the TOML reader makes of a file, for a differential
        // check against another implementation (scripts/toml-differential.py).
        if arguments.first == "toml-json", arguments.count == 2 {
            let text = String(decoding: FileManager.default.contents(atPath: arguments[1]) ?? Data(), as: UTF8.self)
            let result: JSONValue
            do {
                result = ["ok": try TOML.parse(text).value]
            } catch {
                result = ["error": .string(error.description)]
            }
            let encoder = JSONCoding.compactEncoder
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: (try? encoder.encode(result)) ?? Data(), as: UTF8.self))
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            print("usage: ccci-fuzz <toml|meta|env|compose> <file|directory>…")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files =
                isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(data)
                count += 1
            }
        }
        print("ccci-fuzz: \(count) input\(count == 1 ? "" : "s") through \(target.rawValue), no crash")
    }
}
#endif
