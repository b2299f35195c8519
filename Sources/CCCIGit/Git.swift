import CCCICore
import CCCISystem
import Foundation

/// The git operations cc-ci needs on recipe repositories.
public protocol GitClient: Sendable {
    /// Clones `source` (a path or URL) into `destination`.
    func clone(_ source: String, to destination: URL) async throws
    /// Fetches every branch and tag from `remote` (default `origin`).
    func fetch(in repository: URL, remote: String) async throws
    /// Fetches one `refspec` (a commit, a branch, `refs/pull/<n>/head`) from `remote`; it is
    /// then `FETCH_HEAD`.
    func fetch(_ refspec: String, in repository: URL, remote: String) async throws
    /// Checks out `ref` (detached), discarding local changes when `force` is set.
    func checkout(_ ref: String, in repository: URL, force: Bool) async throws
    /// The full commit id `revision` names.
    func commit(of revision: String, in repository: URL) async throws -> String
    /// Every tag, with whether it is annotated and the commit it points at.
    func tags(in repository: URL) async throws -> [RecipeTag]
    /// Whether the work tree has uncommitted changes to tracked files.
    func isDirty(_ repository: URL) async throws -> Bool
    /// The content of `path` at `revision`, `nil` when the file does not exist there.
    func file(_ path: String, at revision: String, in repository: URL) async throws -> String?
    /// This client with `credentials` for its remotes (`nil`: unchanged).
    func authenticated(_ credentials: GitCredentials?) -> any GitClient
}

extension GitClient {
    /// The releases of the repository (annotated version tags, oldest → newest).
    public func releases(in repository: URL) async throws -> ReleaseSet {
        ReleaseSet(tags: try await tags(in: repository))
    }
}

/// ``GitClient`` backed by the `git` executable.
public struct Git: GitClient {
    public let runner: ProcessRunner
    /// Credentials for HTTP(S) remotes, passed to every command as an `http.extraHeader` (never
    /// written into a remote URL or shown).
    public let credentials: GitCredentials?

    public init(runner: ProcessRunner = ProcessRunner(), credentials: GitCredentials? = nil) {
        self.runner = runner
        self.credentials = credentials
    }

    /// This client with `credentials` for its remotes.
    public func authenticated(_ credentials: GitCredentials?) -> any GitClient {
        Git(runner: runner, credentials: credentials ?? self.credentials)
    }

    /// Runs `git <arguments>` in `repository` and returns stdout; throws on a non-zero exit.
    @discardableResult
    public func run(
        _ arguments: [String], in repository: URL?, environment: [String: String] = [:]
    ) async throws -> String {
        var env: [String: String?] = [
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1",
        ]
        for (key, value) in environment { env[key] = value }
        var argv = ["-c", "advice.detachedHead=false", "-c", "safe.directory=*"]
        // In the environment, not in argv: any local user can read a process' command line.
        if let credentials {
            env["GIT_CONFIG_COUNT"] = "1"
            env["GIT_CONFIG_KEY_0"] = "http.extraHeader"
            env["GIT_CONFIG_VALUE_0"] = credentials.header
        }
        if let repository { argv += ["-C", repository.path] }
        let result = try await runner.run(
            Command("git", argv + arguments, environment: env, secrets: credentials?.secrets ?? []))
        guard result.succeeded else {
            throw GitError.commandFailed(CommandError(result: result))
        }
        return result.output
    }

    public func clone(_ source: String, to destination: URL) async throws {
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try await run(["clone", "--quiet", "--no-hardlinks", source, destination.path], in: nil)
    }

    public func fetch(in repository: URL, remote: String = "origin") async throws {
        try await run(
            ["fetch", "--quiet", "--tags", "--force", remote, "+refs/heads/*:refs/remotes/\(remote)/*"], in: repository)
    }

    public func fetch(_ refspec: String, in repository: URL, remote: String = "origin") async throws {
        try await run(["fetch", "--quiet", remote, refspec], in: repository)
    }

    public func checkout(_ ref: String, in repository: URL, force: Bool) async throws {
        var arguments = ["checkout", "--quiet", "--detach"]
        if force { arguments.append("--force") }
        arguments.append(ref)
        try await run(arguments, in: repository)
        if force { try await run(["clean", "-fdq"], in: repository) }
    }

    public func commit(of revision: String, in repository: URL) async throws -> String {
        do {
            let output = try await run(["rev-parse", "--verify", "--quiet", "\(revision)^{commit}"], in: repository)
            return output.trimmingCharacters(in: .whitespacesAndNewlines)
        } catch GitError.commandFailed {
            throw GitError.unknownRevision(revision, repository: repository.path)
        }
    }

    public func tags(in repository: URL) async throws -> [RecipeTag] {
        let format = "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)"
        let output = try await run(["for-each-ref", "--format=\(format)", "refs/tags"], in: repository)
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4 else { return nil }
            let annotated = fields[1] == "tag"
            let commit = annotated ? fields[3] : fields[2]
            return RecipeTag(name: fields[0], commit: commit, annotated: annotated)
        }
    }

    public func isDirty(_ repository: URL) async throws -> Bool {
        let output = try await run(["status", "--porcelain", "--untracked-files=no"], in: repository)
        return !output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    public func file(_ path: String, at revision: String, in repository: URL) async throws -> String? {
        do {
            return try await run(["show", "\(revision):\(path)"], in: repository)
        } catch GitError.commandFailed {
            return nil
        }
    }
}

/// A git operation that failed.
public enum GitError: Error, Sendable, CustomStringConvertible {
    case commandFailed(CommandError)
    case unknownRevision(String, repository: String)

    public var description: String {
        switch self {
        case .commandFailed(let error): return error.description
        case .unknownRevision(let revision, let repository):
            return "'\(revision)' is not a commit in \(repository) — check the ref, or fetch it first"
        }
    }
}
