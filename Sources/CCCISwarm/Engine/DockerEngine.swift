import AsyncHTTPClient
import CCCICore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The Docker Engine API over its unix socket.
///
/// The API version is negotiated once: cc-ci speaks ``preferredAPIVersion`` (Docker 20.10's) and
/// uses an older server's version only if it is at least ``minimumAPIVersion``. Create one engine
/// per process with ``connect(socketPath:logger:)`` and call ``shutdown()`` when done.
public final class DockerEngine: Sendable {
    public static let defaultSocket = "/var/run/docker.sock"
    public static let preferredAPIVersion = "1.41"
    public static let minimumAPIVersion = "1.41"

    public let socketPath: String
    /// The API version in use (`1.41`).
    public let apiVersion: String
    /// The engine's own version (`20.10.24`).
    public let engineVersion: String
    let client: HTTPClient
    let logger: Logger

    private init(socketPath: String, apiVersion: String, engineVersion: String, client: HTTPClient, logger: Logger) {
        self.socketPath = socketPath
        self.apiVersion = apiVersion
        self.engineVersion = engineVersion
        self.client = client
        self.logger = logger
    }

    /// Connects and negotiates the API version. Fails with ``EngineError/unreachable(socket:reason:)``
    /// when no engine answers on the socket. `connections`: how many requests may be open at once
    /// — a stream (events, stats) holds one for as long as it is read, and a request beyond the
    /// limit waits for one to end.
    public static func connect(
        socketPath: String = defaultSocket, logger: Logger, connections: Int = 32
    ) async throws -> DockerEngine {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(connections, 1))
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            guard let url = URL(httpURLWithSocketPath: socketPath, uri: "/version") else {
                throw EngineError.unreachable(socket: socketPath, reason: "not a usable socket path")
            }
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .GET
            request.headers.replaceOrAdd(name: "Host", value: "docker")
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                throw EngineError.unreachable(
                    socket: socketPath, reason: "GET /version answered \(response.status.code)")
            }
            let version = try JSONDecoder().decode(EngineVersion.self, from: Data(buffer: body))
            guard compareVersions(version.ApiVersion, minimumAPIVersion) >= 0 else {
                throw EngineError.tooOld(engine: version.Version, api: version.ApiVersion, needed: minimumAPIVersion)
            }
            let api =
                compareVersions(version.ApiVersion, preferredAPIVersion) >= 0 ? preferredAPIVersion : version.ApiVersion
            return DockerEngine(
                socketPath: socketPath, apiVersion: api, engineVersion: version.Version, client: client, logger: logger)
        } catch let error as EngineError {
            try? await client.shutdown()
            throw error
        } catch {
            try? await client.shutdown()
            throw EngineError.unreachable(socket: socketPath, reason: String(describing: error))
        }
    }

    /// Runs `body` with a connected engine and shuts it down afterwards.
    public static func with<T>(
        socketPath: String = defaultSocket, logger: Logger, _ body: (DockerEngine) async throws -> T
    ) async throws -> T {
        try await connect(socketPath: socketPath, logger: logger).using(body)
    }

    /// Runs `body` with this engine, then shuts it down (also when `body` throws).
    public func using<T>(_ body: (DockerEngine) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await shutdown()
            return result
        } catch {
            await shutdown()
            throw error
        }
    }

    /// Releases the HTTP client.
    public func shutdown() async {
        try? await client.shutdown()
    }

    // MARK: - Requests

    func url(_ path: String, query: [String: String] = [:]) -> String {
        var components = URLComponents()
        components.path = "/v\(apiVersion)\(path)"
        if !query.isEmpty {
            components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        }
        let uri = components.percentEncodedPath + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
        return URL(httpURLWithSocketPath: socketPath, uri: uri)!.absoluteString
    }

    /// Sends a request and returns status and body. `timeout` bounds the whole exchange.
    func send(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], json body: (any Encodable)? = nil,
        headers: [(String, String)] = [], timeout: TimeAmount = .seconds(60)
    ) async throws -> (status: HTTPResponseStatus, body: ByteBuffer) {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        // The socket path is not a valid Host; the engine rejects such requests with 400.
        request.headers.replaceOrAdd(name: "Host", value: "docker")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            let data = try JSONEncoder().encode(body)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: data))
        }
        let response = try await client.execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 256 << 20)
        return (response.status, buffer)
    }

    /// Sends a request that must succeed (2xx) and decodes the answer.
    func request<T: Decodable>(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], json body: (any Encodable)? = nil,
        as type: T.Type, timeout: TimeAmount = .seconds(60)
    ) async throws -> T {
        let (status, buffer) = try await send(method, path, query: query, json: body, timeout: timeout)
        try Self.check(status, buffer, method: method, path: path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch {
            throw EngineError.undecodable(path: path, reason: String(describing: error))
        }
    }

    /// Sends a request that must succeed (2xx); the body is ignored.
    func perform(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], json body: (any Encodable)? = nil,
        allow: Set<UInt> = [], timeout: TimeAmount = .seconds(60)
    ) async throws {
        let (status, buffer) = try await send(method, path, query: query, json: body, timeout: timeout)
        if allow.contains(status.code) { return }
        try Self.check(status, buffer, method: method, path: path)
    }

    static func check(_ status: HTTPResponseStatus, _ buffer: ByteBuffer, method: HTTPMethod, path: String) throws {
        guard (200..<300).contains(status.code) else {
            let message =
                (try? JSONDecoder().decode(EngineMessage.self, from: Data(buffer: buffer)))?.message
                ?? String(buffer: buffer)
            throw EngineError.requestFailed(
                method: method.rawValue, path: path, status: Int(status.code),
                message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Encodes a `filters` query value.
    static func filters(_ filters: [String: [String]]) -> String {
        let object = filters.mapValues { values in Dictionary(uniqueKeysWithValues: values.map { ($0, true) }) }
        let data = try! JSONEncoder().encode(object)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Compares dotted version strings numerically (`1.41` < `1.9` is false).
func compareVersions(_ lhs: String, _ rhs: String) -> Int {
    let a = lhs.split(separator: ".").map { Int($0) ?? 0 }
    let b = rhs.split(separator: ".").map { Int($0) ?? 0 }
    for index in 0..<max(a.count, b.count) {
        let x = index < a.count ? a[index] : 0
        let y = index < b.count ? b[index] : 0
        if x != y { return x < y ? -1 : 1 }
    }
    return 0
}

/// A Docker Engine request that failed.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case unreachable(socket: String, reason: String)
    case tooOld(engine: String, api: String, needed: String)
    case requestFailed(method: String, path: String, status: Int, message: String)
    case undecodable(path: String, reason: String)
    case notFound(String)

    public var description: String {
        switch self {
        case .unreachable(let socket, let reason):
            return "no Docker engine answers on \(socket) (\(reason)) — start it with `scripts/lab up` (or `dockerd`)"
        case .tooOld(let engine, let api, let needed):
            return "Docker engine \(engine) speaks API \(api); cc-ci needs \(needed) (Docker 20.10 or newer)"
        case .requestFailed(let method, let path, let status, let message):
            return "docker engine: \(method) \(path) failed (\(status)): \(message)"
        case .undecodable(let path, let reason):
            return "docker engine: cannot read the answer to \(path): \(reason)"
        case .notFound(let what):
            return "docker engine: \(what) not found"
        }
    }

    /// Whether the engine said the object does not exist.
    public var isNotFound: Bool {
        switch self {
        case .requestFailed(_, _, let status, _): return status == 404
        case .notFound: return true
        default: return false
        }
    }
}
