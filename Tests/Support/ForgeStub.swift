import CCCISystem
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import ServiceLifecycle
import Synchronization

/// A stand-in for a Gitea/Forgejo server: a real HTTP server on loopback that implements only the
/// API endpoints cc-ci's bridge calls, shaped from Gitea's API documentation (`/api/v1`, token
/// auth), and records every call:
///
/// - `GET  /repos/{owner}/{repo}/pulls/{index}` → a `PullRequest` (404 when unknown)
/// - `GET  /repos/{owner}/{repo}/pulls?state=open&limit=&page=` → the open `PullRequest`s, paged
/// - `PATCH /repos/{owner}/{repo}/pulls/{index}` `{"state": "closed"}` → the closed `PullRequest`
/// - `GET  /repos/{owner}/{repo}/collaborators/{user}/permission` → a `RepoCollaboratorPermission`
///   (404 for an unknown user; `read` for a user with no grant)
/// - `POST /repos/{owner}/{repo}/issues/{index}/comments` → 201 and the `Comment`
/// - `PATCH /repos/{owner}/{repo}/issues/comments/{id}` → the edited `Comment` (404 when unknown)
/// - `POST /repos/{owner}/{repo}/statuses/{sha}` → 201 and the `CommitStatus`
///
/// A request without `Authorization: token <token>` gets 401. ``failing`` makes it answer 503
/// to every call (a forge that is down), ``failure`` any other status; ``stopListening()`` closes
/// its port (connections are refused) until ``startListening()`` opens the same port again; a
/// pull request's `updated_at` is the second it was last set (``updatedAt(_:_:)``).
public final class ForgeStub: Sendable {
    /// One API call as the stub received it.
    public struct Call: Sendable, Hashable {
        public let method: String
        /// The path under `/api/v1`.
        public let path: String
        /// The JSON body's string fields.
        public let body: [String: String]
        public let authorized: Bool
    }

    /// A comment as it stands on the stub.
    public struct Comment: Sendable, Hashable {
        public let id: Int64
        public let repository: String
        public let issue: Int
        public var body: String
        public var edits: Int
    }

    /// A commit status the stub received.
    public struct Status: Sendable, Hashable {
        public let repository: String
        public let sha: String
        public let state: String
        public let description: String
        public let targetURL: String?
        public let context: String
    }

    struct Pull: Sendable {
        var state: String
        var head: String
        var base = "main"
        var updatedAt: String
    }

    struct State: Sendable {
        var pulls: [String: Pull] = [:]
        var users: Set<String> = []
        var permissions: [String: String] = [:]
        var comments: [Int64: Comment] = [:]
        var nextComment: Int64 = 5000
        var statuses: [Status] = []
        var calls: [Call] = []
        var failure: Int?
        var delay: Duration?
        var port = 0
    }

    public let token: String
    private let state = Mutex(State())
    /// The running listener (`nil` while the port is closed).
    private let listener = Mutex<(group: ServiceGroup, task: Task<Void, any Error>)?>(nil)

    init(token: String) {
        self.token = token
    }

    /// `http://127.0.0.1:<port>` (the forge's base URL; the API is under `/api/v1`).
    public var baseURL: String { "http://127.0.0.1:\(state.withLock { $0.port })" }

    /// Runs a stub for the duration of `body`.
    public static func with<T: Sendable>(
        token: String = "stub-token-\(UUID().uuidString.prefix(8))", _ body: @Sendable (ForgeStub) async throws -> T
    ) async throws -> T {
        let stub = ForgeStub(token: token)
        try await stub.startListening()
        do {
            let result = try await body(stub)
            await stub.stopListening()
            return result
        } catch {
            await stub.stopListening()
            throw error
        }
    }

