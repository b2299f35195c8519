import CCCICore
import CCCISwarm
import CCCISystem
import Foundation

/// Health over the ingress by domain (SPEC F-HEALTH): an HTTPS request for the app's domain, with
/// the certificate verified, answering one of the accepted statuses. The lab ingress' own answers
/// (no route, no port label) and a missing or wrong certificate are failures.
public struct HealthChecker: Sendable {
    public let probe: HTTPSProbe

    public init(probe: HTTPSProbe) {
        self.probe = probe
    }

    /// One observation.
    public struct Result: Sendable, Hashable {
        public let healthy: Bool
        public let status: Int?
        /// Why it is not healthy (or what answered).
        public let detail: String
    }

    /// Requests `path` once with `client`.
    public func check(client: HTTPSProbe.Client, domain: String, path: String, accepted: [Int]) async -> Result {
        do {
            let response = try await client.get(domain: domain, path: path, timeout: .seconds(10))
            if response.isIngressOwnAnswer {
                return Result(
                    healthy: false, status: response.status,
                    detail:
                        "the ingress answered \(response.status) itself (\(response.header(HTTPSProbe.ingressAnswerHeader) ?? "no route")): "
                        + response.body.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if accepted.contains(response.status) {
                return Result(healthy: true, status: response.status, detail: "\(response.status)")
            }
            let body = response.body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
            return Result(
                healthy: false, status: response.status,
                detail:
                    "answered \(response.status), accepted \(accepted.map(String.init).joined(separator: ", "))\(body.isEmpty ? "" : ": \(body)")"
            )
        } catch {
            return Result(healthy: false, status: nil, detail: "\(error)")
        }
    }

    /// Polls until the app answers healthily or `timeout` passes (checks every 50 ms growing to
    /// 200 ms: the app becomes reachable the moment swarm puts its task in the service's DNS, and
    /// a request through the ingress costs little; never a fixed long sleep).
    @discardableResult
    public func waitHealthy(domain: String, path: String, accepted: [Int], timeout: Duration) async throws -> Result {
        try await probe.withClient(domains: [domain]) { client in
            var last: Result?
            let healthy = try await poll(
                until: { () async -> Result? in
                    let result = await check(client: client, domain: domain, path: path, accepted: accepted)
                    last = result
                    return result.healthy ? result : nil
                }, timeout: timeout, backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(200)))
            guard let healthy else { throw HealthError(domain: domain, path: path, timeout: timeout, last: last!) }
            return healthy
        }
    }
}

/// An app that did not answer healthily in time.
public struct HealthError: Error, Sendable, CustomStringConvertible {
    public let domain: String
    public let path: String
    public let timeout: Duration
    public let last: HealthChecker.Result

    public var description: String {
        "https://\(domain)\(path) was not healthy within \(DurationText.format(timeout)): \(last.detail)"
    }
}
