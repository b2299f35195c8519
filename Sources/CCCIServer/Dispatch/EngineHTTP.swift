import AsyncHTTPClient
import CCCICore
import Foundation
import NIOCore
import NIOHTTP1

/// JSON over HTTP to a CI engine's API: its credentials in the `Authorization` header (never
/// logged), one attempt per call (what was not handed over stays queued and is asked again), and
/// every failure a ``DispatchError`` naming the call and what to check.
struct EngineHTTP: Sendable {
    let engine: String
    /// The engine's address, without a trailing slash.
    let base: String
    /// The `Authorization` header's value, when the engine wants one.
    let authorization: SecretValue?
    /// Which configuration key holds the credentials (said with a 401/403).
    let credentialsKey: String
    let client: HTTPClient

    init(engine: String, base: String, authorization: SecretValue?, client: HTTPClient) {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.engine = engine
        self.base = trimmed
        self.authorization = authorization
        self.credentialsKey = "[dispatch] token_file"
        self.client = client
    }

    /// Sends `method path` with an optional JSON body; returns the 2xx answer's status and body.
    func send(
        _ method: HTTPMethod, _ path: String, json: Data? = nil, operation: String
    ) async throws -> (
        status: Int, body: Data
    ) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "cc-ci/\(CCCIVersion.current)")
        if let authorization { request.headers.add(name: "Authorization", value: authorization.reveal()) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: json))
        }
        let call = "\(method.rawValue) \(base)\(path.split(separator: "?").first.map(String.init) ?? path)"
        let response: HTTPClientResponse
        let data: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(10))
            data = try await response.body.collect(upTo: 4 << 20)
        } catch {
            throw DispatchError(
                engine: engine, operation: operation,
                reason: "\(call) did not answer (\(ForgeHTTP.describe(error))) — is \(engine) up at \(base)?")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let hint =
                [401, 403].contains(status) ? " — check the credentials in the file \(credentialsKey) names" : ""
            throw DispatchError(
                engine: engine, operation: operation,
                reason: "\(call) answered \(status) \(String(buffer: data).prefix(200))\(hint)")
        }
        return (status, Data(buffer: data))
    }

    /// ``send(_:_:json:operation:)`` whose answer is a JSON object.
    func object(
        _ method: HTTPMethod, _ path: String, json: Data? = nil, operation: String
    ) async throws
        -> [String: Any]
    {
        let answer = try await send(method, path, json: json, operation: operation)
        guard let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any] else {
            throw DispatchError(engine: engine, operation: operation, reason: "an answer that is not a JSON object")
        }
        return object
    }

    /// An integer field of a JSON answer (JSON numbers arrive as `Int` or `NSNumber`).
    static func integer(_ value: Any?) -> Int? {
        (value as? Int) ?? (value as? NSNumber)?.intValue
    }
}