    /// Opens the stub's port (the same port again after ``stopListening()``).
    public func startListening() async throws {
        var logger = Logger(label: "forge-stub")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let port = state.withLock { $0.port }
        let app = Application(
            router: router(), configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next(), bound > 0 else {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw TestSetupError("the forge stub did not start")
        }
        state.withLock { $0.port = bound }
        listener.withLock { $0 = (group, task) }
    }

    /// Closes the stub's port: every connection is refused until ``startListening()``.
    public func stopListening() async {
        guard
            let (group, task) = listener.withLock({ current in
                defer { current = nil }
                return current
            })
        else {
            return
        }
        await group.triggerGracefulShutdown()
        _ = await task.result
    }

    // MARK: - Setting up

    /// Creates or changes pull request `number` of `repository` (`owner/name`).
    public func setPullRequest(
        _ repository: String, _ number: Int, head: String, state pullState: String = "open", base: String = "main"
    ) {
        let now = Self.timestamp(Date())
        state.withLock {
            $0.pulls["\(repository)#\(number)"] = Pull(state: pullState, head: head, base: base, updatedAt: now)
        }
    }

    /// The pull request's `updated_at`, as the API and the webhooks say it.
    public func updatedAt(_ repository: String, _ number: Int) -> String? {
        state.withLock { $0.pulls["\(repository)#\(number)"]?.updatedAt }
    }

    /// RFC 3339 to the second, in UTC (Gitea's form).
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Makes `user` exist and gives them `permission` (`none`, `read`, `write`, `admin`, `owner`) on
    /// `repository`.
    public func grant(_ user: String, _ permission: String, on repository: String) {
        state.withLock {
            $0.users.insert(user.lowercased())
            $0.permissions["\(repository)/\(user.lowercased())"] = permission
        }
    }

    /// Makes `user` exist with no grant.
    public func addUser(_ user: String) {
        _ = state.withLock { $0.users.insert(user.lowercased()) }
    }

    /// While `true`, every API call is answered 503.
    public var failing: Bool {
        get { state.withLock { $0.failure == 503 } }
        set { state.withLock { $0.failure = newValue ? 503 : nil } }
    }

    /// While set, every API call is answered with this status.
    public var failure: Int? {
        get { state.withLock { $0.failure } }
        set { state.withLock { $0.failure = newValue } }
    }

    /// While set, every API call is answered after this long (a forge that hangs).
    public var delay: Duration? {
        get { state.withLock { $0.delay } }
        set { state.withLock { $0.delay = newValue } }
    }

    // MARK: - What it received

    public var calls: [Call] { state.withLock { $0.calls } }
    public var comments: [Comment] { state.withLock { $0.comments.values.sorted { $0.id < $1.id } } }
    public var statuses: [Status] { state.withLock { $0.statuses } }

    /// The comments on one pull request, oldest first.
    public func comments(on repository: String, _ issue: Int) -> [Comment] {
        comments.filter { $0.repository == repository && $0.issue == issue }
    }

    /// Waits (bounded, polling) until `condition` holds for the stub.
    public func waitUntil(
        timeout: Duration = .seconds(30), _ condition: @Sendable (ForgeStub) -> Bool
    ) async -> Bool {
        if (try? await poll(until: { condition(self) }, timeout: timeout)) == true { return true }
        return condition(self)
    }

    // MARK: - The API

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let api = router.group("api/v1/repos/:owner/:repo")
        api.get("pulls/:index") { request, context in
            try await self.answer(request, context) { repository, fields in
                guard let number = context.parameters.get("index").flatMap(Int.init),
                    let pull = self.state.withLock({ $0.pulls["\(repository)#\(number)"] })
                else { return (.notFound, ["message": "pull request does not exist"]) }
                return (.ok, Self.pullJSON(repository: repository, number: number, pull: pull))
            }
        }
        api.get("pulls") { request, context in
            try await self.answer(request, context) { repository, fields in
                let query = request.uri.queryParameters
                let limit = query.get("limit").flatMap(Int.init) ?? 30
                let page = max(query.get("page").flatMap(Int.init) ?? 1, 1)
                let open = self.state.withLock { state in
                    state.pulls.filter { $0.key.hasPrefix("\(repository)#") && $0.value.state == "open" }
                        .compactMap { key, pull in Int(key.split(separator: "#").last ?? "").map { ($0, pull) } }
                        .sorted { $0.0 < $1.0 }
                }
                let slice = open.dropFirst((page - 1) * limit).prefix(limit)
                return (.ok, slice.map { Self.pullJSON(repository: repository, number: $0.0, pull: $0.1) } as [Any])
            }
        }
        api.patch("pulls/:index") { request, context in
            try await self.answer(request, context) { repository, fields in
                guard let number = context.parameters.get("index").flatMap(Int.init),
                    let pull = self.state.withLock({ state -> Pull? in
                        guard var pull = state.pulls["\(repository)#\(number)"] else { return nil }
                        if let value = fields["state"] { pull.state = value }
                        state.pulls["\(repository)#\(number)"] = pull
                        return pull
                    })
                else { return (.notFound, ["message": "pull request does not exist"]) }
                return (.ok, Self.pullJSON(repository: repository, number: number, pull: pull))
            }
        }
        api.get("collaborators/:user/permission") { request, context in
            try await self.answer(request, context) { repository, fields in
                let user = (context.parameters.get("user") ?? "").lowercased()
                return self.state.withLock { state in
                    guard state.users.contains(user) else { return (.notFound, ["message": "user does not exist"]) }
                    let permission = state.permissions["\(repository)/\(user)"] ?? "read"
                    return (
                        .ok,
                        [
                            "permission": permission, "role_name": permission,
                            "user": ["id": 7, "login": user, "username": user],
                        ]
                    )
                }
            }
        }
        api.post("issues/:index/comments") { request, context in
            try await self.answer(request, context) { repository, fields in
                guard let issue = context.parameters.get("index").flatMap(Int.init) else {
                    return (.notFound, ["message": "issue does not exist"])
                }
                let body = fields["body"] ?? ""
                let id = self.state.withLock { state in
                    state.nextComment += 1
                    state.comments[state.nextComment] = Comment(
                        id: state.nextComment, repository: repository, issue: issue, body: body, edits: 0)
                    return state.nextComment
                }
                return (.created, Self.commentJSON(id: id, repository: repository, issue: issue, body: body))
            }
        }
        api.patch("issues/comments/:id") { request, context in
            try await self.answer(request, context) { repository, fields in
                let body = fields["body"] ?? ""
                guard let id = context.parameters.get("id").flatMap(Int64.init),
                    let comment = self.state.withLock({ state -> Comment? in
                        guard var comment = state.comments[id], comment.repository == repository else { return nil }
                        comment.body = body
                        comment.edits += 1
                        state.comments[id] = comment
                        return comment
                    })
                else { return (.notFound, ["message": "comment does not exist"]) }
                return (.ok, Self.commentJSON(id: id, repository: repository, issue: comment.issue, body: body))
            }
        }
        api.post("statuses/:sha") { request, context in
            try await self.answer(request, context) { repository, fields in
                let status = Status(
                    repository: repository, sha: context.parameters.get("sha") ?? "", state: fields["state"] ?? "",
                    description: fields["description"] ?? "", targetURL: fields["target_url"],
                    context: fields["context"] ?? "")
                self.state.withLock { $0.statuses.append(status) }
                return (
                    .created,
                    [
                        "id": 1, "state": status.state, "target_url": status.targetURL ?? "",
                        "description": status.description, "context": status.context,
                        "created_at": "2026-01-05T12:00:00Z",
                    ]
                )
            }
        }
        return router
    }

