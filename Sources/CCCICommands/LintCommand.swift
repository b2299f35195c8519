import ArgumentParser
import CCCICore
import CCCIGit
import CCCILint
import CCCIRunner
import Foundation

/// `ccci lint <recipe>`: the recipe lint rules over a checkout, without a swarm.
struct LintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Check a recipe's files and release tags against the lint rules (docs/lint.md).",
        discussion: """
            <recipe> is the path of a recipe checkout (a git repository or a plain directory; its tags are \
            checked only in a repository), or a recipe name or git URL as `ccci run` takes it. Findings are \
            printed grouped by file, each with its file and line. Exit status: 0 no errors (warnings are \
            reported), 1 at least one error, 2 the path is not a recipe or the name is unknown.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A recipe path, catalogue name or git URL.")
    var recipe: String?

    @Flag(help: "Print the findings as one JSON document (its shape is in docs/lint.md).")
    var json = false

    @Flag(help: "Print the rule reference (docs/lint.md) and exit.")
    var docs = false

    func validate() throws {
        if !docs && recipe == nil { throw ValidationError("name the recipe to lint (a path or a catalogue name)") }
    }

    func run() async throws {
        if docs {
            print(LintDocs.markdown(), terminator: "")
            return
        }
        guard let recipe else { return }
        let report = try await withCheckout(of: recipe) { root in
            do {
                return try await RecipeLinter.lint(checkout: root)
            } catch {
                throw CommandFailure("\(error)", exitCode: 2)
            }
        }
        if json {
            print(String(decoding: try report.encoded(), as: UTF8.self))
        } else {
            report.renderLines().forEach { print($0) }
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// Runs `body` with the checkout `argument` names: a directory as it is; a catalogue recipe's
    /// checkout; or, for a git URL (or a catalogue entry that is one), a fresh clone removed afterwards.
    func withCheckout<T>(of argument: String, _ body: (URL) async throws -> T) async throws -> T {
        var isDirectory: ObjCBool = false
        if !argument.contains("://"), FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory),
            isDirectory.boolValue
        {
            return try await body(URL(fileURLWithPath: argument))
        }
        if argument.contains("/") && !argument.contains("://") && !argument.hasPrefix("git@") {
            throw CommandFailure("\(argument) is not a directory — pass the path of a recipe checkout", exitCode: 2)
        }
        let source: RecipeSource
        do {
            source = try RecipeSource.resolve(argument, config: try global.loadConfig())
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("\(error)", exitCode: 2)
        }
        if let path = source.localPath { return try await body(path) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-lint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let checkout = scratch.appendingPathComponent(source.name)
        do {
            try await Git().authenticated(source.credentials).clone(source.location, to: checkout)
        } catch {
            throw CommandFailure("cannot clone \(source.location): \(error)", exitCode: 2)
        }
        return try await body(checkout)
    }
}
