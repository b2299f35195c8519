import CCCICore
import Foundation

/// A recipe's functional tests (SPEC F-CUSTOM), found in its test packs: the recipe repository's
/// `tests/` and the CI's `<packs>/<recipe>/`. Only `functional/` and `playwright/` are searched,
/// and not recursively (helpers in subdirectories are not tests). A test is an executable file,
/// or a pytest file (`test_*.py`, `*_test.py`) — a browser test under pytest-playwright when it is
/// in `playwright/`. Playwright's TypeScript/JavaScript tests are found too, and reported as
/// skipped: this node has no Node runner for them.
public struct CustomTest: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case executable
        case pytest
        /// A pytest file in `playwright/`: run with the node's browser.
        case playwright
        /// Found, but cannot run here, for this reason.
        case unsupported(String)
    }

    public let path: URL
    public let kind: Kind
    /// `recipe` (shipped in the recipe) or `ci` (the CI's own pack).
    public let pack: String
    /// Dependencies the test needs ready (`# ccci-requires: provider` in its first lines).
    public let requires: [String]
    /// pytest plugins the test loads (`# ccci-pytest-plugins: anyio` in its first lines): pytest
    /// runs with plugin autoloading off, so a test gets the plugins it names, not whatever the
    /// node happens to have installed (and does not pay seconds of CPU importing them all).
    public var pytestPlugins: [String] = []
    /// Why the test is not run although it is in a test directory (a symlink out of the pack):
    /// it is reported as a failed check, never silently dropped.
    public var refusal: String? = nil

    /// `recipe/functional/homepage.sh`.
    public var displayName: String {
        "\(pack)/\(path.deletingLastPathComponent().lastPathComponent)/\(path.lastPathComponent)"
    }
}

/// Finding custom tests.
public enum TestDiscovery {
    public static let directories = ["functional", "playwright"]

    /// The tests of the packs, in a stable order: recipe pack first, then the CI's.
    public static func discover(packs: [(name: String, directory: URL)]) -> [CustomTest] {
        var tests: [CustomTest] = []
        let fileManager = FileManager.default
        for pack in packs {
            for subdirectory in directories {
                let directory = pack.directory.appendingPathComponent(subdirectory)
                guard let entries = try? fileManager.contentsOfDirectory(atPath: directory.path) else { continue }
                for entry in entries.sorted() where !entry.hasPrefix(".") {
                    let path = directory.appendingPathComponent(entry)
                    // A test is a file of the pack: never a system program reached through a symlink.
                    do {
                        _ = try ContainedPath.resolve(
                            "\(subdirectory)/\(entry)", in: pack.directory, what: "test \(subdirectory)/\(entry)")
                    } catch {
                        tests.append(
                            CustomTest(
                                path: path, kind: .executable, pack: pack.name, requires: [],
                                refusal: error.description))
                        continue
                    }
                    var isDirectory: ObjCBool = false
                    guard fileManager.fileExists(atPath: path.path, isDirectory: &isDirectory), !isDirectory.boolValue
                    else {
                        continue
                    }
                    let kind: CustomTest.Kind
                    if entry.hasSuffix(".py") && (entry.hasPrefix("test_") || entry.hasSuffix("_test.py")) {
                        kind = subdirectory == "playwright" ? .playwright : .pytest
                    } else if subdirectory == "playwright",
                        [".spec.ts", ".spec.js", ".test.ts", ".test.js", ".spec.mjs"].contains(where: entry.hasSuffix)
                    {
                        kind = .unsupported(
                            "a Playwright test for Node (\(entry)); this node runs browser tests written in Python "
                                + "(pytest-playwright) — there is no Node runner here")
                    } else if fileManager.isExecutableFile(atPath: path.path) {
                        kind = .executable
                    } else {
                        continue
                    }
                    var test = CustomTest(
                        path: path, kind: kind, pack: pack.name, requires: header("ccci-requires:", of: path))
                    test.pytestPlugins = header("ccci-pytest-plugins:", of: path)
                    if let bad = test.pytestPlugins.first(where: { !isPluginName($0) }) {
                        test.refusal =
                            "`ccci-pytest-plugins:` names `\(bad)`, which is not a pytest plugin name — name "
                            + "plugins as `pytest -p` takes them (an entry-point or module name, e.g. `anyio`), "
                            + "separated by commas"
                    } else if !test.pytestPlugins.isEmpty, kind == .executable {
                        test.refusal =
                            "`ccci-pytest-plugins:` is for pytest files (test_*.py), and this test is an executable "
                            + "— remove the line or make the test a pytest file"
                    }
                    tests.append(test)
                }
            }
        }
        return tests
    }

    /// The names after `key` (`ccci-requires:`, `ccci-pytest-plugins:`) in the first 30 lines
    /// of a test, separated by commas or blanks.
    static func header(_ key: String, of file: URL) -> [String] {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        var names: [String] = []
        for line in text.split(separator: "\n").prefix(30) {
            guard let range = line.range(of: key) else { continue }
            names += line[range.upperBound...].split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
                .map(String.init).filter { !$0.isEmpty }
        }
        return names
    }

    /// A name `pytest -p` takes: a plugin's entry-point name or a dotted module name.
    static func isPluginName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "-", first != "." else { return false }
        return name.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || "_.-".unicodeScalars.contains($0)
        }
    }
}
