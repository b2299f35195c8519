import Foundation

/// How `ccci serve` runs on this node: the `[serve]` table of the node configuration.
///
/// ```toml
/// [serve]
/// listen = "127.0.0.1:8080"
/// public_url = "https://ci.example.org"
/// forge = "forgejo"                                  # or "gitea"
/// forge_url = "https://git.coopcloud.tech"
/// webhook_secret_file = "/etc/ccci/webhook-secret"
/// forge_token_file = "/etc/ccci/forge-token"
/// admin_token_file = "/etc/ccci/admin-token"        # optional: cancelling jobs on /queue
/// allowlist = ["alice"]                              # may run !testme without write access
/// owners = ["coop-cloud"]                            # only these owners' repositories (default: any)
/// max_streams = 256                                  # live log streams open at once, in all
/// max_streams_per_client = 16                        # … and from one client address
/// ```
///
/// The webhook secret and the tokens are never in the configuration: it names the files that
/// hold them (readable by the service's user only), and `ccci serve` reads them at start.
public struct ServeConfig: Sendable, Hashable {
    /// Which forge sends the webhooks and answers the API calls.
    public enum ForgeKind: String, Sendable, Hashable, CaseIterable {
        case gitea
        case forgejo
    }

    /// The address the HTTP server binds (port 0: any free port).
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    /// The base of the links in replies (run pages, logs); default `http://<listen>`.
    public var publicURL: String?
    public var forge: ForgeKind = .gitea
    /// The forge's base URL (its API is under `/api/v1`).
    public var forgeURL: String?
    /// The file holding the webhook secret (the one set on the forge's webhook).
    public var webhookSecretFile: String?
    /// The file holding the forge API token (comments, commit statuses, permission checks).
    public var forgeTokenFile: String?
    /// The file holding the node's admin token, which cancels jobs on the dashboard's queue
    /// (`nil`: nobody can cancel there).
    public var adminTokenFile: String?
    /// Forge users who may run `!testme` without write access to the repository.
    public var allowlist: [String] = []
    /// When not empty, only repositories of these owners are accepted.
    public var owners: [String] = []
    /// How many live log streams (`/runs/<id>/events`) may be open at once, in all and from one
    /// client address (behind a reverse proxy, every client has the proxy's address).
    public var maxStreams = 256
    public var maxStreamsPerClient = 16
    /// How long a node may go without renewing its lease before another node that shares the
    /// store takes over its running jobs (queues each again, once) — `node_lease`, 10 s to 1 day
    /// (it is renewed every quarter of it).
    public var nodeLease: Duration = .seconds(600)

    public init() {}

    /// The keys of the `[serve]` table.
    public static let keys = [
        "listen", "public_url", "forge", "forge_url", "webhook_secret_file", "forge_token_file", "admin_token_file",
        "allowlist", "owners", "max_streams", "max_streams_per_client", "node_lease",
    ]

    /// The `listen` value as written.
    public var listen: String {
        listenHost.contains(":") ? "[\(listenHost)]:\(listenPort)" : "\(listenHost):\(listenPort)"
    }

    /// Reads the `[serve]` table of `file`.
    public init(table value: JSONValue, file: String) throws(ConfigError) {
        guard case .object(let table) = value else {
            throw .invalid(file: file, key: "serve", message: "expects a table ([serve])")
        }
        try ConfigTable.rejectUnknownKeys(table, allowed: Self.keys, prefix: "serve", file: file)
        let reader = ConfigTable(table: table, prefix: "serve", file: file)
        if let listen = try reader.string("listen") {
            guard let (host, port) = Self.parseListen(listen) else {
                throw .invalid(
                    file: file, key: "serve.listen",
                    message: "'\(listen)' is not host:port (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080)")
            }
            listenHost = host
            listenPort = port
        }
        if let url = try reader.string("public_url") {
            try Self.checkHTTPURL(url, key: "serve.public_url", file: file)
            publicURL = url
        }
        if let kind = try reader.string("forge") {
            guard let parsed = ForgeKind(rawValue: kind) else {
                throw .invalid(file: file, key: "serve.forge", message: "'\(kind)' is not one of gitea, forgejo")
            }
            forge = parsed
        }
        if let url = try reader.string("forge_url") {
            try Self.checkHTTPURL(url, key: "serve.forge_url", file: file)
            forgeURL = url
        }
        webhookSecretFile = try reader.string("webhook_secret_file")
        forgeTokenFile = try reader.string("forge_token_file")
        adminTokenFile = try reader.string("admin_token_file")
        allowlist = try reader.strings("allowlist") ?? []
        owners = try reader.strings("owners") ?? []
        maxStreams = try reader.int("max_streams", in: 1...100_000) ?? maxStreams
        maxStreamsPerClient = try reader.int("max_streams_per_client", in: 1...100_000) ?? maxStreamsPerClient
        if let text = try reader.string("node_lease") {
            let lease: Duration
            do {
                lease = try DurationText.check(text, allowZero: false)
            } catch {
                throw .invalid(file: file, key: "serve.node_lease", message: error.description)
            }
            guard lease >= .seconds(10), lease <= .seconds(86_400) else {
                throw .invalid(
                    file: file, key: "serve.node_lease",
                    message: "'\(text)' is outside 10s to 1d — shorter, a node that pauses could lose its jobs; "
                        + "longer, a dead node's jobs wait a day")
            }
            nodeLease = lease
        }
    }

