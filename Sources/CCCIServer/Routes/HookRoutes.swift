import Hummingbird
import NIOCore

/// `POST /hooks/forge`: the forge's webhooks (``Bridge``).
///
/// The body is read up to ``bodyLimit`` (larger: 413) before anything else; the bridge then
/// verifies the signature before it parses a byte. Nothing a delivery contains can make the
/// handler throw: every outcome is an answer.
struct HookRoutes {
    /// The largest webhook body accepted (1 MiB).
    static let bodyLimit = 1 << 20

    let bridge: Bridge
    let metrics: ServerMetrics

    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/hooks/forge") { request, _ in
            let response = await receive(request)
            metrics.webhook(status: Int(response.status.code))
            return response
        }
    }

    func receive(_ request: Request) async -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.bodyLimit {
            return .text(.contentTooLarge, "the body is larger than \(Self.bodyLimit) bytes")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.bodyLimit)
        } catch {
            return .text(.contentTooLarge, "the body is larger than \(Self.bodyLimit) bytes")
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            headers[field.name.canonicalName] = field.value
        }
        let answer = await bridge.handle(WebhookDelivery(headers: headers, body: Array(buffer: body)))
        return .text(HTTPResponse.Status(code: answer.status), answer.message)
    }
}
