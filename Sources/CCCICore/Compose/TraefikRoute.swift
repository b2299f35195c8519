import Foundation

/// A route a service asks the ingress for with traefik labels:
/// `traefik.http.routers.<r>.rule=Host(`a`, `b`) && PathPrefix(`/x`)` and
/// `traefik.http.services.<s>.loadbalancer.server.port=<port>`.
public struct TraefikRoute: Sendable, Hashable, Codable {
    /// The compose service (or swarm service) carrying the labels.
    public let service: String
    public let router: String
    public let hosts: [String]
    public let pathPrefix: String?
    /// The backend port, `nil` when no `loadbalancer.server.port` label applies to the router.
    public let port: Int?
    public let priority: Int?

    public init(service: String, router: String, hosts: [String], pathPrefix: String?, port: Int?, priority: Int?) {
        self.service = service
        self.router = router
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.port = port
        self.priority = priority
    }

    /// The routes of one compose service.
    public static func routes(for service: ComposeService) -> [TraefikRoute] {
        routes(service: service.name, labels: service.deployLabels)
    }

    /// The routes a label set declares (`traefik.enable=true` required, as with
    /// `exposedByDefault=false`, the Co-op Cloud traefik setting).
    public static func routes(service: String, labels: [String: String]) -> [TraefikRoute] {
        guard labels["traefik.enable"]?.lowercased() == "true" else { return [] }
        let routerPrefix = "traefik.http.routers."
        let servicePrefix = "traefik.http.services."
        var ports: [String: Int] = [:]
        for (key, value) in labels where key.hasPrefix(servicePrefix) && key.hasSuffix(".loadbalancer.server.port") {
            let name = String(key.dropFirst(servicePrefix.count).dropLast(".loadbalancer.server.port".count))
            if let port = Int(value.trimmingCharacters(in: .whitespaces)) { ports[name] = port }
        }
        var routes: [TraefikRoute] = []
        for (key, rule) in labels where key.hasPrefix(routerPrefix) && key.hasSuffix(".rule") {
            let router = String(key.dropFirst(routerPrefix.count).dropLast(".rule".count))
            let hosts = matcherArguments("Host", in: rule)
            guard !hosts.isEmpty else { continue }
            let backend = labels["\(routerPrefix)\(router).service"]
            let port = backend.flatMap { ports[$0] } ?? (ports.count == 1 ? ports.values.first : nil)
            routes.append(
                TraefikRoute(
                    service: service, router: router, hosts: hosts,
                    pathPrefix: matcherArguments("PathPrefix", in: rule).first, port: port,
                    priority: labels["\(routerPrefix)\(router).priority"].flatMap { Int($0) }))
        }
        return routes.sorted { $0.router < $1.router }
    }

    /// The backtick-quoted arguments of every `Name(...)` matcher in a rule.
    static func matcherArguments(_ name: String, in rule: String) -> [String] {
        var results: [String] = []
        var remaining = Substring(rule)
        while let start = remaining.range(of: "\(name)(") {
            // `Host(` must not be the tail of `HostRegexp(` or `HostSNI(`.
            let before = remaining[..<start.lowerBound].last
            let after = remaining[start.upperBound...]
            guard let close = after.firstIndex(of: ")") else { break }
            if before == nil || !(before!.isLetter) {
                let arguments = after[..<close]
                var parts = arguments.split(separator: "`", omittingEmptySubsequences: false)
                if parts.count >= 3 {
                    parts = Array(parts.dropFirst())
                    for (index, part) in parts.enumerated() where index % 2 == 0 {
                        let text = part.trimmingCharacters(in: .whitespaces)
                        if !text.isEmpty { results.append(text) }
                    }
                }
            }
            remaining = after[after.index(after: close)...]
        }
        return results
    }
}
