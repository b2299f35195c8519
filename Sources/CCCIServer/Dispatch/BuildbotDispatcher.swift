import AsyncHTTPClient
import CCCICore
import CCCIStore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Buildbot (SPEC F-ENGINE): a job is a build forced on the builder through its force scheduler's
/// JSON-RPC call (`POST /api/v2/forceschedulers/<scheduler>`, method `force`) with the job's
/// recipe, pull request, head, stages, quick lane and id as properties — the shipped
/// `deploy/buildbot/master.cfg` turns them into `ccci run … --job-id`. Its handle is the build
/// request's id; cancelling cancels the request when no worker has claimed it, else stops its
/// build (Buildbot sends the step SIGTERM, waits `sigtermTime`, then SIGKILL).
public final class BuildbotDispatcher: Dispatcher {
    public var name: String { "buildbot" }
    /// `http://master:8010` (no trailing slash).
    let base: String
    let scheduler: String
    let builder: String
    /// `user:password` for HTTP basic authentication, when the master asks for it.
    let credentials: SecretValue?
    let client: HTTPClient
    private let builderID = Mutex<Int?>(nil)

    public init(base: String, scheduler: String, builder: String, credentials: SecretValue?, client: HTTPClient) {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.base = trimmed
        self.scheduler = scheduler
        self.builder = builder
        self.credentials = credentials
        self.client = client
    }

    public func dispatch(_ job: Job) async throws -> String {
        let builderID = try await self.builderID()
        let result = try await rpc(
            "/api/v2/forceschedulers/\(scheduler)", method: "force",
            params: [
                "builderid": "\(builderID)",
                "reason": "!testme by \(job.requester) on \(job.repository)#\(job.pr)",
                "owner": "ccci",
                "recipe": job.recipe, "pr": "\(job.pr)", "ref": job.headSHA, "job_id": "\(job.number)",
                "stages": job.stages ?? "", "quick": job.quick ? "yes" : "",
            ], operation: "force a build of job \(job.number)")
        // `[buildset id, {builder id: build request id}]`.
        guard let pair = result as? [Any], pair.count == 2, let requests = pair[1] as? [String: Any],
            let request = requests.values.first.flatMap({ ($0 as? Int) ?? ($0 as? NSNumber)?.intValue })
        else {
            throw DispatchError(
                engine: name, operation: "force", reason: "an answer without a build request: \(result)")
        }
        return "\(request)"
    }

    public func cancel(_ job: Job, reason: String) async throws {
        guard let handle = job.dispatchRef, let request = Int(handle) else { return }
        let answer = try await get("/api/v2/buildrequests/\(request)", operation: "read build request \(request)")
        guard let state = (answer["buildrequests"] as? [[String: Any]])?.first else { return }
        if state["complete"] as? Bool == true { return }
        if state["claimed"] as? Bool != true {
            do {
                _ = try await rpc(
                    "/api/v2/buildrequests/\(request)", method: "cancel", params: ["reason": reason],
                    operation: "cancel build request \(request)")
                return
            } catch {
                // Claimed in the meantime: its build is stopped below.
            }
        }
        let builds = try await get("/api/v2/buildrequests/\(request)/builds", operation: "read its builds")
        for build in (builds["builds"] as? [[String: Any]]) ?? [] where build["complete"] as? Bool != true {
            guard let id = (build["buildid"] as? Int) ?? (build["buildid"] as? NSNumber)?.intValue else { continue }
            _ = try await rpc(
                "/api/v2/builds/\(id)", method: "stop", params: ["reason": reason], operation: "stop build \(id)")
        }
    }

    /// The builder's id (asked once).
    func builderID() async throws -> Int {
        if let known = builderID.withLock({ $0 }) { return known }
        let answer = try await get("/api/v2/builders?name=\(builder)", operation: "find builder \(builder)")
        guard let first = (answer["builders"] as? [[String: Any]])?.first,
            let id = (first["builderid"] as? Int) ?? (first["builderid"] as? NSNumber)?.intValue
        else {
            throw DispatchError(
                engine: name, operation: "find builder \(builder)",
                reason: "the master has no builder named \(builder) — check `[dispatch] builder` and master.cfg")
        }
        builderID.withLock { $0 = id }
        return id
    }

    func get(_ path: String, operation: String) async throws -> [String: Any] {
        let body = try await send(.GET, path, body: nil, operation: operation)
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw DispatchError(engine: name, operation: operation, reason: "an answer that is not a JSON object")
        }
        return object
    }

    /// A JSON-RPC call on a data path (`force`, `cancel`, `stop`); returns its `result`.
    func rpc(_ path: String, method: String, params: [String: Any], operation: String) async throws -> Any {
        let request: [String: Any] = ["jsonrpc": "2.0", "id": 1, "method": method, "params": params]
        let body = try await send(
            .POST, path, body: try JSONSerialization.data(withJSONObject: request), operation: operation)
        guard let answer = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw DispatchError(engine: name, operation: operation, reason: "an answer that is not JSON-RPC")
        }
        if let error = answer["error"] as? [String: Any] {
            throw DispatchError(
                engine: name, operation: operation, reason: "\(error["message"] ?? "an error") (JSON-RPC)")
        }
        return answer["result"] ?? NSNull()
    }

    func send(_ method: HTTPMethod, _ path: String, body: Data?, operation: String) async throws -> Data {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "cc-ci/\(CCCIVersion.current)")
        if let credentials {
            request.headers.add(
                name: "Authorization", value: "Basic " + Data(credentials.reveal().utf8).base64EncodedString())
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response: HTTPClientResponse
        let data: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(10))
            data = try await response.body.collect(upTo: 4 << 20)
        } catch {
            throw DispatchError(
                engine: name, operation: operation,
                reason:
                    "\(method.rawValue) \(base + path) did not answer (\(ForgeHTTP.describe(error))) — is the master up?"
            )
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let hint =
                [401, 403].contains(Int(response.status.code))
                ? " — check `[dispatch] token_file` (user:password) against the master's auth" : ""
            throw DispatchError(
                engine: name, operation: operation,
                reason: "\(method.rawValue) \(base + path) answered \(response.status.code)"
                    + " \(String(buffer: data).prefix(200))\(hint)")
        }
        return Data(buffer: data)
    }
}
