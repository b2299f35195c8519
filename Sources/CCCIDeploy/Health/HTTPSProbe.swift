import AsyncHTTPClient
import CCCICore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// Requests to apps by their domain, the way a user's browser reaches them (SPEC F-HEALTH).
///
/// In the lab, `https://<domain>` is sent to the ingress on 127.0.0.1 without touching DNS or
/// `/etc/hosts` (the client's DNS override keeps SNI and certificate checks intact) and the
/// certificate must verify against the lab CA. In production the real DNS and the system trust
/// store are used. Certificates are always verified.
public struct HTTPSProbe: Sendable {
    /// Where requests go.
    public enum Target: Sendable, Hashable {
        /// The lab ingress: connect to `address`, verify with the CA at `caCertificate`.
        case lab(address: String, caCertificate: URL)
        /// Real DNS and the system trust store.
        case production
    }

    /// One answer.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: String

        /// The value of a header (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        /// Whether this is the lab ingress answering for itself (no route, no port label).
        public var isIngressOwnAnswer: Bool { header(HTTPSProbe.ingressAnswerHeader) != nil }
    }

    public let target: Target

    /// The header the lab ingress sets on the answers it gives itself (no route, no port label):
    /// such an answer is never the app's.
    public static let ingressAnswerHeader = "X-CCCI-Ingress"

    public init(target: Target) {
        self.target = target
    }

    /// `curl --resolve` value for `domain` (nil in production).
    public func curlResolve(for domain: String) -> String? {
        if case .lab(let address, _) = target { return "\(domain):443:\(address)" }
        return nil
    }

    /// The CA file clients must trust (nil in production).
    public var caCertificate: URL? {
        if case .lab(_, let ca) = target { return ca }
        return nil
    }

    /// Runs `body` with a client that reaches `domains` the way this probe's target says.
    public func withClient<T: Sendable>(
        domains: [String], _ body: (Client) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if case .lab(let address, let ca) = target {
            guard FileManager.default.fileExists(atPath: ca.path) else { throw ProbeError.missingCA(ca.path) }
            tls.trustRoots = .file(ca.path)
            configuration.dnsOverride = Dictionary(
                domains.map { ($0, address) }, uniquingKeysWith: { first, _ in first })
        }
        configuration.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(Client(client: client, target: target))
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// A client bound to a probe's configuration.
    public struct Client: Sendable {
        let client: HTTPClient

        /// `GET https://<domain><path>`.
        let target: Target

        /// `GET https://<domain><path>`. Errors name the URL and say what went wrong in words
        /// (a certificate that does not verify, a refused connection), not in NIO's terms.
        public func get(domain: String, path: String, timeout: Duration = .seconds(15)) async throws -> Response {
            let url = "https://\(domain)\(path.hasPrefix("/") ? path : "/" + path)"
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .GET
                let response = try await client.execute(
                    request, timeout: .milliseconds(Int64(timeout.seconds * 1000)))
                let buffer = try await response.body.collect(upTo: 8 << 20)
                return Response(
                    status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                    body: String(buffer: buffer))
            } catch let error as CancellationError {
                throw error
            } catch {
                throw ProbeError.requestFailed(
                    url: url, reason: ProbeError.explain(error, target: target, timeout: timeout))
            }
        }
    }

    /// A single `GET https://<domain><path>`.
    public func get(domain: String, path: String = "/", timeout: Duration = .seconds(15)) async throws -> Response {
        try await withClient(domains: [domain]) { try await $0.get(domain: domain, path: path, timeout: timeout) }
    }
}

/// A probe that cannot be made.
public enum ProbeError: Error, Sendable, CustomStringConvertible {
    case missingCA(String)
    case requestFailed(url: String, reason: String)

    public var description: String {
        switch self {
        case .missingCA(let path):
            return "the lab CA certificate \(path) does not exist — is the lab ingress up? (`scripts/lab up`)"
        case .requestFailed(let url, let reason):
            return "GET \(url): \(reason)"
        }
    }

    /// A request error in words a recipe maintainer can act on.
    static func explain(_ error: any Error, target: HTTPSProbe.Target, timeout: Duration) -> String {
        let text = String(describing: error)
        let verifyingAgainst: String
        switch target {
        case .lab(_, let ca): verifyingAgainst = "the lab CA (\(ca.path))"
        case .production: verifyingAgainst = "the system's trusted CAs"
        }
        if error is NIOSSLError || text.contains("handshake") || text.contains("CERTIFICATE")
            || text.contains("certificate")
        {
            return "the TLS handshake failed: the certificate served for this domain does not verify against "
                + "\(verifyingAgainst) — the ingress has no certificate for it (no route for the domain?) "
                + "[\(text.prefix(160))]"
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .readTimeout, .deadlineExceeded:
                return "no answer within \(DurationText.format(timeout))"
            case .connectTimeout:
                return "the connection timed out — is the ingress listening on port 443?"
            case .remoteConnectionClosed:
                return "the server closed the connection before answering"
            default:
                break
            }
        }
        if text.contains("Connection refused") || text.contains("connectionRefused") || text.contains("ECONNREFUSED") {
            return "the connection was refused — is the ingress up and listening on port 443?"
        }
        return "the request failed: \(text.prefix(200))"
    }
}
