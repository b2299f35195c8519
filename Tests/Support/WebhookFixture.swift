import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat

/// Webhook deliveries for tests: the payload fixtures of `Fixtures/forge/` with the fields a case
/// needs changed, signed as Gitea signs them (hex HMAC-SHA256 of the body in `X-Gitea-Signature`).
public enum WebhookFixture {
    /// `Fixtures/forge`.
    public static var root: URL { TestEnvironment.repositoryRoot.appendingPathComponent("Fixtures/forge") }

    /// An `issue_comment` payload.
    public static func comment(
        _ body: String, repository: String = "recipes/web", pr: Int = 1, author: String = "alice",
        commentID: Int = 101, action: String = "created", isPull: Bool = true, state: String = "open"
    ) throws -> [UInt8] {
        var payload = try load("issue_comment.json")
        let parts = repository.split(separator: "/").map(String.init)
        payload["action"] = action
        payload["is_pull"] = isPull
        var issue = payload["issue"] as! [String: Any]
        issue["number"] = pr
        issue["state"] = state
        if !isPull { issue["pull_request"] = NSNull() }
        payload["issue"] = issue
        var comment = payload["comment"] as! [String: Any]
        comment["id"] = commentID
        comment["body"] = body
        var user = comment["user"] as! [String: Any]
        user["login"] = author
        user["username"] = author
        comment["user"] = user
        payload["comment"] = comment
        payload["sender"] = user
        payload["repository"] = repositoryObject(payload["repository"], parts)
        return try serialize(payload)
    }

    /// A `pull_request` payload for a push to pull request `pr` (action `synchronized`, or
    /// `action`), the pull request updated at `updatedAt` (the fixture's time by default).
    public static func synchronized(
        repository: String = "recipes/web", pr: Int = 1, head: String, updatedAt: String? = nil,
        action: String = "synchronized"
    ) throws -> [UInt8] {
        var payload = try load("pull_request_synchronized.json")
        let parts = repository.split(separator: "/").map(String.init)
        payload["number"] = pr
        payload["action"] = action
        var pull = payload["pull_request"] as! [String: Any]
        pull["number"] = pr
        if let updatedAt { pull["updated_at"] = updatedAt }
        var headBranch = pull["head"] as! [String: Any]
        headBranch["sha"] = head
        pull["head"] = headBranch
        payload["pull_request"] = pull
        payload["repository"] = repositoryObject(payload["repository"], parts)
        return try serialize(payload)
    }

    /// The headers the forge sends with `body` (`secret` nil: unsigned).
    public static func headers(
        event: String, body: [UInt8], secret: String?, delivery: String = UUID().uuidString
    ) -> [String: String] {
        var headers = [
            "Content-Type": "application/json", "X-Gitea-Event": event, "X-Gitea-Delivery": delivery,
            "X-Gitea-Event-Type": event == "issue_comment" ? "pull_request_comment" : "pull_request_sync",
        ]
        if let secret { headers["X-Gitea-Signature"] = sign(body, secret: secret) }
        return headers
    }

    /// Hex HMAC-SHA256 of `body` under `secret`.
    public static func sign(_ body: [UInt8], secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Posts a delivery to `url` (`…/hooks/forge`); returns the status and the answer's text.
    public static func post(
        _ body: [UInt8], headers: [String: String], to url: String
    ) async throws -> (status: Int, text: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: text))
    }

    /// `GET url`; returns the status and the body as text.
    public static func get(_ url: String) async throws -> (status: Int, text: String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let text = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), String(buffer: text))
    }

    static func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(name))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestSetupError("\(name) is not a JSON object")
        }
        return object
    }

    static func repositoryObject(_ value: Any?, _ parts: [String]) -> [String: Any] {
        var repository = value as? [String: Any] ?? [:]
        repository["name"] = parts.last ?? ""
        repository["full_name"] = parts.joined(separator: "/")
        var owner = repository["owner"] as? [String: Any] ?? [:]
        owner["login"] = parts.first ?? ""
        owner["username"] = parts.first ?? ""
        repository["owner"] = owner
        return repository
    }

    static func serialize(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}
