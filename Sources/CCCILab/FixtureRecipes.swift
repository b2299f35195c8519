import CCCICore
import CCCIGit
import Foundation

/// The lab's fixture recipes: a declarative layout in the repository (`Fixtures/recipes/<name>/`)
/// turned into real git repositories.
///
/// Each `releases/<version>/` folder holds the files that release adds or changes on top of the
/// previous release (the first holds the whole recipe); each becomes one commit on `main` with an
/// **annotated** tag named after the version. `head/` is the pull request under test: one more
/// commit on top of the last release, untagged, also pushed as branch `pr/1`. A `.ccci-delete`
/// file in a folder lists paths (one per line) that the step removes. A release folder holding
/// `.ccci-lightweight-tag` is tagged with a lightweight tag instead — not a release, for fixtures
/// whose tags lint must reject. Commit dates are fixed, so the same layout always produces the
/// same commit ids.
public struct FixtureRecipes: Sendable {
    /// The file that makes a release folder's tag lightweight.
    public static let lightweightTagMarker = ".ccci-lightweight-tag"

    /// `Fixtures/recipes` of a cc-ci checkout.
    public let root: URL
    public let git: Git

    public init(root: URL, git: Git = Git()) {
        self.root = root
        self.git = git
    }

    /// Finds `Fixtures/recipes` in `directory` or one of its parents.
    public static func locate(from directory: URL) -> URL? {
        var current = directory.standardizedFileURL
        while true {
            let candidate = current.appendingPathComponent("Fixtures/recipes")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { return nil }
            current = parent
        }
    }

    /// The fixture names.
    public func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path)
            .filter { FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/releases").path) }
            .sorted()
    }

    /// The release versions of a fixture, oldest → newest.
    public func releases(of name: String) throws -> [RecipeVersion] {
        let directory = root.appendingPathComponent("\(name)/releases")
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var versions: [RecipeVersion] = []
        for entry in entries where !entry.hasPrefix(".") {
            guard let version = RecipeVersion(entry) else {
                throw FixtureError.badReleaseFolder(directory.appendingPathComponent(entry).path)
            }
            versions.append(version)
        }
        return versions.sorted()
    }

    /// A fixture materialised as a git repository.
    public struct Repository: Sendable, Hashable {
        public let name: String
        public let path: URL
        /// Release version → the commit its tag points at (annotated tags only: lightweight ones
        /// are not releases).
        public let releases: [String: String]
        /// The PR head commit (untagged).
        public let head: String?
    }

    /// Creates (replacing anything there) the git repository of fixture `name` at `destination`.
    @discardableResult
    public func materialize(_ name: String, at destination: URL) async throws -> Repository {
        let source = root.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: source.appendingPathComponent("releases").path) else {
            throw FixtureError.unknownFixture(name, root.path)
        }
        let fileManager = FileManager.default
        try? fileManager.removeItem(at: destination)
        try fileManager.createDirectory(at: destination, withIntermediateDirectories: true)
        try await git.run(["init", "--quiet", "--initial-branch=main"], in: destination)
        var releases: [String: String] = [:]
        var step = 0
        for version in try self.releases(of: name) {
            step += 1
            let folder = source.appendingPathComponent("releases/\(version.raw)")
            try apply(folder, to: destination)
            let commit = try await commit(in: destination, message: "Release \(version.raw)", step: step)
            if fileManager.fileExists(atPath: folder.appendingPathComponent(Self.lightweightTagMarker).path) {
                try await git.run(["tag", version.raw], in: destination)
                continue
            }
            try await git.run(
                ["tag", "-a", version.raw, "-m", "Release \(version.raw)"], in: destination,
                environment: identity(step: step))
            releases[version.raw] = commit
        }
        var head: String?
        let headFolder = source.appendingPathComponent("head")
        if fileManager.fileExists(atPath: headFolder.path) {
            step += 1
            try apply(headFolder, to: destination)
            head = try await commit(in: destination, message: "PR #1: the change under test", step: step)
            try await git.run(["branch", "--force", "pr/1", "HEAD"], in: destination)
        }
        return Repository(name: name, path: destination, releases: releases, head: head)
    }

    /// Copies a step folder over the work tree and applies its `.ccci-delete` list.
    func apply(_ folder: URL, to destination: URL) throws {
        let fileManager = FileManager.default
        guard let enumerator = fileManager.enumerator(at: folder, includingPropertiesForKeys: [.isDirectoryKey]) else {
            return
        }
        for case let file as URL in enumerator {
            let relative = String(file.standardizedFileURL.path.dropFirst(folder.standardizedFileURL.path.count + 1))
            if relative == ".ccci-delete" || relative == Self.lightweightTagMarker { continue }
            let target = destination.appendingPathComponent(relative)
            if (try file.resourceValues(forKeys: [.isDirectoryKey])).isDirectory == true {
                try fileManager.createDirectory(at: target, withIntermediateDirectories: true)
            } else {
                try? fileManager.removeItem(at: target)
                try fileManager.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try fileManager.copyItem(at: file, to: target)
            }
        }
        let deletions = folder.appendingPathComponent(".ccci-delete")
        if let text = try? String(contentsOf: deletions, encoding: .utf8) {
            for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                try? fileManager.removeItem(
                    at: destination.appendingPathComponent(line.trimmingCharacters(in: .whitespaces)))
            }
        }
    }

    private func commit(in repository: URL, message: String, step: Int) async throws -> String {
        try await git.run(["add", "--all"], in: repository)
        try await git.run(
            ["commit", "--quiet", "--no-gpg-sign", "-m", message], in: repository, environment: identity(step: step))
        return try await git.commit(of: "HEAD", in: repository)
    }

    private func identity(step: Int) -> [String: String] {
        let date = "2026-01-\(String(format: "%02d", min(step, 28)))T12:00:00Z"
        return [
            "GIT_AUTHOR_NAME": "cc-ci fixtures", "GIT_AUTHOR_EMAIL": "fixtures@ccci.test", "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": "cc-ci fixtures", "GIT_COMMITTER_EMAIL": "fixtures@ccci.test",
            "GIT_COMMITTER_DATE": date,
        ]
    }
}

/// A fixture layout problem.
public enum FixtureError: Error, Sendable, CustomStringConvertible {
    case unknownFixture(String, String)
    case badReleaseFolder(String)

    public var description: String {
        switch self {
        case .unknownFixture(let name, let root):
            return "no fixture recipe '\(name)' in \(root)"
        case .badReleaseFolder(let path):
            return "\(path) is not named after a recipe version (like 1.2.0+3.4.5)"
        }
    }
}
