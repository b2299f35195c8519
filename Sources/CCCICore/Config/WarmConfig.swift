import Foundation

/// Warm canonicals and the weekly sweep (`[warm]`, SPEC F-CANON, F-SWEEP).
public struct WarmConfig: Sendable, Hashable {
    /// The disk the warm apps' volumes may take together; the sweep report sets their total
    /// against it (`volume_budget = "20G"`).
    public var volumeBudgetBytes: Int64 = 20 * 1024 * 1024 * 1024

    public init() {}

    /// The keys of the `[warm]` table.
    public static let keys = ["volume_budget"]

    /// Reads the `[warm]` table of `file`.
    public init(table value: JSONValue, file: String) throws(ConfigError) {
        guard case .object(let table) = value else {
            throw .invalid(file: file, key: "warm", message: "expects a table ([warm])")
        }
        try ConfigTable.rejectUnknownKeys(table, allowed: Self.keys, prefix: "warm", file: file)
        if let value = table["volume_budget"] {
            guard case .string(let text) = value, let bytes = Self.bytes(text) else {
                throw .invalid(
                    file: file, key: "warm.volume_budget",
                    message: "expects a size such as \"20G\", \"500M\" or \"1T\" (a number and K, M, G or T)")
            }
            volumeBudgetBytes = bytes
        }
    }

    /// `512M`, `20G`, `1T`, `1024` (bytes): binary units; `nil` when `text` is not a size.
    public static func bytes(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(trimmed)
        var multiplier: Int64 = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        if digits.hasSuffix("I") || digits.hasSuffix("B") { return nil }
        guard let number = Int64(digits), number > 0, number <= Int64.max / multiplier else { return nil }
        return number * multiplier
    }

    /// `bytes` for a person: `1.5 GiB`, `312 MiB`, `4 KiB`, `12 B`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        return index == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[index])
    }
}

/// A recipe tested from a mirror (`[mirror.<recipe>]`, SPEC F-MIRROR): the catalogue's URL of
/// the recipe is the mirror; before the sweep fetches it, the mirror's branch and tags are made
/// the upstream's.
public struct MirrorConfig: Sendable, Hashable {
    /// The upstream repository (a URL or path).
    public var upstream: String
    /// The branch kept in step (`main`).
    public var branch = "main"
    /// A file holding the token for a private upstream (one line, mode 600), sent per command as
    /// an HTTP header — never written into a URL, a remote or a log.
    public var tokenFile: String?
    /// The mirror's `owner/name` on the node's forge (`[serve] forge_url`), whose pull requests
    /// are closed when merging them would change nothing; `nil`: pull requests are not looked at.
    public var repository: String?

    public init(upstream: String, branch: String = "main", tokenFile: String? = nil, repository: String? = nil) {
        self.upstream = upstream
        self.branch = branch
        self.tokenFile = tokenFile
        self.repository = repository
    }

    /// The keys of a `[mirror.<recipe>]` table.
    public static let keys = ["upstream", "branch", "token_file", "repository"]

    /// Reads the `[mirror]` table of `file`: one sub-table per recipe.
    public static func tables(_ value: JSONValue, file: String) throws(ConfigError) -> [String: MirrorConfig] {
        guard case .object(let recipes) = value else {
            throw .invalid(
                file: file, key: "mirror", message: "expects tables, e.g. [mirror.web] upstream = \"https://…\"")
        }
        var mirrors: [String: MirrorConfig] = [:]
        for recipe in recipes.keys.sorted() {
            let prefix = "mirror.\(recipe)"
            if let problem = RecipeName.problem(recipe) {
                throw .invalid(file: file, key: prefix, message: "is not a recipe name: \(problem)")
            }
            guard case .object(let table) = recipes[recipe]! else {
                throw .invalid(file: file, key: prefix, message: "expects a table ([\(prefix)])")
            }
            try ConfigTable.rejectUnknownKeys(table, allowed: keys, prefix: prefix, file: file)
            func string(_ key: String) throws(ConfigError) -> String? {
                guard let value = table[key] else { return nil }
                guard case .string(let text) = value, !text.isEmpty else {
                    throw .invalid(file: file, key: "\(prefix).\(key)", message: "expects a non-empty string")
                }
                return text
            }
            guard let upstream = try string("upstream") else {
                throw .invalid(
                    file: file, key: "\(prefix).upstream",
                    message: "is required: the URL of the repository this mirrors")
            }
            var mirror = MirrorConfig(upstream: upstream)
            if let branch = try string("branch") {
                guard !branch.hasPrefix("-"), !branch.contains(".."), !branch.contains(" ") else {
                    throw .invalid(file: file, key: "\(prefix).branch", message: "'\(branch)' is not a branch name")
                }
                mirror.branch = branch
            }
            mirror.tokenFile = try string("token_file")
            if let repository = try string("repository") {
                let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw .invalid(file: file, key: "\(prefix).repository", message: "expects `owner/name`")
                }
                mirror.repository = repository
            }
            mirrors[recipe] = mirror
        }
        return mirrors
    }
}
