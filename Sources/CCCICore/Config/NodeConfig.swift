import Foundation

/// How this node runs cc-ci: where state lives, the CI domain, the lab or production settings.
///
/// Read from `$CCCI_CONFIG`, else `<home>/config.toml` (home: `$CCCI_HOME`, default
/// `/var/lib/ccci`). Every key is optional; the defaults are the local lab's. Environment
/// variables override the file (tests use them to sandbox state):
/// `CCCI_HOME`, `CCCI_CI_DOMAIN`, `CCCI_LOCK_DIR`, `CCCI_LAB_DIR`, `CCCI_PACKS_DIR`,
/// `CCCI_CATALOGUE_DIR`, `CCCI_NETWORK_MODE`, `CCCI_DOCKER_SOCKET`, `CCCI_CAPACITY`, `CCCI_NODE`,
/// `CCCI_STORE`, `CCCI_STORE_PASSWORD_FILE`.
public struct NodeConfig: Sendable, Hashable {
    /// Where the node keeps its history, queue and canonicals (`store = "…"`).
    public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
        /// The embedded default: one SQLite file (`sqlite:///var/lib/ccci/ccci.sqlite`).
        case sqlite(URL)
        /// A PostgreSQL database several nodes share
        /// (`postgres://user@host:5432/ccci?sslmode=require`).
        case postgres(PostgresLocation)