    /// `host:port`, `[v6]:port`; `nil` when it is neither.
    public static func parseListen(_ text: String) -> (String, Int)? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else { return nil }
        return (String(host), number)
    }

    static func checkHTTPURL(
        _ text: String, key: String, file: String, tokenKey: String = "serve.forge_token_file"
    ) throws(ConfigError) {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host?.isEmpty == false
        else {
            throw .invalid(file: file, key: key, message: "'\(text)' is not an http(s) URL")
        }
        guard url.user == nil, url.password == nil else {
            throw .invalid(
                file: file, key: key,
                message: "must not carry credentials — put them in the file `\(tokenKey)` names")
        }
    }
}

/// How long run directories are kept (`[retention]`, `ccci gc`): a run directory is removed
/// only when it is neither among the newest ``keepRuns`` of its recipe nor younger than
/// ``keepDays`` days.
public struct RetentionPolicy: Sendable, Hashable {
    public var keepRuns = 20
    public var keepDays = 30

    public init(keepRuns: Int = 20, keepDays: Int = 30) {
        self.keepRuns = keepRuns
        self.keepDays = keepDays
    }

    /// The keys of the `[retention]` table.
    public static let keys = ["keep_runs", "keep_days"]

    /// Reads the `[retention]` table of `file`.
    public init(table value: JSONValue, file: String) throws(ConfigError) {
        guard case .object(let table) = value else {
            throw .invalid(file: file, key: "retention", message: "expects a table ([retention])")
        }
        try ConfigTable.rejectUnknownKeys(table, allowed: Self.keys, prefix: "retention", file: file)
        for key in Self.keys {
            guard let value = table[key] else { continue }
            guard case .int(let number) = value, (0...100_000).contains(number) else {
                throw .invalid(file: file, key: "retention.\(key)", message: "expects an integer from 0 to 100000")
            }
            if key == "keep_runs" { keepRuns = number } else { keepDays = number }
        }
    }
}

/// Typed reads from one table of the node configuration, errors naming `<prefix>.<key>`.
struct ConfigTable {
    let table: [String: JSONValue]
    let prefix: String
    let file: String

    static func rejectUnknownKeys(
        _ table: [String: JSONValue], allowed: [String], prefix: String, file: String
    ) throws(ConfigError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            var message = "unknown key `\(prefix).\(key)`"
            if let suggestion = Suggestion.closest(to: key, in: allowed) ?? allowed.first(where: { $0.hasPrefix(key) })
            {
                message += " — did you mean `\(prefix).\(suggestion)`?"
            }
            throw .invalid(file: file, key: "\(prefix).\(key)", message: message)
        }
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = table[key] else { return nil }
        guard case .string(let text) = value, !text.isEmpty else {
            throw .invalid(file: file, key: "\(prefix).\(key)", message: "expects a non-empty string")
        }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = table[key] else { return nil }
        guard case .int(let number) = value, range.contains(number) else {
            throw .invalid(
                file: file, key: "\(prefix).\(key)",
                message: "expects an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard case .array(let items) = value else {
            throw .invalid(file: file, key: "\(prefix).\(key)", message: "expects an array of strings")
        }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item, !text.isEmpty else {
                throw .invalid(file: file, key: "\(prefix).\(key)", message: "expects an array of non-empty strings")
            }
            result.append(text)
        }
        return result
    }
}
