import AsyncHTTPClient
import CCCICore
import CCCIStore
import Foundation

/// Forgejo/Gitea Actions (SPEC F-ENGINE): a job is a `workflow_dispatch` of the shipped workflow
/// (`deploy/forgejo/ccci.yml`) in a repository cc-ci owns, with the job as its inputs —
/// `POST /api/v1/repos/{owner}/{repo}/actions/workflows/{file}/dispatches` with
/// `return_run_info` (Forgejo answers the run's id); cancelling is
/// `POST …/actions/runs/{id}/cancel`. The runner of each node carries the label `ccci-<node>`
/// (and `ccci`, any node), with type `host`.
public struct ForgejoActionsDispatcher: Dispatcher {
    public var name: String { "forgejo-actions" }
    let http: EngineHTTP
    /// `owner/name` of the repository holding the workflow.
    let repository: String
    let workflow: String
    /// The branch the workflow is read from.
    let ref: String

    public init(
        base: String, repository: String, workflow: String, ref: String, token: SecretValue?, client: HTTPClient
    ) {
        http = EngineHTTP(
            engine: "forgejo-actions", base: base, authorization: token.map { SecretValue("token \($0.reveal())") },
            client: client)
        self.repository = repository
        self.workflow = workflow
        self.ref = ref
    }

    public func dispatch(_ job: Job, on node: String?) async throws -> String {
        let request: [String: Any] = [
            "ref": ref, "return_run_info": true,
            "inputs": [
                "recipe": job.recipe, "pr": "\(job.pr)", "ref": job.headSHA, "job_id": "\(job.number)",
                "node": node ?? "",
                "stages": job.stages ?? "", "quick": job.quick ? "yes" : "",
            ],
        ]
        let answer = try await http.send(
            .POST, "/api/v1/repos/\(repository)/actions/workflows/\(workflow)/dispatches",
            json: try JSONSerialization.data(withJSONObject: request), operation: "dispatch job \(job.number)")
        // 204 from a forge without `return_run_info`: the run is not known, and cannot be cancelled.
        guard let run = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any],
            let id = EngineHTTP.integer(run["id"])
        else { return "" }
        return "\(id)"
    }

    public func cancel(_ job: Job, reason: String) async throws {
        guard let handle = job.dispatchRef, let run = Int(handle) else { return }
        _ = try await http.send(
            .POST, "/api/v1/repos/\(repository)/actions/runs/\(run)/cancel", operation: "cancel run \(run)")
    }
}
