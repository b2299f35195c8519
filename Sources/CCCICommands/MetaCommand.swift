import ArgumentParser
import CCCICore
import CCCILint
import CCCIRunner
import Foundation

/// `ccci meta …`: recipe test pack customization.
struct MetaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meta", abstract: "Check a test pack's ccci.toml, or print the key reference.",
        subcommands: [Check.self, Docs.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the ccci.toml of one or more packs; exit 2 listing every problem.",
            discussion: """
                Each argument is a pack directory (or its ccci.toml). Dependencies are checked against this \
                node's catalogue.
                """)

        @Argument(help: "Pack directories (later packs override earlier ones, as in a run).")
        var packs: [String]

        @Option(
            help: ArgumentHelp(
                "A checkout of the recipe: also hold `[na]` against it — a tier it gives nothing to run that "
                    + "`[na]` does not declare (a possible coverage gap), a declaration it outgrew (stale).",
                valueName: "dir"))
        var recipe: String?

        func run() async throws {
            var directories: [URL] = []
            var problems: [String] = []
            for pack in packs {
                let url = URL(fileURLWithPath: pack).standardizedFileURL
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                    problems.append(
                        "\(pack): no such directory — pass a test pack directory (the one holding ccci.toml)")
                    continue
                }
                if isDirectory.boolValue {
                    if !FileManager.default.fileExists(atPath: url.appendingPathComponent(MetaLoader.fileName).path) {
                        print("note: \(pack) has no \(MetaLoader.fileName) — the defaults apply")
                    }
                    directories.append(url)
                } else if url.lastPathComponent == MetaLoader.fileName {
                    directories.append(url.deletingLastPathComponent())
                } else {
                    problems.append(
                        "\(pack) is a file, not a test pack — pass the directory that holds \(MetaLoader.fileName)")
                }
            }
            // A run reads the recipe's own pack (its `tests/`) first: so does the check of a recipe.
            if let recipe {
                let own = URL(fileURLWithPath: recipe).standardizedFileURL.appendingPathComponent("tests")
                if FileManager.default.fileExists(atPath: own.appendingPathComponent(MetaLoader.fileName).path),
                    !directories.contains(own)
                {
                    directories.insert(own, at: 0)
                }
            }
            var meta: RecipeMeta?
            do {
                meta = try MetaLoader.load(packDirectories: directories)
            } catch {
                problems += error.problems.map(\.description)
            }
            if let meta, !meta.dependencies.isEmpty {
                problems += dependencyProblems(meta.dependencies)
            }
            guard problems.isEmpty, let meta else {
                for problem in problems { printError("error: \(problem)") }
                printError("\(problems.count) problem\(problems.count == 1 ? "" : "s") found")
                throw ExitCode(2)
            }
            for warning in meta.warnings { print("warning: \(warning)") }
            if let recipe {
                try await coverage(of: meta, recipe: recipe, packs: directories)
            }
            let manifest = Manifest(meta: meta, overlays: [], customTests: [], envOverrides: [:])
            manifest.renderLines().forEach { print($0) }
            print("ok: \(packs.joined(separator: ", "))")
        }

        /// `[na]` held against the recipe at `path`: notes and warnings, before any deploy.
        func coverage(of meta: RecipeMeta, recipe path: String, packs: [URL]) async throws {
            let root = URL(fileURLWithPath: path).standardizedFileURL
            let snapshot: RecipeSnapshot
            do {
                snapshot = try await RecipeSnapshot.read(checkout: root)
            } catch {
                printError("error: --recipe \(path): \(error)")
                throw ExitCode(2)
            }
            let recipeTests = root.appendingPathComponent("tests")
            let tests = TestDiscovery.discover(
                packs: [("recipe", recipeTests)] + packs.filter { $0 != recipeTests }.map { ($0.lastPathComponent, $0) }
            )
            let assessment = Applicability.assess(
                snapshot, hasTests: !tests.isEmpty, backupCapable: meta.backupCapable, upgradeFrom: meta.upgradeFrom,
                supportedLines: meta.supportedLines)
            if let problem = assessment.upgradeProblem {
                printError("error: \(problem)")
                throw ExitCode(2)
            }
            if meta.isCustomized(.upgradeFrom) || meta.upgradeBaseVersion != nil, !assessment.upgradeBases.isEmpty {
                print("note: the upgrade tier upgrades from \(assessment.upgradeBases.joined(separator: ", "))")
            }
            let (notes, warnings) = Applicability.findings(
                assessment, declared: meta.naReasons, source: meta.naSource)
            for (tier, why) in assessment.unknown.sorted(by: { $0.key < $1.key }) where meta.naReasons[tier] == nil {
                print("note: whether \(tier.rawValue) applies cannot be told here: \(why)")
            }
            for note in notes { print("note: \(note)") }
            for warning in warnings { print("warning: \(warning)") }
        }

        /// Dependencies that are not recipes of this node's catalogue.
        func dependencyProblems(_ dependencies: [String]) -> [String] {
            guard let config = try? NodeConfig.load() else {
                print("warning: the node configuration cannot be read, so `dependencies` were not checked")
                return []
            }
            let known = config.catalogueRecipes
            guard !known.isEmpty else {
                print(
                    "warning: this node has no catalogue (\(config.catalogueDirectory.path)), so `dependencies` were not checked"
                )
                return []
            }
            return dependencies.filter { !known.contains($0) }.map { name in
                "`dependencies` lists '\(name)', which is not a recipe of this node's catalogue"
                    + (Suggestion.closest(to: name, in: known).map { " — did you mean `\($0)`?" }
                        ?? " (known: \(known.joined(separator: ", ")))")
            }
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
