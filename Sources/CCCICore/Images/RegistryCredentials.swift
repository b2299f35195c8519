import Foundation

/// Registry credentials from a docker-config-style file (`{"auths": {"<registry>": {"auth":
/// "<base64 user:password>"}}}` — what `docker login` writes), named by the node's
/// `registry_auth`. Values are never printed: ``description`` names only the registries.
public struct RegistryCredentials: Sendable, CustomStringConvertible {
    public struct Login: Sendable, Hashable {
        public let username: String
        public let password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// Registry host → login.
    public let logins: [String: Login]
    /// The file they came from (for messages).
    public let source: String?

    public static let none = RegistryCredentials(logins: [:], source: nil)

    public init(logins: [String: Login], source: String?) {
        self.logins = logins
        self.source = source
    }

    /// Reads `file`; an unreadable or malformed file is an error naming it and the entry.
    public static func load(_ file: URL) throws(RegistryCredentialsError) -> RegistryCredentials {
        guard let data = FileManager.default.contents(atPath: file.path) else { throw .unreadable(file.path) }
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: data).objectValue else {
            throw .malformed(file.path, "not a JSON object")
        }
        var logins: [String: Login] = [:]
        for (key, entry) in object["auths"]?.objectValue ?? [:] {
            let host = Self.host(of: key)
            let fields = entry.objectValue ?? [:]
            if let auth = fields["auth"]?.stringValue, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }),
                    let colon = decoded.firstIndex(of: ":")
                else { throw .malformed(file.path, "auths.\(key).auth is not base64 of user:password") }
                logins[host] = Login(
                    username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
            } else if let user = fields["username"]?.stringValue, let password = fields["password"]?.stringValue {
                logins[host] = Login(username: user, password: password)
            }
            // An entry with neither (a credential helper's, an identity token's) gives no login here.
        }
        return RegistryCredentials(logins: logins, source: file.path)
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `https://host:5000/x` → `host:5000`.
    public static func host(of key: String) -> String {
        var host = key
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) {
            host = String(host.dropFirst(scheme.count))
        }
        if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
        return ["index.docker.io", "registry-1.docker.io"].contains(host) ? ImageReference.dockerHub : host
    }

    public func login(for registry: String) -> Login? { logins[registry] }

    /// The engine's `X-Registry-Auth` value for `registry` (base64url JSON), `nil` without a login.
    public func engineHeader(for registry: String) -> String? {
        guard let login = logins[registry] else { return nil }
        let server = registry == ImageReference.dockerHub ? "https://index.docker.io/v1/" : registry
        let json = try? JSONEncoder().encode([
            "username": login.username, "password": login.password, "serveraddress": server,
        ])
        guard let json else { return nil }
        return json.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }

    public var description: String {
        logins.isEmpty ? "no registry credentials" : "credentials for \(logins.keys.sorted().joined(separator: ", "))"
    }
}

public enum RegistryCredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(String)
    case malformed(String, String)

    public var description: String {
        switch self {
        case .unreadable(let path):
            return
                "registry_auth: cannot read \(path) — write it as docker login does ({\"auths\": {…}}) or remove the key"
        case .malformed(let path, let why):
            return "registry_auth: \(path): \(why)"
        }
    }
}
