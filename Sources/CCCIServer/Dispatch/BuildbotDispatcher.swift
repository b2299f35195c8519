import AsyncHTTPClient
import CCCICore
import CCCIStore
import Foundation
import Synchronization

/// Buildbot (SPEC F-ENGINE): a job is a build forced on the builder through its force scheduler's
/// JSON-RPC call (`POST /api/v2/forceschedulers/<scheduler>`, method `force`) with the job's
/// recipe, pull request, head, stages, quick lane and id as properties — the shipped
/// `deploy/buildbot/master.cfg` turns them into `ccci run … --job-id`. Its handle is the build
/// request's id; cancelling cancels the request when no worker has claimed it, else stops its
/// build (Buildbot sends the step SIGTERM, waits `sigtermTime`, then SIGKILL).
public final class BuildbotDispatcher: Dispatcher {
    public var name: String { "buildbot" }
    let http: EngineHTTP
    let scheduler: String
    let builder: String
    private let builderID = Mutex<Int?>(nil)

    /// `credentials`: `user:password` for HTTP basic authentication, when the master asks for it.
    public init(base: String, scheduler: String, builder: String, credentials: SecretValue?, client: HTTPClient) {
        http = EngineHTTP(
            engine: "buildbot", base: base,
            authorization: credentials.map { SecretValue("Basic " + Data($0.reveal().utf8).base64EncodedString()) },
            client: client)
        self.scheduler = scheduler
        self.builder = builder
    }

    public func dispatch(_ job: Job, on node: String?) async throws -> String {
        let builderID = try await self.builderID()
        let result = try await rpc(
            "/api/v2/forceschedulers/\(scheduler)", method: "force",
            params: [
                "builderid": "\(builderID)",
                "reason": "!testme by \(job.requester) on \(job.repository)#\(job.pr)",
                "owner": "ccci",
                "recipe": job.recipe, "pr": "\(job.pr)", "ref": job.headSHA, "job_id": "\(job.number)",
                "stages": job.stages ?? "", "quick": job.quick ? "yes" : "", "node": node ?? "",
            ], operation: "force a build of job \(job.number)")
        // `[buildset id, {builder id: build request id}]`.
        guard let pair = result as? [Any], pair.count == 2, let requests = pair[1] as? [String: Any],
            let request = requests.values.first.flatMap(EngineHTTP.integer)
        else {
            throw DispatchError(
                engine: name, operation: "force", reason: "an answer without a build request: \(result)")
        }
        return "\(request)"
    }

    public func cancel(_ job: Job, reason: String) async throws {
        guard let handle = job.dispatchRef, let request = Int(handle) else { return }
        let answer = try await http.object(
            .GET, "/api/v2/buildrequests/\(request)", operation: "read build request \(request)")
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
        let builds = try await http.object(
            .GET, "/api/v2/buildrequests/\(request)/builds", operation: "read its builds")
        for build in (builds["builds"] as? [[String: Any]]) ?? [] where build["complete"] as? Bool != true {
            guard let id = EngineHTTP.integer(build["buildid"]) else { continue }
            _ = try await rpc(
                "/api/v2/builds/\(id)", method: "stop", params: ["reason": reason], operation: "stop build \(id)")
        }
    }

    /// The builder's id (asked once).
    func builderID() async throws -> Int {
        if let known = builderID.withLock({ $0 }) { return known }
        let answer = try await http.object(
            .GET, "/api/v2/builders?name=\(builder)", operation: "find builder \(builder)")
        guard let first = (answer["builders"] as? [[String: Any]])?.first,
            let id = EngineHTTP.integer(first["builderid"])
        else {
            throw DispatchError(
                engine: name, operation: "find builder \(builder)",
                reason: "the master has no builder named \(builder) — check `[dispatch] builder` and master.cfg")
        }
        builderID.withLock { $0 = id }
        return id
    }

    /// A JSON-RPC call on a data path (`force`, `cancel`, `stop`); returns its `result`.
    func rpc(_ path: String, method: String, params: [String: Any], operation: String) async throws -> Any {
        let request: [String: Any] = ["jsonrpc": "2.0", "id": 1, "method": method, "params": params]
        let answer = try await http.object(
            .POST, path, json: try JSONSerialization.data(withJSONObject: request), operation: operation)
        if let error = answer["error"] as? [String: Any] {
            throw DispatchError(
                engine: name, operation: operation, reason: "\(error["message"] ?? "an error") (JSON-RPC)")
        }
        return answer["result"] ?? NSNull()
    }
}