        /// Reads a `store` URL; `nil` for a scheme cc-ci does not know. A PostgreSQL URL that
        /// holds a password is refused (``PostgresLocation/init(url:)``).
        public init?(url text: String) throws(ConfigError) {
            if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
                self = .postgres(try PostgresLocation(url: text))
                return
            }
            guard text.hasPrefix("sqlite://") else { return nil }
            let path = String(text.dropFirst("sqlite://".count))
            guard path.hasPrefix("/"), path.count > 1, !path.contains("\0") else { return nil }
            self = .sqlite(URL(fileURLWithPath: path))
        }

        /// Where it is, for messages: a file's path; a URL without its credentials.
        public var description: String {
            switch self {
            case .sqlite(let file): return file.path
            case .postgres(let location): return location.description
            }
        }
    }

    /// A PostgreSQL store: where it is, who connects, whether TLS is asked for. The password is
    /// never part of it: it is read from ``passwordFile`` when the store is opened.
    public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
        /// `sslmode` as libpq names it, reduced to what cc-ci does.
        public enum TLSMode: String, Sendable, Hashable, CaseIterable {
            /// Never TLS.
            case disable
            /// TLS when the server offers it (libpq's default).
            case prefer
            /// TLS, or no connection (`require`, `verify-ca` and `verify-full` all verify).
            case require
        }

        public var host: String
        public var port: Int
        public var user: String
        public var database: String
        public var tls: TLSMode
        /// The file holding the password (`store_password_file`, mode 0600); `nil`: none (trust or
        /// peer authentication).
        public var passwordFile: String?

        public init(
            host: String, port: Int = 5432, user: String, database: String, tls: TLSMode = .prefer,
            passwordFile: String? = nil
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.database = database
            self.tls = tls
            self.passwordFile = passwordFile
        }

        /// Reads `postgres://user@host[:port]/database[?sslmode=…]`.
        public init(url text: String) throws(ConfigError) {
            func invalid(_ message: String) -> ConfigError {
                .invalid(file: "store", key: "store", message: message)
            }
            guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
                throw invalid("is not a PostgreSQL URL — e.g. `postgres://ccci@db.example.org:5432/ccci`")
            }
            guard components.password == nil else {
                throw invalid(
                    "holds a password: keep it out of the config — put it in a file of mode 0600 named by "
                        + "`store_password_file`")
            }
            guard let user = components.user, !user.isEmpty else {
                throw invalid("names no user — e.g. `postgres://ccci@\(host)/ccci`")
            }
            let database = String(components.path.drop { $0 == "/" })
            guard !database.isEmpty, !database.contains("/") else {
                throw invalid("names no database — e.g. `postgres://\(user)@\(host)/ccci`")
            }
            var tls = TLSMode.prefer
            for item in components.queryItems ?? [] {
                guard item.name == "sslmode" else {
                    throw invalid("has an option cc-ci does not know: `\(item.name)` (only `sslmode`)")
                }
                switch item.value ?? "" {
                case "disable", "allow": tls = .disable
                case "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default:
                    throw invalid("`sslmode=\(item.value ?? "")` is not one of disable, prefer, require")
                }
            }
            self.init(host: host, port: components.port ?? 5432, user: user, database: database, tls: tls)
        }

        /// The URL without any secret.
        public var description: String {
            let hostText = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(user)@\(hostText):\(port)/\(database)" + (tls == .prefer ? "" : "?sslmode=\(tls)")
        }
    }

    /// Which driver deploys apps on this node (`driver = "…"`; SPEC F-DRIVER).
    public enum DriverKind: String, Sendable, Hashable, CaseIterable {
        /// cc-ci's own, abra-compatible driver: talks to the node's swarm directly.
        case native
    }

    /// Where a run may reach apps for health checks and tests.
    public enum Ingress: String, Sendable, Hashable, Codable {
        /// The lab's caddy ingress: `https://<domain>` on 127.0.0.1 with the lab CA.
        case lab
        /// Real DNS and certificates (a production node behind traefik).
        case production
    }

    /// How images are made available before a deploy (SPEC F-PREPULL).
    public enum ImagePolicy: String, Sendable, Hashable, Codable {
        /// Every image must already exist locally (the lab: nothing can be pulled).
        case local
        /// Pull every image; a pull error fails fast.
        case pull
    }

    public var home: URL
    public var ciDomain: String
    public var lockDirectory: URL
    public var labDirectory: URL
    /// The CI's own per-recipe test packs (`<packs>/<recipe>/ccci.toml`, `functional/`, …).
    public var packsDirectory: URL
    /// Recipes by name: a directory of git repositories (`<catalogue>/<recipe>`).
    public var catalogueDirectory: URL
    /// Recipe name → git URL, taking precedence over the catalogue directory.
    public var catalogueURLs: [String: String]
    /// `nil`: detect from the kernel (IPVS present → vip).
    public var networkMode: String?
    public var ingress: Ingress
    public var imagePolicy: ImagePolicy
    /// `docker stack deploy --resolve-image` value.
    public var resolveImage: String
    /// A docker-config-style file (`{"auths": …}`) with the logins of private registries
    /// (`registry_auth`): used for pulls and passed to swarm (`--with-registry-auth`), never logged.
    public var registryAuth: String?
    /// How many images are pulled at once (`pull_parallelism`).
    public var pullParallelism: Int = 4
    public var dockerSocket: String
    /// How many runs this node executes at once (SPEC F-CAPACITY).
    public var capacity: Int
    /// Hard deadline of one run (SPEC F-LIFETIME).
    public var runDeadline: Duration
    /// How many times a failed path of a run is run again on fresh apps (`retry_failed`, 0 or 1): a
    /// tier that fails and then passes is flaky, never a pass.
    public var retryFailed: Int = 0
    /// Whether runs sample their head app's memory and CPU from the engine's stats stream
    /// (`resource_profile`, on by default; F-RESOURCES, docs/design.md).
    public var resourceProfile = true
    /// `ccci serve`: listen address, forge, the files holding its secrets (`[serve]`).
    public var serve = ServeConfig()
    /// How long run directories are kept (`[retention]`, `ccci gc`).
    public var retention = RetentionPolicy()
    /// Warm canonicals and the sweep (`[warm]`).
    public var warm = WarmConfig()
    /// Recipes tested from mirrors, by recipe (`[mirror.<recipe>]`).
    public var mirrors: [String: MirrorConfig] = [:]
    /// This node's name (`node`, `CCCI_NODE`; default the host's name): every job and canonical
    /// records the node that owns it, so that several nodes can share one store.
    public var node: String = NodeConfig.defaultNodeName
    /// Where history, queue and canonicals live (default: `<home>/ccci.sqlite`).
    public var store: StoreLocation?
    /// The file holding a PostgreSQL store's password (`store_password_file`, mode 0600).
    public var storePasswordFile: String?
    /// Which driver deploys apps.
    public var driver: DriverKind = .native
    /// Where `ccci serve` sends its jobs: its own workers, or a CI engine (`[dispatch]`).
    public var dispatch = DispatchConfig()

    /// Uses the store `value` names (from `source`: an option or a variable), with the node's
    /// `store_password_file` for a server's password.
    public mutating func useStore(_ value: String, from source: String) throws(ConfigError) {
        store = try Self.storeLocation(value, file: source)
        if case .postgres(var location) = store {
            location.passwordFile = storePasswordFile
            store = .postgres(location)
        }
    }

    /// Reads a `store` value (from `source`: a file or a variable), naming the source on error.
    static func storeLocation(_ value: String, file source: String) throws(ConfigError) -> StoreLocation {
        let location: StoreLocation?
        do {
            location = try StoreLocation(url: value)
        } catch {
            guard case .invalid(_, _, let message) = error else { throw error }
            throw .invalid(file: source, key: "store", message: message)
        }
        guard let location else {
            throw .invalid(
                file: source, key: "store",
                message: "is not a store URL cc-ci knows — e.g. `sqlite:///var/lib/ccci/ccci.sqlite` or "
                    + "`postgres://ccci@db.example.org/ccci`")
        }
        return location
    }

    public var envDirectory: URL { home.appendingPathComponent("apps") }
    public var runsDirectory: URL { home.appendingPathComponent("runs") }
    /// Where the store lives: ``store``, else the embedded SQLite file in the home.
    public var storeLocation: StoreLocation { store ?? .sqlite(home.appendingPathComponent("ccci.sqlite")) }
    /// The SQLite file of an embedded store (the default `<home>/ccci.sqlite`); `nil` for a
    /// store on a server.
    public var storePath: URL? {
        switch storeLocation {
        case .sqlite(let file): return file
        case .postgres: return nil
        }
    }

    /// The host's name up to its first dot, as a node name (`node` when it has none).
    public static var defaultNodeName: String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        return isValidNodeName(host) ? host : "node"
    }

    /// A node name: 1 to 63 letters, digits, `-` and `_`, starting with a letter or digit.
    public static func isValidNodeName(_ text: String) -> Bool {
        guard (1...63).contains(text.count), let first = text.unicodeScalars.first,
            CharacterSet.alphanumerics.contains(first)
        else { return false }
        return text.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_")
        }
    }
    public var resticDirectory: URL { home.appendingPathComponent("restic") }
    public var workspacesDirectory: URL { home.appendingPathComponent("work") }
    /// The registrations of live runs (`live/<run>.json` and its lock; SPEC F-JANITOR).
    public var liveRunsDirectory: URL { home.appendingPathComponent("live") }
    /// The warm canonicals' recipe trees, one per enrolled recipe (`warm/<recipe>/tree`).
    public var warmDirectory: URL { home.appendingPathComponent("warm") }
    /// The recipe tree the warm canonical of `recipe` is deployed from (at the canonical's commit).
    public func warmTree(recipe: String) -> URL {
        warmDirectory.appendingPathComponent("\(AppNaming.dnsLabel(recipe))/tree")
    }
    /// The lock one sweep at a time holds.
    public var sweepLockFile: URL { lockDirectory.appendingPathComponent("sweep.lock") }

    /// The lab ingress' admin socket.
    public var ingressAdminSocket: URL { labDirectory.appendingPathComponent("ingress/admin/caddy.sock") }
    /// The lab CA certificate that verifies every lab HTTPS certificate.
    public var labCACertificate: URL {
        labDirectory.appendingPathComponent("ingress/data/caddy/pki/authorities/local/root.crt")
    }

    /// The app naming of this node.
    public func naming() throws(NamingError) -> AppNaming {
        try AppNaming(ciDomain: ciDomain)
    }

    /// The configuration file: `$CCCI_CONFIG`, else `<home>/config.toml`.
    public static func configFile(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL {
        URL(
            fileURLWithPath: environment["CCCI_CONFIG"]
                ?? URL(fileURLWithPath: environment["CCCI_HOME"] ?? "/var/lib/ccci").appendingPathComponent(
                    "config.toml"
                )
                .path)
    }

    /// Loads the configuration: defaults, then the file, then the environment.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> NodeConfig {
        let home = URL(fileURLWithPath: environment["CCCI_HOME"] ?? "/var/lib/ccci")
        let labDirectory = URL(fileURLWithPath: environment["CCCI_LAB_DIR"] ?? "/var/lib/ccci/lab")
        var config = NodeConfig(
            home: home, ciDomain: "ci.ccci.test", lockDirectory: URL(fileURLWithPath: "/run/lock/ccci"),
            labDirectory: labDirectory, packsDirectory: home.appendingPathComponent("packs"),
            catalogueDirectory: labDirectory.appendingPathComponent("recipes"), catalogueURLs: [:],
            networkMode: nil, ingress: .lab, imagePolicy: .local, resolveImage: "never",
            dockerSocket: "/var/run/docker.sock", capacity: 2, runDeadline: .seconds(3600))
        let file = configFile(environment: environment)
        if FileManager.default.fileExists(atPath: file.path) {
            try config.apply(file: file)
        } else if environment["CCCI_CONFIG"] != nil {
            throw .missingFile(file.path)
        }
        if let value = environment["CCCI_CI_DOMAIN"] { config.ciDomain = value }
        if let value = environment["CCCI_LOCK_DIR"] { config.lockDirectory = URL(fileURLWithPath: value) }
        if let value = environment["CCCI_PACKS_DIR"] { config.packsDirectory = URL(fileURLWithPath: value) }
        if let value = environment["CCCI_CATALOGUE_DIR"] { config.catalogueDirectory = URL(fileURLWithPath: value) }
        if let value = environment["CCCI_NETWORK_MODE"] { config.networkMode = value }
        if let value = environment["CCCI_DOCKER_SOCKET"] { config.dockerSocket = value }
        if let value = environment["CCCI_REGISTRY_AUTH"] { config.registryAuth = value }
        if let value = environment["CCCI_IMAGE_POLICY"] {
            guard let parsed = ImagePolicy(rawValue: value) else {
                throw .invalid(
                    file: "CCCI_IMAGE_POLICY", key: "image_policy", message: "'\(value)' is not one of local, pull")
            }
            config.imagePolicy = parsed
        }
        if let value = environment["CCCI_NODE"] {
            guard Self.isValidNodeName(value) else {
                throw .invalid(
                    file: "CCCI_NODE", key: "node",
                    message: "'\(value)' is not a node name (letters, digits, - and _; at most 63)")
            }
            config.node = value
        }
        if let value = environment["CCCI_STORE"] { config.store = try Self.storeLocation(value, file: "CCCI_STORE") }
        if let value = environment["CCCI_STORE_PASSWORD_FILE"] { config.storePasswordFile = value }
        if case .postgres(var location) = config.store {
            location.passwordFile = config.storePasswordFile
            config.store = .postgres(location)
        }
        if let value = environment["CCCI_CAPACITY"] {
            guard let number = Int(value), number >= 1 else {
                throw .invalid(
                    file: "CCCI_CAPACITY", key: "capacity", message: "'\(value)' is not a number of runs (at least 1)")
            }
            config.capacity = number
        }
        if let value = environment["CCCI_RETRY_FAILED"] {
            guard let number = Int(value), (0...1).contains(number) else {
                throw .invalid(file: "CCCI_RETRY_FAILED", key: "retry_failed", message: "'\(value)' is not 0 or 1")
            }
            config.retryFailed = number
        }
        if let value = environment["CCCI_RESOURCE_PROFILE"] {
            guard let flag = ["0": false, "1": true, "false": false, "true": true][value] else {
                throw .invalid(
                    file: "CCCI_RESOURCE_PROFILE", key: "resource_profile", message: "'\(value)' is not 0 or 1")
            }
            config.resourceProfile = flag
        }
        if let mode = config.networkMode, !["vip", "dnsrr", "auto"].contains(mode) {
            throw .invalid(file: file.path, key: "network_mode", message: "'\(mode)' is not one of auto, vip, dnsrr")
        }
        if config.networkMode == "auto" { config.networkMode = nil }
        do {
            _ = try config.naming()
        } catch {
            throw .invalid(file: file.path, key: "ci_domain", message: error.description)
        }
        return config
    }

    /// The keys a config file may set.
    public static let keys = [
        "home", "ci_domain", "lock_dir", "lab_dir", "packs_dir", "catalogue_dir", "catalogue", "network_mode",
        "ingress", "image_policy", "resolve_image", "registry_auth", "pull_parallelism", "docker_socket", "capacity",
        "run_deadline", "retry_failed", "resource_profile", "serve", "retention",
        "warm", "mirror", "node", "store", "store_password_file", "driver", "dispatch",
    ]

    mutating func apply(file: URL) throws(ConfigError) {
        let table: [String: JSONValue]
        do {
            let text = try String(contentsOf: file, encoding: .utf8)
            table = try TOML.parse(text).value.objectValue ?? [:]
        } catch let error as TOMLError {
            throw .invalid(file: file.path, key: nil, message: "not valid TOML: \(error.description)")
        } catch {
            throw .invalid(file: file.path, key: nil, message: "cannot read it: \(error.localizedDescription)")
        }
        for key in table.keys.sorted() {
            guard Self.keys.contains(key) else {
                var message = "unknown key `\(key)`"
                if let suggestion = Suggestion.closest(to: key, in: Self.keys) {
                    message += " — did you mean `\(suggestion)`?"
                }
                throw .invalid(file: file.path, key: key, message: message)
            }
        }
        func string(_ key: String) throws(ConfigError) -> String? {
            guard let value = table[key] else { return nil }
            guard case .string(let text) = value else {
                throw .invalid(file: file.path, key: key, message: "expects a string")
            }
            return text
        }
        if let value = try string("home") { home = URL(fileURLWithPath: value) }
        if let value = try string("ci_domain") { ciDomain = value }
        if let value = try string("lock_dir") { lockDirectory = URL(fileURLWithPath: value) }
        if let value = try string("lab_dir") { labDirectory = URL(fileURLWithPath: value) }
        if let value = try string("packs_dir") { packsDirectory = URL(fileURLWithPath: value) }
        if let value = try string("catalogue_dir") { catalogueDirectory = URL(fileURLWithPath: value) }
        if let value = try string("network_mode") { networkMode = value }
        if let value = try string("docker_socket") { dockerSocket = value }
        if let value = try string("resolve_image") { resolveImage = value }
        if let value = try string("registry_auth") { registryAuth = value }
        if let value = table["pull_parallelism"] {
            guard case .int(let number) = value, (1...32).contains(number) else {
                throw .invalid(file: file.path, key: "pull_parallelism", message: "expects an integer from 1 to 32")
            }
            pullParallelism = number
        }
        if let value = try string("node") {
            guard Self.isValidNodeName(value) else {
                throw .invalid(
                    file: file.path, key: "node",
                    message: "'\(value)' is not a node name (letters, digits, - and _; at most 63)")
            }
            node = value
        }
        if let value = try string("store") {
            store = try Self.storeLocation(value, file: file.path)
        }
        if let value = try string("store_password_file") { storePasswordFile = value }
        if let value = try string("driver") {
            guard let kind = DriverKind(rawValue: value) else {
                throw .invalid(
                    file: file.path, key: "driver",
                    message: "'\(value)' is not one of \(DriverKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            driver = kind
        }
        if let value = try string("ingress") {
            guard let parsed = Ingress(rawValue: value) else {
                throw .invalid(file: file.path, key: "ingress", message: "'\(value)' is not one of lab, production")
            }
            ingress = parsed
        }
        if let value = try string("image_policy") {
            guard let parsed = ImagePolicy(rawValue: value) else {
                throw .invalid(file: file.path, key: "image_policy", message: "'\(value)' is not one of local, pull")
            }
            imagePolicy = parsed
        }
        if let value = try string("run_deadline") {
            do {
                runDeadline = try DurationText.check(value, allowZero: false)
            } catch {
                throw .invalid(file: file.path, key: "run_deadline", message: error.description)
            }
        }
        if let value = table["retry_failed"] {
            guard case .int(let number) = value, (0...1).contains(number) else {
                throw .invalid(
                    file: file.path, key: "retry_failed",
                    message:
                        "expects 0 (off) or 1 (a failed path runs once more on fresh apps; fail then pass is flaky)")
            }
            retryFailed = number
        }
        if let value = table["resource_profile"] {
            guard case .bool(let flag) = value else {
                throw .invalid(
                    file: file.path, key: "resource_profile",
                    message: "expects true (sample the head app's memory and CPU from the engine) or false")
            }
            resourceProfile = flag
        }
        if let value = table["capacity"] {
            guard case .int(let number) = value, (1...64).contains(number) else {
                throw .invalid(file: file.path, key: "capacity", message: "expects an integer from 1 to 64")
            }
            capacity = number
        }
        if let value = table["serve"] { serve = try ServeConfig(table: value, file: file.path) }
        if let value = table["dispatch"] { dispatch = try DispatchConfig(table: value, file: file.path) }
        if let value = table["retention"] { retention = try RetentionPolicy(table: value, file: file.path) }
        if let value = table["warm"] { warm = try WarmConfig(table: value, file: file.path) }
        if let value = table["mirror"] { mirrors = try MirrorConfig.tables(value, file: file.path) }
        if let value = table["catalogue"] {
            guard case .object(let catalogue) = value else {
                throw .invalid(file: file.path, key: "catalogue", message: "expects a table of recipe = \"git url\"")
            }
            for key in catalogue.keys.sorted() {
                guard case .string(let url)? = catalogue[key] else {
                    throw .invalid(file: file.path, key: "catalogue.\(key)", message: "expects a git URL string")
                }
                catalogueURLs[key] = url
            }
        }
    }
}

/// A node configuration that cannot be used.
public enum ConfigError: Error, Sendable, CustomStringConvertible {
    case missingFile(String)
    case invalid(file: String, key: String?, message: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "CCCI_CONFIG names \(path), which does not exist — create it or unset CCCI_CONFIG"
        case .invalid(let file, let key, let message):
            return "\(file)\(key.map { ": `\($0)`" } ?? ""): \(message)"
        }
    }
}
