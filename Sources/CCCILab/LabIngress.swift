import AsyncHTTPClient
import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The lab's ingress: a caddy swarm service that routes `Host(domain)` to services the way
/// traefik does on a Co-op Cloud server, configured from the same labels (SPEC §3).
///
/// ``sync()`` reads every swarm service with `traefik.enable=true`, turns its routers into caddy
/// routes to `tasks.<service>:<port>` (task IPs: VIPs do not route on this kernel), and loads the
/// whole configuration through caddy's admin API on a unix socket. Syncs are serialised across
/// processes by a lock file so that two runs deploying at once cannot overwrite each other's
/// routes. Unmatched hosts get the ingress' own 404 (with `X-CCCI-Ingress: no-route`), and HTTPS
/// for a host without a route fails the TLS handshake — neither ever passes a health check.
public struct LabIngress: Sendable {
    /// The admin socket path inside the ingress container.
    public static let containerAdminSocket = "/admin/caddy.sock"
    /// Marks the ingress' own answers.
    public static let noRouteHeader = HTTPSProbe.ingressAnswerHeader

    public let engine: DockerEngine
    public let adminSocket: URL
    public let lockFile: URL

    public init(engine: DockerEngine, adminSocket: URL, lockFile: URL) {
        self.engine = engine
        self.adminSocket = adminSocket
        self.lockFile = lockFile
    }

    /// One route of the ingress.
    public struct Route: Sendable, Hashable, Codable {
        public let host: String
        public let pathPrefix: String?
        /// The swarm service and router that asked for it.
        public let service: String
        public let router: String
        /// `tasks.<service>:<port>`, or `nil` when the router has no port label.
        public let upstream: String?
        public let priority: Int

        public init(
            host: String, pathPrefix: String?, service: String, router: String, upstream: String?, priority: Int
        ) {
            self.host = host
            self.pathPrefix = pathPrefix
            self.service = service
            self.router = router
            self.upstream = upstream
            self.priority = priority
        }
    }

    /// The routes the swarm's services ask for, most specific first.
    public func desiredRoutes() async throws -> [Route] {
        var routes: [Route] = []
        for service in try await engine.services(labels: ["traefik.enable"]) {
            for route in TraefikRoute.routes(service: service.name, labels: service.labels) {
                for host in route.hosts {
                    routes.append(
                        Route(
                            host: host.lowercased(), pathPrefix: route.pathPrefix, service: service.name,
                            router: route.router, upstream: route.port.map { "tasks.\(service.name):\($0)" },
                            priority: route.priority ?? 0))
                }
            }
        }
        return routes.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if (a.pathPrefix?.count ?? 0) != (b.pathPrefix?.count ?? 0) {
                return (a.pathPrefix?.count ?? 0) > (b.pathPrefix?.count ?? 0)
            }
            return (a.host, a.service, a.router) < (b.host, b.service, b.router)
        }
    }

    /// Makes caddy route exactly what the swarm asks for now. Returns the routes loaded.
    @discardableResult
    public func syncRoutes() async throws -> [Route] {
        let lock = try await FileLock.acquire(lockFile)
        defer { lock.release() }
        let routes = try await desiredRoutes()
        try await load(Self.configuration(routes: routes))
        return routes
    }

    /// The caddy JSON configuration for `routes`.
    public static func configuration(routes: [Route]) -> JSONValue {
        var caddyRoutes: [JSONValue] = routes.map { route in
            var match: [String: JSONValue] = ["host": .array([.string(route.host)])]
            if let prefix = route.pathPrefix {
                let base = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
                match["path"] = .array([.string(base), .string(base + "/*")])
            }
            let handler: JSONValue
            if let upstream = route.upstream {
                handler = .object([
                    "handler": "reverse_proxy",
                    "upstreams": .array([.object(["dial": .string(upstream)])]),
                ])
            } else {
                handler = .object([
                    "handler": "static_response", "status_code": .int(502),
                    "headers": .object([noRouteHeader: .array(["no-port"])]),
                    "body": .string(
                        "ccci-lab ingress: router \(route.router) of service \(route.service) has no traefik.http.services.<name>.loadbalancer.server.port label\n"
                    ),
                ])
            }
            return .object(["match": .array([.object(match)]), "handle": .array([handler]), "terminal": .bool(true)])
        }
        caddyRoutes.append(
            .object([
                "handle": .array([
                    .object([
                        "handler": "static_response", "status_code": .int(404),
                        "headers": .object([noRouteHeader: .array(["no-route"])]),
                        "body": "ccci-lab ingress: no route for this host\n",
                    ])
                ])
            ]))
        return .object([
            "admin": .object(["listen": .string("unix/\(containerAdminSocket)"), "origins": .array(["localhost"])]),
            "apps": .object([
                "http": .object([
                    "servers": .object([
                        "ingress": .object([
                            "listen": .array([":443", ":80"]),
                            "routes": .array(caddyRoutes),
                        ])
                    ])
                ]),
                "tls": .object([
                    "automation": .object([
                        "policies": .array([.object(["issuers": .array([.object(["module": "internal"])])])])
                    ])
                ]),
                "pki": .object(["certificate_authorities": .object(["local": .object(["install_trust": .bool(false)])])]
                ),
            ]),
        ])
    }

    /// Posts a configuration to caddy's `/load`.
    func load(_ configuration: JSONValue) async throws {
        let (status, body) = try await admin(.POST, "/load", body: try JSONCoding.compactEncoder.encode(configuration))
        guard (200..<300).contains(status) else {
            throw IngressError.adminRejected(status: status, message: body)
        }
    }

    /// Whether caddy's admin API answers.
    public func isReady() async -> Bool {
        guard let (status, _) = try? await admin(.GET, "/config/", body: nil) else { return false }
        return status == 200
    }

    /// The configuration caddy runs now.
    public func currentConfiguration() async throws -> JSONValue {
        let (status, body) = try await admin(.GET, "/config/", body: nil)
        guard status == 200 else { throw IngressError.adminRejected(status: status, message: body) }
        return try JSONCoding.decoder.decode(JSONValue.self, from: Data(body.utf8))
    }

    private func admin(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> (Int, String) {
        guard FileManager.default.fileExists(atPath: adminSocket.path),
            let url = URL(httpURLWithSocketPath: adminSocket.path, uri: path)
        else { throw IngressError.notRunning(adminSocket.path) }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers.replaceOrAdd(name: "Host", value: "localhost")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let buffer = try await response.body.collect(upTo: 16 << 20)
            return (Int(response.status.code), String(buffer: buffer))
        } catch {
            throw IngressError.notRunning("\(adminSocket.path) (\(error))")
        }
    }
}

/// The lab ingress is missing or refused a configuration.
public enum IngressError: Error, Sendable, CustomStringConvertible {
    case notRunning(String)
    case adminRejected(status: Int, message: String)

    public var description: String {
        switch self {
        case .notRunning(let socket):
            return "the lab ingress is not running (no admin API at \(socket)) — run `scripts/lab up`"
        case .adminRejected(let status, let message):
            return "the lab ingress refused its configuration (\(status)): \(message.prefix(500))"
        }
    }
}

extension LabIngress: IngressSync {
    /// Resyncs the routes after a deploy or a removal (the native driver calls it).
    public func sync() async throws {
        _ = try await syncRoutes()
    }
}
