import CCCICore
import CCCIGit
import Foundation

/// Everything lint reads from a recipe checkout, read once: the text of the files rules look into,
/// the paths of every other file, and the repository's tags. Rules are pure functions of it.
public struct RecipeSnapshot: Sendable {
    /// The recipe's name (its directory name).
    public var name: String
    /// The text of the files lint reads (`compose*.yml`, `.env.sample`, `abra.sh`, `README.md`), by
    /// path relative to the recipe.
    public var texts: [String: String]
    /// Files lint would read but could not (too large, not UTF-8), with the reason.
    public var unreadable: [String: String]
    /// Every regular file of the checkout (relative paths, `.git` excluded), for `file:` references.
    public var paths: Set<String>
    /// The repository's tags; `nil` when the checkout is not a git repository (or they could not be read).
    public var tags: [RecipeTag]?
    /// Why ``tags`` is `nil` although the checkout is a git repository.
    public var tagsUnreadable: String?
    /// The checked-out commit, when the checkout is a git repository.
    public var headCommit: String?

    /// A snapshot of in-memory files (tests, and callers that already hold the files).
    public init(
        name: String, texts: [String: String], paths: Set<String> = [], tags: [RecipeTag]? = nil,
        headCommit: String? = nil, unreadable: [String: String] = [:]
    ) {
        self.name = name
        self.texts = texts
        self.paths = paths.union(texts.keys)
        self.tags = tags
        self.headCommit = headCommit
        self.unreadable = unreadable
    }

    /// The largest file lint reads (compose files are a few kilobytes).
    public static let maximumFileSize = 1 << 20
    /// How many files of a checkout are listed at most.
    public static let maximumPaths = 20_000

    /// Whether `name` is a file lint reads the text of.
    static func isRead(_ name: String) -> Bool {
        ["compose.yml", ".env.sample", "abra.sh", "README.md"].contains(name)
            || (name.hasPrefix("compose.") && name.hasSuffix(".yml"))
    }

    /// Reads the checkout at `root`. Its tags are read with `git` only when `root` itself is a git
    /// repository (a recipe directory inside another repository has no tags of its own).
    public static func read(checkout root: URL, git: any GitClient = Git()) async throws(LintError) -> RecipeSnapshot {
        let root = root.standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw .notARecipe(path: root.path, reason: "there is no such directory") }
        let paths = listFiles(in: root)
        guard paths.contains(where: { !$0.contains("/") && $0.hasPrefix("compose.") && $0.hasSuffix(".yml") }) else {
            throw .notARecipe(path: root.path, reason: "it has no compose.yml — a recipe's stack is defined there")
        }
        var texts: [String: String] = [:]
        var unreadable: [String: String] = [:]
        for path in paths where !path.contains("/") && isRead(path) {
            switch readText(path, in: root) {
            case .success(let text): texts[path] = text
            case .failure(let reason): unreadable[path] = reason.description
            }
        }
        var snapshot = RecipeSnapshot(
            name: root.lastPathComponent, texts: texts, paths: paths, unreadable: unreadable)
        if FileManager.default.fileExists(atPath: root.appendingPathComponent(".git").path) {
            do {
                snapshot.tags = try await git.tags(in: root)
            } catch {
                snapshot.tagsUnreadable = "the repository's tags could not be read: \(error)"
            }
            snapshot.headCommit = try? await git.commit(of: "HEAD", in: root)
        }
        return snapshot
    }

    /// Regular files under `root` (symlinks followed only when they stay inside it), `.git` excluded.
    static func listFiles(in root: URL) -> Set<String> {
        var result: Set<String> = []
        let rootPath = root.path
        guard
            let enumerator = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey])
        else { return result }
        for case let url as URL in enumerator {
            guard result.count < maximumPaths else { break }
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(rootPath + "/") else { continue }
            let relative = String(path.dropFirst(rootPath.count + 1))
            if relative == ".git" || relative.hasPrefix(".git/") {
                enumerator.skipDescendants()
                continue
            }
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            if values?.isSymbolicLink == true {
                guard ContainedPath.isInside(url, root: root) else { continue }
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                    result.insert(relative)
                }
            } else if values?.isRegularFile == true {
                result.insert(relative)
            }
        }
        return result
    }

    private struct ReadProblem: Error, CustomStringConvertible {
        let description: String
    }

    private static func readText(_ path: String, in root: URL) -> Result<String, ReadProblem> {
        let url: URL
        do {
            url = try ContainedPath.resolve(path, in: root, what: path)
        } catch {
            return .failure(ReadProblem(description: error.description))
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        guard size <= maximumFileSize else {
            return .failure(ReadProblem(description: "it is larger than 1 MiB"))
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            return .failure(ReadProblem(description: "it cannot be read"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ReadProblem(description: "it is not UTF-8 text"))
        }
        return .success(text)
    }
}

/// A checkout lint cannot read at all.
public enum LintError: Error, Sendable, Equatable, CustomStringConvertible {
    case notARecipe(path: String, reason: String)

    public var description: String {
        switch self {
        case .notARecipe(let path, let reason):
            return "\(path) is not a recipe: \(reason)"
        }
    }
}
