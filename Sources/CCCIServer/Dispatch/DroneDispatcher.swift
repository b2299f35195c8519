import AsyncHTTPClient
import CCCICore
import CCCIStore
import Foundation

/// Drone (SPEC F-ENGINE), the predecessor's engine: a job is a build of the shipped exec pipeline
/// (`deploy/drone/.drone.yml`) in a repository cc-ci owns — `POST /api/repos/{namespace}/{name}/builds`
/// with the branch and the job as parameters (each becomes the pipeline's environment, `CCCI_*`)
/// — and cancelling is `DELETE /api/repos/{namespace}/{name}/builds/{number}`. Drone cannot be
/// installed here: this is proven against the shapes of its API documentation. A pipeline's
/// runner labels are fixed, so a build cannot be sent to one node: a quick run goes to any node
/// (and fails there, saying so, when that node holds no warm canonical).
public struct DroneDispatcher: Dispatcher {
    public var name: String { "drone" }
    let http: EngineHTTP
    /// `namespace/name` of the repository holding the pipeline.
    let repository: String
    let branch: String

    public init(base: String, repository: String, branch: String, token: SecretValue?, client: HTTPClient) {
        http = EngineHTTP(
            engine: "drone", base: base, authorization: token.map { SecretValue("Bearer \($0.reveal())") },
            client: client)
        self.repository = repository
        self.branch = branch
    }

    /// The build's parameters: query items, each a `CCCI_*` variable of the pipeline.
    static func parameters(of job: Job, branch: String) -> [URLQueryItem] {
        [
            URLQueryItem(name: "branch", value: branch),
            URLQueryItem(name: "CCCI_RECIPE", value: job.recipe), URLQueryItem(name: "CCCI_PR", value: "\(job.pr)"),
            URLQueryItem(name: "CCCI_REF", value: job.headSHA),
            URLQueryItem(name: "CCCI_JOB_ID", value: "\(job.number)"),
            URLQueryItem(name: "CCCI_STAGES", value: job.stages ?? ""),
            URLQueryItem(name: "CCCI_QUICK", value: job.quick ? "yes" : ""),
        ]
    }

    public func dispatch(_ job: Job, on node: String?) async throws -> String {
        var components = URLComponents()
        components.path = "/api/repos/\(repository)/builds"
        components.queryItems = Self.parameters(of: job, branch: branch)
        let build = try await http.object(
            .POST, components.string ?? components.path, operation: "create a build of job \(job.number)")
        guard let number = EngineHTTP.integer(build["number"]) else {
            throw DispatchError(engine: name, operation: "create a build", reason: "an answer without a build number")
        }
        return "\(number)"
    }

    public func cancel(_ job: Job, reason: String) async throws {
        guard let handle = job.dispatchRef, let number = Int(handle) else { return }
        _ = try await http.send(
            .DELETE, "/api/repos/\(repository)/builds/\(number)", operation: "cancel build \(number)")
    }
}
