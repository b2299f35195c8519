import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import ServiceLifecycle
import Synchronization

/// A stand-in for a CI engine's API that cannot run here (Drone) or whose calls are checked one by
/// one (Forgejo Actions): a real HTTP server on loopback that records every request and answers
/// each with what `answer` says — the request and answer shapes of the engine's documentation.
public final class EngineStub: Sendable {
    /// One request as the stub received it.
    public struct Request: Sendable, Hashable {
        public let method: String
        public let path: String
        /// The query's items, by name.
        public let query: [String: String]
        public let authorization: String?
        public let body: Data
    }

    /// What to answer: a status and a JSON body (`nil`: none).
    public typealias Answer = @Sendable (Request) -> (status: Int, json: String?)

    private let requests = Mutex<[Request]>([])
    private let answer: Answer

    public init(answer: @escaping Answer) { self.answer = answer }

    public var received: [Request] { requests.withLock { $0 } }

    /// Runs a stub for the duration of `body`, with its base URL.
    public static func with<T: Sendable>(
        answer: @escaping Answer, _ body: @Sendable (EngineStub, String) async throws -> T
    ) async throws -> T {
        let stub = EngineStub(answer: answer)
        var logger = Logger(label: "engine-stub")
        logger.logLevel = .critical
        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .delete] {
            router.on("**", method: method) { request, _ -> Response in
                var query: [String: String] = [:]
                for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
                let body = try await request.body.collect(upTo: 1 << 20)
                let recorded = Request(
                    method: request.method.rawValue, path: request.uri.path, query: query,
                    authorization: request.headers[.authorization], body: Data(buffer: body))
                stub.requests.withLock { $0.append(recorded) }
                let (status, json) = stub.answer(recorded)
                var headers = HTTPFields()
                if json != nil { headers[.contentType] = "application/json" }
                return Response(
                    status: .init(code: status), headers: headers,
                    body: .init(byteBuffer: ByteBuffer(string: json ?? "")))
            }
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw TestSetupError("the engine stub did not start")
        }
        do {
            let result = try await body(stub, "http://127.0.0.1:\(port)")
            await group.triggerGracefulShutdown()
            _ = await task.result
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw error
        }
    }
}
