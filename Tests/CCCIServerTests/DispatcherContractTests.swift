import AsyncHTTPClient
import CCCICore
import CCCIServer
import CCCIStore
import CCCITestSupport
import Foundation
import Testing

/// The engines' API calls, request by request, against the shapes of their documentation: the
/// Forgejo Actions dispatch (`return_run_info`) and run cancel, and Drone's build create with
/// parameters and build cancel (Drone cannot be installed here; Buildbot is proven for real in
/// `Integration.Engines`).
@Suite struct DispatcherContractTests {
    static func job() -> Job {
        var job = Job(
            recipe: "web", repository: "recipes/web", pr: 3, headSHA: String(repeating: "a", count: 40),
            stages: "install,upgrade", requester: "alice", commentID: 9)
        job.id = 17
        return job
    }

    static func json(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    @Test(
        "Forgejo Actions: a job is a workflow_dispatch of ccci.yml with its inputs; cancel cancels the run it answered")
    func forgejoActions() async throws {
        try await EngineStub.with(answer: { request in
            request.path.hasSuffix("/dispatches")
                ? (201, #"{"id": 42, "run_number": 7, "jobs": ["run"]}"#) : (204, nil)
        }) { stub, base in
            let engine = ForgejoActionsDispatcher(
                base: base + "/", repository: "ccci/ops", workflow: "ccci.yml", ref: "main",
                token: SecretValue("t0ken"), client: .shared)
            var job = Self.job()
            let handle = try await engine.dispatch(job, on: "node-b")
            #expect(handle == "42")
            let dispatch = try #require(stub.received.first)
            #expect(dispatch.method == "POST")
            #expect(dispatch.path == "/api/v1/repos/ccci/ops/actions/workflows/ccci.yml/dispatches")
            #expect(dispatch.authorization == "token t0ken")
            let body = Self.json(dispatch.body)
            #expect(body["ref"] as? String == "main" && body["return_run_info"] as? Bool == true)
            #expect(
                body["inputs"] as? [String: String] == [
                    "recipe": "web", "pr": "3", "ref": job.headSHA, "job_id": "17", "node": "node-b",
                    "stages": "install,upgrade", "quick": "",
                ])
            job.dispatchRef = handle
            try await engine.cancel(job, reason: "superseded")
            let cancel = try #require(stub.received.last)
            #expect(cancel.method == "POST" && cancel.path == "/api/v1/repos/ccci/ops/actions/runs/42/cancel")
            #expect(cancel.authorization == "token t0ken")
        }
    }

    @Test("Forgejo Actions: a forge that answers 204 (no run info) is taken, uncancellable; a 401 names the token file")
    func forgejoAnswers() async throws {
        try await EngineStub.with(answer: { request in
            request.authorization == "token good" ? (204, nil) : (401, #"{"message": "token is required"}"#)
        }) { stub, base in
            let good = ForgejoActionsDispatcher(
                base: base, repository: "ccci/ops", workflow: "ccci.yml", ref: "main", token: SecretValue("good"),
                client: .shared)
            #expect(try await good.dispatch(Self.job(), on: nil) == "")
            var job = Self.job()
            job.dispatchRef = ""
            try await good.cancel(job, reason: "x")
            #expect(stub.received.count == 1, "nothing to cancel without a run id")
            let bad = ForgejoActionsDispatcher(
                base: base, repository: "ccci/ops", workflow: "ccci.yml", ref: "main", token: SecretValue("bad"),
                client: .shared)
            let error = await #expect(throws: DispatchError.self) { try await bad.dispatch(Self.job(), on: nil) }
            #expect(error?.description.contains("401") == true)
            #expect(error?.description.contains("[dispatch] token_file") == true)
            #expect(error?.description.contains("bad") == false, "the token is never repeated")
        }
    }

    @Test(
        "Drone: a job is a build of the pipeline's branch with its parameters; cancel deletes the build number it answered"
    )
    func drone() async throws {
        // The shapes of Drone's API documentation: POST /api/repos/{namespace}/{name}/builds
        // answers the build (id, number, status…); DELETE …/builds/{number} cancels it.
        try await EngineStub.with(answer: { request in
            request.method == "POST"
                ? (
                    200,
                    #"{"id": 100207, "repo_id": 42, "number": 12, "status": "pending", "event": "custom", "action": "", "target": "main", "params": {}}"#
                )
                : (200, #"{"id": 100207, "number": 12, "status": "killed"}"#)
        }) { stub, base in
            let engine = DroneDispatcher(
                base: base, repository: "ccci/ops", branch: "main", token: SecretValue("dr0ne"), client: .shared)
            var job = Self.job()
            job.quick = true
            let handle = try await engine.dispatch(job, on: nil)
            #expect(handle == "12")
            let create = try #require(stub.received.first)
            #expect(create.method == "POST" && create.path == "/api/repos/ccci/ops/builds")
            #expect(create.authorization == "Bearer dr0ne")
            #expect(
                create.query == [
                    "branch": "main", "CCCI_RECIPE": "web", "CCCI_PR": "3", "CCCI_REF": job.headSHA,
                    "CCCI_JOB_ID": "17", "CCCI_STAGES": "install,upgrade", "CCCI_QUICK": "yes",
                ])
            job.dispatchRef = handle
            try await engine.cancel(job, reason: "superseded")
            let cancel = try #require(stub.received.last)
            #expect(cancel.method == "DELETE" && cancel.path == "/api/repos/ccci/ops/builds/12")
        }
    }

    @Test("an engine that does not answer is a DispatchError naming the call and the engine's address")
    func engineDown() async throws {
        // As `ccci serve` makes its client: a refused connection fails the call at once.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { Task { try? await client.shutdown() } }
        let engine = DroneDispatcher(
            base: "http://127.0.0.1:1", repository: "ccci/ops", branch: "main", token: nil, client: client)
        let error = await #expect(throws: DispatchError.self) { try await engine.dispatch(Self.job(), on: nil) }
        #expect(error?.description.contains("POST http://127.0.0.1:1/api/repos/ccci/ops/builds did not answer") == true)
        #expect(error?.description.contains("is drone up") == true)
    }
}
