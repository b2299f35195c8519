import ArgumentParser
import CCCICore
import Foundation

/// `ccci meta …`: recipe test pack customization.
struct MetaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meta", abstract: "Check a test pack's ccci.toml, or print the key reference.",
        subcommands: [Check.self, Docs.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the ccci.toml of one or more packs; exit 2 listing every problem.")

        @Argument(help: "Pack directories (later packs override earlier ones, as in a run).")
        var packs: [String]

        func run() async throws {
            let meta: RecipeMeta
            do {
                meta = try MetaLoader.load(packDirectories: packs.map { URL(fileURLWithPath: $0) })
            } catch {
                for problem in error.problems { printError("error: \(problem)") }
                printError("\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s") found")
                throw ExitCode(2)
            }
            for warning in meta.warnings { print("warning: \(warning)") }
            let manifest = Manifest(meta: meta, overlays: [], customTests: [], envOverrides: [:])
            manifest.renderLines().forEach { print($0) }
            print("ok: \(packs.joined(separator: ", "))")
        }
    }

    struct Docs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the customization reference (docs/customization.md).")

        func run() {
            print(MetaDocs.markdown(), terminator: "")
        }
    }
}
