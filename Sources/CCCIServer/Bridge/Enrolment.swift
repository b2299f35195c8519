import CCCICore
import Foundation
import Synchronization

/// Which forge repository is which enrolled recipe: a webhook is acted on only for the repository
/// the catalogue names for its recipe, never for another owner's repository that happens to be
/// named like it.
///
/// A recipe's repositories on the node's forge come from, in order: its mirror's
/// `repository` (`[mirror.<recipe>]`), its `[catalogue]` URL, and the `origin` of its clone in the
/// catalogue directory — each when it is on the forge's host. A recipe none of them places is
/// matched by name only under `serve.owners`, within those owners; with no owners set it is not
/// enrolled for webhooks (the server says so once at start).
///
/// The catalogue is read again at most every ``refreshInterval`` (a webhook never scans it).
public final class Enrolment: Sendable {
    /// How a repository is matched.
    public enum Match: Sendable, Hashable {
        case recipe(String)
        /// Not enrolled, and why (for the log; never echoed to the forge).
        case notEnrolled(String)
    }

    /// Each enrolled recipe and its repositories on the forge (`owner/name`, lower case; empty:
    /// not known).
    public typealias Table = [String: Set<String>]

    private let owners: [String]
    private let read: @Sendable () -> Table
    private let refreshInterval: Duration
    private let cache = Mutex<(table: Table, at: ContinuousClock.Instant)?>(nil)

    public init(owners: [String], refreshInterval: Duration = .seconds(10), read: @escaping @Sendable () -> Table) {
        self.owners = owners.map { $0.lowercased() }
        self.refreshInterval = refreshInterval
        self.read = read
    }

    /// The enrolment of a node: its catalogue and mirrors, placed on its forge.
    public convenience init(config: NodeConfig) {
        self.init(owners: config.serve.owners) { Self.table(config: config) }
    }

    /// The recipes and their repositories now.
    public var table: Table {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0 }), now - cached.at < refreshInterval { return cached.table }
        let fresh = read()
        cache.withLock { $0 = (fresh, now) }
        return fresh
    }

    /// The recipe `repository` is, if any.
    public func match(_ repository: RepositoryRef) -> Match {
        if !owners.isEmpty, !owners.contains(repository.owner.lowercased()) {
            return .notEnrolled("its owner is not one of serve.owners")
        }
        let table = self.table
        if let (recipe, _) = table.first(where: { $0.value.contains(repository.key) }) { return .recipe(recipe) }
        let name = repository.name.lowercased()
        guard let known = table[name] else { return .notEnrolled("no recipe of the catalogue is named \(name)") }
        guard known.isEmpty else {
            return .notEnrolled(
                "recipe \(name) is tested from \(known.sorted().joined(separator: ", ")), not from this repository")
        }
        guard !owners.isEmpty else {
            return .notEnrolled(
                "cc-ci does not know recipe \(name)'s repository on the forge: set serve.owners, or a [catalogue] URL on the forge"
            )
        }
        return .recipe(name)
    }

    /// The recipes no repository is known for (matched by name under `serve.owners`, or not at all).
    public var unplaced: [String] {
        table.filter(\.value.isEmpty).keys.sorted()
    }

    // MARK: - Reading the catalogue

    static func table(config: NodeConfig) -> Table {
        let forge = config.serve.forgeURL.flatMap(URL.init(string:))
        var table: Table = [:]
        let directory = config.catalogueDirectory
        for entry in config.catalogueClones {
            let gitDirectory = directory.appendingPathComponent("\(entry)/.git")
            var repositories = table[entry] ?? []
            if let forge, let url = originURL(gitDirectory: gitDirectory),
                let repository = repository(at: url, on: forge)
            {
                repositories.insert(repository.key)
            }
            table[entry] = repositories
        }
        for (recipe, url) in config.catalogueURLs {
            var repositories = table[recipe] ?? []
            if let forge, let repository = repository(at: url, on: forge) { repositories.insert(repository.key) }
            table[recipe] = repositories
        }
        for (recipe, mirror) in config.mirrors {
            guard table[recipe] != nil, let name = mirror.repository, let repository = RepositoryRef(fullName: name)
            else { continue }
            table[recipe, default: []].insert(repository.key)
        }
        return table
    }

    /// `remote.origin.url` of a repository's `.git/config`.
    static func originURL(gitDirectory: URL) -> String? {
        guard let text = try? String(contentsOf: gitDirectory.appendingPathComponent("config"), encoding: .utf8) else {
            return nil
        }
        var inOrigin = false
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") {
                inOrigin = trimmed.replacingOccurrences(of: " ", with: "") == "[remote\"origin\"]"
                continue
            }
            guard inOrigin, let equals = trimmed.firstIndex(of: "=") else { continue }
            if trimmed[..<equals].trimmingCharacters(in: .whitespaces) == "url" {
                return trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The repository a git URL names on `forge` (`https://host/owner/name(.git)`,
    /// `ssh://git@host/owner/name.git`, `git@host:owner/name.git`); `nil` for a URL elsewhere.
    static func repository(at url: String, on forge: URL) -> RepositoryRef? {
        guard let forgeHost = forge.host?.lowercased() else { return nil }
        var host: String
        var path: String
        if let parsed = URL(string: url), let parsedHost = parsed.host, parsed.scheme != nil {
            host = parsedHost
            path = parsed.path
            // Over HTTP(S) the forge is one host and port; over SSH the port differs.
            if ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
                (parsed.port ?? defaultPort(parsed.scheme)) != (forge.port ?? defaultPort(forge.scheme))
            {
                return nil
            }
        } else if let at = url.firstIndex(of: "@"), let colon = url[at...].firstIndex(of: ":") {
            host = String(url[url.index(after: at)..<colon])
            path = String(url[url.index(after: colon)...])
        } else {
            return nil
        }
        host = host.lowercased()
        guard host == forgeHost else { return nil }
        // A forge under a sub-path (`https://example.org/git`) prefixes every repository.
        let base = forge.path.trimmingCharacters(in: ["/"])
        path = path.trimmingCharacters(in: ["/"])
        if !base.isEmpty {
            guard path.hasPrefix(base + "/") else { return nil }
            path = String(path.dropFirst(base.count + 1))
        }
        if path.hasSuffix(".git") { path = String(path.dropLast(4)) }
        return RepositoryRef(fullName: path)
    }

    private static func defaultPort(_ scheme: String?) -> Int {
        scheme?.lowercased() == "https" ? 443 : 80
    }
}
