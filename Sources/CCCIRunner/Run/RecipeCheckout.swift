import CCCICore
import CCCIGit
import Foundation

/// Where a recipe comes from: a path, a git URL, or a catalogue name.
public struct RecipeSource: Sendable, Hashable {
    public let name: String
    /// What `git clone` is given — never with credentials in it (see ``credentials``).
    public let location: String
    /// Set when the source is a local repository (its `HEAD` is the default code under test).
    public let localPath: URL?
    /// Credentials that were written into an HTTP(S) URL, taken out of it.
    public let credentials: GitCredentials?

    public init(name: String, location: String, localPath: URL?, credentials: GitCredentials? = nil) {
        self.name = name
        self.location = location
        self.localPath = localPath
        self.credentials = credentials
    }

    /// Resolves `argument`: an existing directory, a URL (`https://…`, `ssh://…`, `git@…`, `file://…`),
    /// or a recipe name in the node's catalogue.
    public static func resolve(_ argument: String, config: NodeConfig) throws(RunSetupError) -> RecipeSource {
        let fileManager = FileManager.default
        if argument.contains("://") || argument.hasPrefix("git@") {
            let (location, credentials) = GitCredentials.split(argument)
            var name =
                URL(string: location)?.lastPathComponent ?? location.split(separator: "/").last.map(String.init)
                ?? location
            if name.hasSuffix(".git") { name = String(name.dropLast(4)) }
            if let problem = RecipeName.problem(name) {
                throw .recipe(
                    "cannot name the recipe at \(location): \(problem) — its URL should end in the recipe's name")
            }
            return RecipeSource(name: name, location: location, localPath: nil, credentials: credentials)
        }
        var isDirectory: ObjCBool = false
        if argument.contains("/") || argument == "." {
            let url = URL(fileURLWithPath: argument).standardizedFileURL
            guard fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw .recipeNotFound(argument, catalogue: config.catalogueDirectory.path)
            }
            guard fileManager.fileExists(atPath: url.appendingPathComponent(".git").path) else {
                throw .notARepository(url.path)
            }
            return RecipeSource(name: url.lastPathComponent, location: url.path, localPath: url)
        }
        if let url = config.catalogueURLs[argument] {
            let (location, credentials) = GitCredentials.split(url)
            return RecipeSource(name: argument, location: location, localPath: nil, credentials: credentials)
        }
        if let problem = RecipeName.problem(argument) {
            throw .recipe("no recipe '\(argument)': \(problem)")
        }
        let catalogued = config.catalogueDirectory.appendingPathComponent(argument)
        if fileManager.fileExists(atPath: catalogued.appendingPathComponent(".git").path) {
            return RecipeSource(name: argument, location: catalogued.path, localPath: catalogued)
        }
        if fileManager.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
            return try resolve("./" + argument, config: config)
        }
        throw .recipeNotFound(argument, catalogue: config.catalogueDirectory.path)
    }
}

/// The code under test, read once at run start.
public struct RecipeHead: Sendable {
    public let source: RecipeSource
    /// The commit under test.
    public let commit: String
    /// Its version: the compose `coop-cloud.<stack>.version` label, else the release tagged on it.
    public let version: RecipeVersion?
    /// Whether an annotated release tag points at the commit.
    public let isRelease: Bool
    public let releases: ReleaseSet

    public init(source: RecipeSource, commit: String, version: RecipeVersion?, isRelease: Bool, releases: ReleaseSet) {
        self.source = source
        self.commit = commit
        self.version = version
        self.isRelease = isRelease
        self.releases = releases
    }
}

/// Clones a recipe for each app of a run (each app gets its own tree, so checking one out never
/// changes another) and reads the head.
public struct RecipeCheckout: Sendable {
    public let git: any GitClient
    public let source: RecipeSource

    public init(git: any GitClient, source: RecipeSource) {
        self.git = git.authenticated(source.credentials)
        self.source = source
    }

    /// The commit a run tests: `ref` when given, else the local repository's `HEAD`.
    public func headCommit(ref: String?, pr: Int, in clone: URL) async throws -> String {
        if let ref {
            if let commit = try? await git.commit(of: ref, in: clone) { return commit }
            // A pull request head is not on any branch of the clone: fetch it.
            var refspecs = [ref]
            if pr > 0 { refspecs.append("refs/pull/\(pr)/head") }
            for refspec in refspecs {
                try? await git.fetch(refspec, in: clone, remote: "origin")
            }
            if let commit = try? await git.commit(of: ref, in: clone) { return commit }
            if pr > 0, let commit = try? await git.commit(of: "FETCH_HEAD", in: clone),
                commit.hasPrefix(ref.lowercased())
            {
                return commit
            }
            throw RunSetupError.unknownRef(ref, recipe: source.name)
        }
        if let local = source.localPath {
            return try await git.commit(of: "HEAD", in: local)
        }
        return try await git.commit(of: "HEAD", in: clone)
    }

    /// Clones the recipe into `destination` and checks out `commit`.
    public func clone(to destination: URL, commit: String?) async throws {
        try await git.clone(source.location, to: destination)
        if let commit { try await git.checkout(commit, in: destination, force: true) }
    }

    /// Reads the head's version and the releases from a clone at the head.
    public func readHead(commit: String, clone: URL, naming: AppNaming) async throws -> RecipeHead {
        let releases = try await git.releases(in: clone)
        let tagged = releases.releases(at: commit).last
        var version: RecipeVersion?
        let probeDomain = naming.runAppDomain(recipe: source.name, pr: 0, ref: commit)
        if let resolved = try? ResolvedAppEnv.load(recipeRoot: clone, recipe: source.name, domain: probeDomain.name) {
            let key = "coop-cloud.\(resolved.env.stackName).version"
            for name in resolved.project.serviceNames {
                if let value = resolved.project.services[name]?.deployLabels[key], let parsed = RecipeVersion(value) {
                    version = parsed
                    break
                }
            }
        }
        return RecipeHead(
            source: source, commit: commit, version: version ?? tagged?.version, isRelease: tagged != nil,
            releases: releases)
    }
}

/// A run that cannot start: bad usage or configuration (exit 2, nothing deployed).
public enum RunSetupError: Error, Sendable, CustomStringConvertible {
    case recipeNotFound(String, catalogue: String)
    case notARepository(String)
    case unknownRef(String, recipe: String)
    case meta(MetaProblems)
    case recipe(String)
    case lab(String)
    /// An app of this run is kept for inspection by an earlier run.
    case kept(domain: String)

    public var description: String {
        switch self {
        case .recipeNotFound(let argument, let catalogue):
            return "no recipe '\(argument)': not a git repository path, not a git URL, and not in the catalogue "
                + "(\(catalogue)) — pass a path or URL, or run `scripts/lab up` to build the lab catalogue"
        case .notARepository(let path):
            return
                "\(path) is not a git repository — a recipe is a git repository (git init, commit, tag releases with `git tag -a`)"
        case .unknownRef(let ref, let recipe):
            return "'\(ref)' is not a commit of recipe \(recipe) (also tried fetching it) — check --ref/--pr"
        case .meta(let problems):
            return "the recipe's customization is invalid:\n"
                + problems.problems.map { "  \($0)" }.joined(separator: "\n")
        case .recipe(let message):
            return message
        case .lab(let message):
            return message
        case .kept(let domain):
            return "app \(domain) was kept for inspection by an earlier run (--keep-on-failure); this run would "
                + "recreate it — remove it first with `ccci teardown \(domain)`"
        }
    }
}
