import CCCICore
import CCCIGit
import Foundation

/// A packs directory of a test's own (`CCCI_PACKS_DIR`): CI test packs written by the test, with
/// their `ccci.toml`, hooks and functional tests.
public struct TestPacks: Sendable {
    public let root: TemporaryDirectory

    public init() throws {
        root = try TemporaryDirectory("ccci-packs")
    }

    public var url: URL { root.url }

    /// Writes the pack of `recipe`: `ccci.toml` and `files` (path → content); `executable` files
    /// get mode 0755. Returns the pack directory.
    @discardableResult
    public func pack(
        _ recipe: String, toml: String = "", files: [String: String] = [:], executable: Set<String> = []
    ) throws -> URL {
        let directory = root.appending(recipe)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try toml.write(to: directory.appendingPathComponent("ccci.toml"), atomically: true, encoding: .utf8)
        for (name, content) in files {
            let file = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: file, atomically: true, encoding: .utf8)
            if executable.contains(name) {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
            }
        }
        return directory
    }
}

/// Commits on top of a recipe repository, as a pull request would.
public enum RecipeEdits {
    static let identity = [
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@ccci.test", "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@ccci.test",
    ]

    /// Writes `files` (path → content, `nil` deletes) and `symlinks` (path → target) into the
    /// repository's work tree on top of its `HEAD`, commits, and returns the commit id.
    @discardableResult
    public static func commit(
        in repository: URL, files: [String: String?] = [:], symlinks: [String: String] = [:],
        message: String = "a pull request"
    ) async throws -> String {
        let git = Git()
        for (name, content) in files {
            let file = repository.appendingPathComponent(name)
            if let content {
                try FileManager.default.createDirectory(
                    at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try content.write(to: file, atomically: true, encoding: .utf8)
            } else {
                try? FileManager.default.removeItem(at: file)
            }
        }
        for (name, target) in symlinks {
            let link = repository.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: link)
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target)
        }
        try await git.run(["add", "--all"], in: repository)
        try await git.run(["commit", "--quiet", "-m", message], in: repository, environment: identity)
        return try await git.commit(of: "HEAD", in: repository)
    }
}
