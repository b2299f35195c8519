import CCCICore
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// `POST /hooks/forge`: the forge's webhooks (``Bridge``).
///
/// Nothing unsigned is read: a delivery without a well-formed signature header is 401 before its
/// body. Bodies are read up to ``bodyLimit`` (larger: 413), by at most ``concurrentBodies`` requests
/// at once (beyond: 503 with `Retry-After` — a flood of large forged bodies cannot fill the
/// memory), each within ``bodyTimeout`` (a body trickled in: 408); the bridge then verifies the
/// signature before it parses a byte. Nothing a delivery contains can make the handler throw:
/// every outcome is an answer.
struct HookRoutes {
    /// The largest webhook body accepted (1 MiB).
    static let bodyLimit = 1 << 20
    /// Bodies read at once.
    static let concurrentBodies = 32
    /// The time a body may take to arrive.
    static let bodyTimeout: Duration = .seconds(10)

    let bridge: Bridge
    let metrics: ServerMetrics
    let reading = Counter()

    /// How many bodies are being read.
    final class Counter: Sendable {
        let value = Mutex(0)
    }

    func addRoutes(to router: Router<ServerContext>) {
        router.post("/hooks/forge") { request, context in
            let response = await receive(request, context: context)
            metrics.webhook(status: Int(response.status.code))
            return response
        }
    }

    func receive(_ request: Request, context: ServerContext) async -> Response {
        let signature = request.headers[.forgejoSignature] ?? request.headers[.giteaSignature]
        guard let signature, GiteaForge.isWellFormed(signature: signature) else {
            bridge.logger.warning(
                "webhook rejected",
                metadata: [
                    "http.status": "401",
                    "webhook.reason": "\(signature == nil ? WebhookError.unsigned : WebhookError.badSignature)",
                ])
            return .text(
                .unauthorized,
                signature == nil ? WebhookError.unsigned.description : WebhookError.badSignature.description)
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.bodyLimit {
            return .text(.contentTooLarge, "the body is larger than \(Self.bodyLimit) bytes")
        }
        let admitted = reading.value.withLock { count in
            guard count < Self.concurrentBodies else { return false }
            count += 1
            return true
        }
        guard admitted else {
            var response = Response.text(.serviceUnavailable, "too many webhook bodies are being read; try again")
            response.headers[.retryAfter] = "5"
            return response
        }
        defer { reading.value.withLock { $0 -= 1 } }
        let body: ByteBuffer
        switch await Self.collect(request.body, limit: Self.bodyLimit, within: Self.bodyTimeout) {
        case .success(let buffer): body = buffer
        case .failure(.tooLarge): return .text(.contentTooLarge, "the body is larger than \(Self.bodyLimit) bytes")
        case .failure(.tooSlow):
            // The rest of a trickled body would hold the connection: it is closed.
            context.channel.close(promise: nil)
            return .text(.requestTimeout, "the body did not arrive within \(Self.bodyTimeout)")
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            headers[field.name.canonicalName] = field.value
        }
        let answer = await bridge.handle(WebhookDelivery(headers: headers, body: Array(buffer: body)))
        return .text(HTTPResponse.Status(code: answer.status), answer.message)
    }

    enum BodyError: Error {
        case tooLarge
        case tooSlow
    }

    /// The body, up to `limit` bytes, within `timeout`.
    static func collect(
        _ body: RequestBody, limit: Int, within timeout: Duration
    ) async -> Result<ByteBuffer, BodyError> {
        await withTaskGroup(of: Result<ByteBuffer, BodyError>?.self) { group in
            group.addTask {
                do {
                    return .success(try await body.collect(upTo: limit))
                } catch {
                    return Task.isCancelled ? nil : .failure(.tooLarge)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(.tooSlow)
            }
            defer { group.cancelAll() }
            while let result = await group.next() {
                if let result { return result }
            }
            return .failure(.tooSlow)
        }
    }
}

extension HTTPField.Name {
    static let giteaSignature = Self("X-Gitea-Signature")!
    static let forgejoSignature = Self("X-Forgejo-Signature")!
}