    /// Records the call, checks the token and the failure switch, then answers with `handler`.
    private func answer(
        _ request: Request, _ context: BasicRequestContext,
        _ handler: (_ repository: String, _ fields: [String: String]) throws -> (HTTPResponse.Status, Any)
    ) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        let owner = context.parameters.get("owner") ?? ""
        let repo = context.parameters.get("repo") ?? ""
        let authorized = request.headers[.authorization] == "token \(token)"
        let path = String(request.uri.path.dropFirst("/api/v1".count))
        let (failure, delay) = state.withLock { state in
            state.calls.append(
                Call(method: request.method.rawValue, path: path, body: Self.fields(buffer), authorized: authorized))
            return (state.failure, state.delay)
        }
        if let failure {
            if let delay { try await Task.sleep(for: delay) }
            return Self.response(.init(code: failure), ["message": "the stub forge answers \(failure)"])
        }
        guard authorized else { return Self.response(.unauthorized, ["message": "token is required"]) }
        let (status, object) = try handler("\(owner)/\(repo)", Self.fields(buffer))
        // The answer is what the forge knew when it was asked; it arrives `delay` later.
        if let delay { try await Task.sleep(for: delay) }
        return Self.response(status, object)
    }

    static func response(_ status: HTTPResponse.Status, _ object: Any) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// The string fields of a JSON object body.
    static func fields(_ body: ByteBuffer) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            return [:]
        }
        return object.compactMapValues { $0 as? String }
    }

    static func pullJSON(repository: String, number: Int, pull: Pull) -> [String: Any] {
        [
            "id": 500 + number, "number": number, "state": pull.state, "merged": false, "title": "a pull request",
            "updated_at": pull.updatedAt,
            "html_url": "http://forge.test/\(repository)/pulls/\(number)",
            "head": ["label": "pr-\(number)", "ref": "pr-\(number)", "sha": pull.head, "repo_id": 42],
            "base": ["label": pull.base, "ref": pull.base, "sha": String(repeating: "1", count: 40), "repo_id": 42],
            "user": ["id": 7, "login": "alice", "username": "alice"],
        ]
    }

    static func commentJSON(id: Int64, repository: String, issue: Int, body: String) -> [String: Any] {
        [
            "id": id, "body": body, "html_url": "http://forge.test/\(repository)/pulls/\(issue)#issuecomment-\(id)",
            "user": ["id": 99, "login": "cc-ci", "username": "cc-ci"], "created_at": "2026-01-05T12:00:00Z",
            "updated_at": "2026-01-05T12:00:00Z",
        ]
    }
}
