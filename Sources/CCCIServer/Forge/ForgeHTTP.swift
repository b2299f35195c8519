import AsyncHTTPClient
import CCCICore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// How forge API calls are retried: 5xx answers and 429 are tried again after a growing delay,
/// at most ``attempts`` times in all — and transport failures (refused connections, time-outs)
/// too when ``retriesTransportErrors``; any other answer is final.
///
/// `ccci serve` retries no transport failure: a refused connection or a time-out fails the call
/// at once, and what needed the forge waits in the store (the outbox, a waiting `!testme`) to be
/// tried again with backoff — a webhook is never held for the forge's outage.
public struct RetryPolicy: Sendable, Hashable {
    public var attempts: Int
    public var firstDelay: Duration
    public var maximumDelay: Duration
    /// The time limit of one attempt.
    public var timeout: Duration
    /// Whether a refused connection or a time-out is tried again.
    public var retriesTransportErrors: Bool

    public init(
        attempts: Int = 4, firstDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(8),
        timeout: Duration = .seconds(10), retriesTransportErrors: Bool = true
    ) {
        self.attempts = max(1, attempts)
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
        self.timeout = timeout
        self.retriesTransportErrors = retriesTransportErrors
    }

    /// `ccci serve`'s: one more try of a 5xx after a quarter second, four seconds per attempt (a
    /// forge gives its webhooks five), no retry of a refused connection or a time-out.
    public static let serve = RetryPolicy(
        attempts: 2, firstDelay: .milliseconds(250), maximumDelay: .seconds(1), timeout: .seconds(4),
        retriesTransportErrors: false)

    /// The delay before attempt `attempt + 1`: doubling from ``firstDelay``, capped at
    /// ``maximumDelay``, with ±20 % jitter so that retries of several calls do not march in step.
    public func delay(after attempt: Int) -> Duration {
        let doubled = firstDelay * Double(1 << min(max(attempt - 1, 0), 16))
        let capped = min(doubled, maximumDelay)
        return capped * Double.random(in: 0.8...1.2)
    }

    /// Whether an answer with `status` is worth trying again.
    public static func isRetryable(status: Int) -> Bool {
        status >= 500 || status == 429 || status == 408
    }
}

/// JSON over HTTP to a forge's API, with the token in the `Authorization` header and the retry
/// policy applied. Never logs the token or request bodies.
struct ForgeHTTP: Sendable {
    /// `https://forge.example/api/v1`.
    let apiBase: String
    let token: SecretValue
    let policy: RetryPolicy
    let client: HTTPClient
    let logger: Logger
    /// Said with a 401/403: where the token comes from.
    let tokenHint: String

    /// The answer to a call that succeeded (2xx).
    struct Answer {
        let status: Int
        let body: Data
    }

    /// Sends `method path` with an optional JSON body; returns a 2xx answer, throws
    /// ``ForgeError`` for any other final outcome. `accept` lists non-2xx statuses that are
    /// answers too (a 404 that means "no such user").
    func send(
        _ method: HTTPMethod, _ path: String, json: [String: String]? = nil, operation: String, accept: Set<Int> = []
    ) async throws -> Answer {
        let url = apiBase + path
        let requestText = "\(method.rawValue) \(url)"
        let payload = try json.map { try JSONCoding.compactEncoder.encode($0) }
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Authorization", value: "token \(token.reveal())")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "cc-ci/\(CCCIVersion.current)")
            if let payload {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: payload))
            }
            var failure: (status: Int?, reason: String) = (nil, "")
            do {
                let response = try await client.execute(request, timeout: .nanoseconds(policy.timeout.nanoseconds))
                let body = try await response.body.collect(upTo: 8 << 20)
                let status = Int(response.status.code)
                if (200..<300).contains(status) || accept.contains(status) {
                    return Answer(status: status, body: Data(buffer: body))
                }
                failure = (status, Self.message(in: body) ?? response.status.reasonPhrase)
                guard RetryPolicy.isRetryable(status: status) else {
                    throw ForgeError(
                        operation: operation, request: requestText, status: status, reason: failure.reason,
                        attempts: attempt, hint: hint(for: status))
                }
            } catch let error as ForgeError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failure = (nil, Self.describe(error))
            }
            guard attempt < policy.attempts, !Task.isCancelled, failure.status != nil || policy.retriesTransportErrors
            else {
                throw ForgeError(
                    operation: operation, request: requestText, status: failure.status, reason: failure.reason,
                    attempts: attempt, hint: hint(for: failure.status))
            }
            let delay = policy.delay(after: attempt)
            logger.notice(
                "forge call failed, retrying",
                metadata: [
                    "forge.request": "\(requestText)", "forge.attempt": "\(attempt)",
                    "forge.status": "\(failure.status.map { "\($0)" } ?? "none")", "forge.error": "\(failure.reason)",
                    "forge.retry_in": "\(DurationText.format(delay))",
                ])
            try await Task.sleep(for: delay)
        }
    }

    private func hint(for status: Int?) -> String? {
        switch status {
        case 401?, 403?:
            return "check the API token (\(tokenHint)): it must be valid and may write issues and commit statuses"
        case 404?:
            return "check that the repository and number exist and that the token's user can see them"
        case nil:
            return "the forge did not answer in time or is down"
        case let code? where code >= 500:
            return "the forge did not answer in time or is down"
        default:
            return nil
        }
    }

    /// The `message` of a Gitea-style error body, cut short.
    static func message(in body: ByteBuffer) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
            let message = object["message"] as? String, !message.isEmpty
        else { return nil }
        return String(message.prefix(200))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: return "timed out"
            case .remoteConnectionClosed: return "the forge closed the connection"
            default: return "\(error)"
            }
        }
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.isEmpty
                ? "\(error)" : "cannot connect: \(error.connectionErrors.map { "\($0.error)" }.joined(separator: "; "))"
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return "connection refused"
        }
        return "\(error)"
    }
}

extension Duration {
    /// The whole duration in nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
