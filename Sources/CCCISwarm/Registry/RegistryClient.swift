import AsyncHTTPClient
import CCCICore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Asks a registry (Docker's distribution API v2) what a reference resolves to, the way the
/// engine will: Docker Hub references through the engine's mirrors first, TLS trusting
/// `/etc/docker/certs.d/<host>/*.crt` beside the system roots (as dockerd does), Basic or Bearer
/// token auth with the node's credentials. Answers are the registry's own (its error code and
/// message), so a failed pull can say whose fault it is; credentials never appear in one.
public struct RegistryClient: Sendable {
    /// What one registry said about a reference.
    public enum Answer: Sendable, Hashable, CustomStringConvertible {
        /// The manifest exists: its digest (`sha256:…`).
        case found(digest: String)
        /// The registry answered that the repository or the tag does not exist.
        case absent(code: String, message: String)
        /// The registry wants credentials (`hadCredentials`: it refused the node's).
        case unauthorized(code: String, message: String, hadCredentials: Bool)
        /// No answer: connection refused, TLS failure, timeout, name not found.
        case unreachable(String)
        /// Any other answer (a 5xx, a malformed reply).
        case failed(status: Int, message: String)

        public var description: String {
            switch self {
            case .found(let digest): return digest
            case .absent(let code, let message), .unauthorized(let code, let message, _):
                return "\(code) \"\(message)\""
            case .unreachable(let why): return "unreachable (\(why))"
            case .failed(let status, let message): return "HTTP \(status) \"\(message)\""
            }
        }
    }

    /// One registry asked, and its answer.
    public struct Attempt: Sendable, Hashable {
        public let registry: String
        public let answer: Answer

        public init(registry: String, answer: Answer) {
            self.registry = registry
            self.answer = answer
        }
    }

    public let credentials: RegistryCredentials
    /// Mirrors of Docker Hub (hosts or URLs), tried in order before Docker Hub itself.
    public let mirrors: [String]
    public let certificatesDirectory: URL
    public let timeout: Duration

    public init(
        credentials: RegistryCredentials, mirrors: [String],
        certificatesDirectory: URL = URL(fileURLWithPath: "/etc/docker/certs.d"), timeout: Duration = .seconds(8)
    ) {
        self.credentials = credentials
        self.mirrors = mirrors
        self.certificatesDirectory = certificatesDirectory
        self.timeout = timeout
    }

    /// The registries the engine would try for `reference`, in order (`host[:port]`).
    public func endpoints(for reference: ImageReference) -> [String] {
        guard reference.registry == ImageReference.dockerHub else { return [reference.registry] }
        return mirrors.map(RegistryCredentials.host(of:)) + ["registry-1.docker.io"]
    }

    /// Asks each endpoint in turn until one has the manifest; every answer is kept.
    public func resolve(_ reference: ImageReference) async -> [Attempt] {
        var attempts: [Attempt] = []
        for endpoint in endpoints(for: reference) {
            // A mirror holds Docker Hub's repositories under the same paths; its credentials
            // are its own, Docker Hub's are docker.io's.
            let loginHost = endpoint == "registry-1.docker.io" ? ImageReference.dockerHub : endpoint
            let answer = await manifest(of: reference, at: endpoint, login: credentials.login(for: loginHost))
            attempts.append(Attempt(registry: endpoint, answer: answer))
            if case .found = answer { break }
        }
        return attempts
    }

    /// `GET /v2/<repository>/manifests/<tag or digest>` on `host`.
    public func manifest(
        of reference: ImageReference, at host: String, login: RegistryCredentials.Login?
    ) async -> Answer {
        if let unreachable = await preflight(host) { return .unreachable(unreachable) }
        let client = makeClient(for: host)
        let answer = await manifest(of: reference, at: host, login: login, client: client)
        try? await client.shutdown()
        return answer
    }

    func manifest(
        of reference: ImageReference, at host: String, login: RegistryCredentials.Login?, client: HTTPClient
    ) async -> Answer {
        let url = "https://\(host)/v2/\(reference.repository)/manifests/\(reference.manifestReference)"
        do {
            var response = try await get(url, client: client, authorization: nil)
            if response.status == 401 {
                guard let challenge = response.header("www-authenticate") else {
                    return Self.refusal(response, hadCredentials: login != nil)
                }
                guard let authorization = try await authorize(challenge, login: login, client: client) else {
                    return Self.refusal(response, hadCredentials: login != nil)
                }
                response = try await get(url, client: client, authorization: authorization)
                if response.status == 401 || response.status == 403 {
                    // An anonymous token that may not read the repository: Docker Hub's answer for
                    // a repository that does not exist as for a private one.
                    if login == nil, authorization.hasPrefix("Bearer ") {
                        let (code, message) = Self.registryError(response.body, fallback: "DENIED")
                        return .absent(code: code, message: "\(message) (no such repository, or a private one)")
                    }
                    return Self.refusal(response, hadCredentials: login != nil)
                }
            }
            switch response.status {
            case 200:
                guard let digest = response.header("docker-content-digest") else {
                    return .failed(status: 200, message: "no Docker-Content-Digest header")
                }
                return .found(digest: digest)
            case 404:
                let (code, message) = Self.registryError(response.body, fallback: "MANIFEST_UNKNOWN")
                return .absent(code: code, message: message)
            case 403:
                return Self.refusal(response, hadCredentials: login != nil)
            default:
                let (_, message) = Self.registryError(response.body, fallback: "")
                return .failed(status: response.status, message: message.isEmpty ? "no message" : message)
            }
        } catch {
            return .unreachable(Self.describe(error))
        }
    }

    /// Opens and closes a TCP connection to `host` (`name[:port]`, 443 by default): a registry
    /// whose name does not resolve or that refuses connections is said so at once, where the HTTP
    /// client would retry until its connect timeout. `nil` when something listens.
    func preflight(_ host: String) async -> String? {
        var name = host
        var port = 443
        if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]"),
            let number = Int(host[host.index(after: colon)...])
        {
            name = String(host[..<colon])
            port = number
        }
        name = name.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(timeout.components.seconds))
                .connect(host: name, port: port).get()
            try? await channel.close()
            return nil
        } catch {
            return Self.describe(error)
        }
    }

    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: String
        func header(_ name: String) -> String? { headers.first(name: name) }
    }

    func makeClient(for host: String) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .follow(max: 5, allowCycles: false)
        configuration.timeout = .init(connect: .seconds(timeout.components.seconds), read: .seconds(30))
        var tls = TLSConfiguration.makeClientConfiguration()
        let directory = certificatesDirectory.appendingPathComponent(host)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        tls.additionalTrustRoots = files.filter { $0.hasSuffix(".crt") }.sorted()
            .map { .file(directory.appendingPathComponent($0).path) }
        configuration.tlsConfiguration = tls
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func get(_ url: String, client: HTTPClient, authorization: String?) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(
            name: "Accept",
            value: [
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
            ].joined(separator: ", "))
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
        let body = try await response.body.collect(upTo: 4 << 20)
        return Response(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// The `Authorization` value a challenge asks for: Basic with the login, or a Bearer token
    /// from the realm it names (anonymous when the node has no login).
    func authorize(_ challenge: String, login: RegistryCredentials.Login?, client: HTTPClient) async throws -> String? {
        let scheme = challenge.prefix { $0 != " " }.lowercased()
        let basic = login.map { "Basic " + Data("\($0.username):\($0.password)".utf8).base64EncodedString() }
        if scheme == "basic" { return basic }
        guard scheme == "bearer" else { return nil }
        let parameters = Self.challengeParameters(challenge)
        guard let realm = parameters["realm"], var components = URLComponents(string: realm) else { return nil }
        components.queryItems = ["service", "scope"].compactMap { key in
            parameters[key].map { URLQueryItem(name: key, value: $0) }
        }
        guard let tokenURL = components.url?.absoluteString else { return nil }
        var request = HTTPClientRequest(url: tokenURL)
        if let basic { request.headers.add(name: "Authorization", value: basic) }
        let response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok,
            let object = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)).objectValue,
            let token = object["token"]?.stringValue ?? object["access_token"]?.stringValue
        else { return nil }
        return "Bearer \(token)"
    }

    /// `Bearer realm="…",service="…"` → its quoted parameters.
    static func challengeParameters(_ challenge: String) -> [String: String] {
        var parameters: [String: String] = [:]
        let rest = challenge.drop { $0 != " " }
        let pattern = /([A-Za-z]+)="([^"]*)"/
        for match in rest.matches(of: pattern) { parameters[String(match.1).lowercased()] = String(match.2) }
        return parameters
    }

    static func refusal(_ response: Response, hadCredentials: Bool) -> Answer {
        let (code, message) = registryError(response.body, fallback: "UNAUTHORIZED")
        return .unauthorized(code: code, message: message, hadCredentials: hadCredentials)
    }

    /// The first `{"errors": [{"code", "message"}]}` entry of a registry's answer.
    static func registryError(_ body: String, fallback: String) -> (code: String, message: String) {
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)).objectValue,
            let first = object["errors"]?.arrayValue?.first?.objectValue
        else { return (fallback, body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200).description) }
        return (first["code"]?.stringValue ?? fallback, first["message"]?.stringValue ?? "")
    }

    /// A transport error in words.
    static func describe(_ error: any Error) -> String {
        if let failure = error as? NIOConnectionError {
            let refused = failure.connectionErrors.contains {
                ($0.error as? IOError)?.errnoCode == ECONNREFUSED
            }
            if refused { return "connection refused" }
            if failure.connectionErrors.isEmpty { return "the name does not resolve" }
        }
        if case ChannelError.connectTimeout = error { return "timed out" }
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("handshakeFailed") || text.contains("certificate") { return "TLS failed: \(text.prefix(200))" }
        if text.contains("NXDOMAIN") || text.contains("lookup") || text.contains("resolve") {
            return "the name does not resolve"
        }
        return text.prefix(200).description
    }
}
