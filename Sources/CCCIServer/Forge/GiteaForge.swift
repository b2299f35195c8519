import AsyncHTTPClient
import CCCICore
import Crypto
import Foundation
import Logging
import NIOHTTP1

/// Gitea and Forgejo (Forgejo keeps Gitea's API and webhook format, and names its headers
/// `X-Forgejo-*` as well as `X-Gitea-*`).
///
/// Webhooks: `X-Gitea-Signature` / `X-Forgejo-Signature` is the hex HMAC-SHA256 of the raw body
/// under the webhook's secret; `X-Gitea-Event` / `X-Forgejo-Event` names the event
/// (`issue_comment` for comments on issues and pull requests, `pull_request` for pull request
/// changes, a push to one being action `synchronized`); `X-Gitea-Delivery` is the delivery's id.
/// API: `/api/v1`, the token in `Authorization: token …`.
public struct GiteaForge: Forge {
    public let kind: ServeConfig.ForgeKind
    /// `nil` for a client that only calls the API (the sweep's mirror sync): it verifies no delivery.
    let webhookKey: SymmetricKey?
    let http: ForgeHTTP

    /// - Parameters:
    ///   - baseURL: the forge's address (`https://git.coopcloud.tech`).
    ///   - tokenHint: where the token comes from, for error messages (never the token).
    public init(
        kind: ServeConfig.ForgeKind, baseURL: String, token: SecretValue, webhookSecret: SecretValue?,
        retry: RetryPolicy = RetryPolicy(), client: HTTPClient = .shared, logger: Logger,
        tokenHint: String = "serve.forge_token_file"
    ) {
        self.kind = kind
        webhookKey = webhookSecret.map { SymmetricKey(data: Data($0.reveal().utf8)) }
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        http = ForgeHTTP(
            apiBase: base + "/api/v1", token: token, policy: retry, client: client, logger: logger,
            tokenHint: tokenHint)
    }

    public var name: String { kind.rawValue }

    // MARK: - Webhooks

    public func event(from delivery: WebhookDelivery) throws(WebhookError) -> ForgeEvent {
        guard let signature = delivery.header("X-Forgejo-Signature") ?? delivery.header("X-Gitea-Signature") else {
            throw .unsigned
        }
        guard let webhookKey, Self.verify(signature: signature, body: delivery.body, key: webhookKey) else {
            throw .badSignature
        }
        let deliveryID = delivery.header("X-Forgejo-Delivery") ?? delivery.header("X-Gitea-Delivery")
        if let deliveryID, deliveryID.isEmpty || deliveryID.count > 128 || !deliveryID.allSatisfy(\.isASCII) {
            throw .malformed("the delivery id header is not an id")
        }
        let name = (delivery.header("X-Forgejo-Event") ?? delivery.header("X-Gitea-Event") ?? "").lowercased()
        let data = Data(delivery.body)
        do {
            switch name {
            case "issue_comment":
                let payload = try JSONDecoder().decode(GiteaPayload.IssueComment.self, from: data)
                return ForgeEvent(delivery: deliveryID, kind: .comment(try payload.event()))
            case "pull_request":
                let payload = try JSONDecoder().decode(GiteaPayload.PullRequestChange.self, from: data)
                return ForgeEvent(delivery: deliveryID, kind: .pullRequest(try payload.event()))
            default:
                return ForgeEvent(delivery: deliveryID, kind: .other(name.isEmpty ? "(no event header)" : name))
            }
        } catch let error as WebhookError {
            throw error
        } catch {
            throw .malformed(JSONCoding.explain(error))
        }
    }

    /// Whether `signature` (hex) is the HMAC-SHA256 of `body` under `key`. The comparison is in
    /// constant time (swift-crypto's `isValidAuthenticationCode`); a value that is not 64 hex
    /// digits is refused before any comparison.
    public static func verify(signature: String, body: [UInt8], key: SymmetricKey) -> Bool {
        let text = signature.trimmingCharacters(in: .whitespaces)
        let hex = text.hasPrefix("sha256=") ? String(text.dropFirst("sha256=".count)) : text
        guard let mac = Self.bytes(hex: hex), mac.count == SHA256.byteCount else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key)
    }

    /// Whether a signature header could be one: 64 hex digits, optionally after `sha256=`.
    public static func isWellFormed(signature: String) -> Bool {
        let text = signature.trimmingCharacters(in: .whitespaces)
        let hex = text.hasPrefix("sha256=") ? text.dropFirst("sha256=".count) : Substring(text)
        return hex.utf8.count == 2 * SHA256.byteCount && hex.allSatisfy(\.isHexDigit)
    }

    /// The signature header value for `body` under `secret` (what the forge sends).
    public static func signature(of body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0, digits.count <= 128 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: - API

    public func pullRequest(_ number: Int, in repository: RepositoryRef) async throws -> PullRequestInfo {
        let answer = try await http.send(
            .GET, "\(Self.path(repository))/pulls/\(number)", operation: "read pull request \(repository)#\(number)")
        let pull: GiteaPayload.PullRequest
        do {
            pull = try JSONDecoder().decode(GiteaPayload.PullRequest.self, from: answer.body)
        } catch {
            throw ForgeError(
                operation: "read pull request \(repository)#\(number)", request: "GET \(repository)/pulls/\(number)",
                status: answer.status, reason: "unexpected answer: \(JSONCoding.explain(error))", attempts: 1,
                hint: nil)
        }
        return PullRequestInfo(
            number: pull.number, isOpen: pull.state == "open" && pull.merged != true, headSHA: pull.head.sha,
            baseRef: pull.base?.ref, htmlURL: pull.htmlURL, updatedAt: pull.updatedAt.flatMap(ForgeTime.parse))
    }

    /// The open pull requests of `repository` (every page): number and head commit.
    public func openPullRequests(in repository: RepositoryRef) async throws -> [PullRequestInfo] {
        var pulls: [PullRequestInfo] = []
        for page in 1...100 {
            let path = "\(Self.path(repository))/pulls?state=open&limit=50&page=\(page)"
            let answer = try await http.send(.GET, path, operation: "list the open pull requests of \(repository)")
            let batch: [GiteaPayload.PullRequest]
            do {
                batch = try JSONDecoder().decode([GiteaPayload.PullRequest].self, from: answer.body)
            } catch {
                throw ForgeError(
                    operation: "list the open pull requests of \(repository)", request: "GET \(path)",
                    status: answer.status, reason: "unexpected answer: \(JSONCoding.explain(error))", attempts: 1,
                    hint: nil)
            }
            pulls += batch.filter { $0.state == "open" }.map { pull in
                PullRequestInfo(
                    number: pull.number, isOpen: true, headSHA: pull.head.sha, baseRef: pull.base?.ref,
                    htmlURL: pull.htmlURL)
            }
            if batch.count < 50 { break }
        }
        return pulls
    }

    /// Closes pull request `number` (without merging it).
    public func closePullRequest(_ number: Int, in repository: RepositoryRef) async throws {
        _ = try await http.send(
            .PATCH, "\(Self.path(repository))/pulls/\(number)", json: ["state": "closed"],
            operation: "close pull request \(repository)#\(number)")
    }

    public func permission(of user: String, in repository: RepositoryRef) async throws -> RepositoryPermission {
        let answer = try await http.send(
            .GET, "\(Self.path(repository))/collaborators/\(Self.component(user))/permission",
            operation: "read \(user)'s permission on \(repository)", accept: [404])
        guard answer.status != 404 else { return .none }
        let permission = try? JSONDecoder().decode(GiteaPayload.Permission.self, from: answer.body)
        return permission.flatMap { RepositoryPermission(rawValue: $0.permission.lowercased()) } ?? .none
    }

    public func postComment(_ body: String, on issue: Int, in repository: RepositoryRef) async throws -> Int64 {
        let answer = try await http.send(
            .POST, "\(Self.path(repository))/issues/\(issue)/comments", json: ["body": body],
            operation: "post a comment on \(repository)#\(issue)")
        guard let comment = try? JSONDecoder().decode(GiteaPayload.Comment.self, from: answer.body) else {
            throw ForgeError(
                operation: "post a comment on \(repository)#\(issue)", request: "POST \(repository)/issues/\(issue)",
                status: answer.status, reason: "the answer carries no comment id", attempts: 1, hint: nil)
        }
        return comment.id
    }

    public func editComment(_ id: Int64, body: String, in repository: RepositoryRef) async throws {
        _ = try await http.send(
            .PATCH, "\(Self.path(repository))/issues/comments/\(id)", json: ["body": body],
            operation: "edit comment \(id) on \(repository)")
    }

    public func setStatus(_ status: CommitStatus, on sha: String, in repository: RepositoryRef) async throws {
        var json = [
            "state": status.state.rawValue, "context": CommitStatus.context,
            "description": String(status.description.prefix(140)),
        ]
        if let target = status.targetURL { json["target_url"] = target }
        _ = try await http.send(
            .POST, "\(Self.path(repository))/statuses/\(Self.component(sha))", json: json,
            operation: "set the commit status of \(sha.prefix(10)) on \(repository)")
    }

    static func path(_ repository: RepositoryRef) -> String {
        "/repos/\(component(repository.owner))/\(component(repository.name))"
    }

    /// One path component, percent-encoded (names come from webhook payloads).
    static func component(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "_"
    }
}

/// The parts of Gitea's webhook payloads and API answers that cc-ci reads (the shapes of
/// Gitea's `modules/structs`: `IssueCommentPayload`, `PullRequestPayload`, `PullRequest`,
/// `RepoCollaboratorPermission`, `Comment`). Unknown fields are ignored.
enum GiteaPayload {
    struct User: Decodable {
        let login: String
    }

    struct Repository: Decodable {
        let name: String
        let fullName: String?
        let owner: User?

        enum CodingKeys: String, CodingKey {
            case name, owner
            case fullName = "full_name"
        }

        /// The repository, its owner and name checked against the forge's own rules before
        /// anything is stored or logged; `full_name`, when present, must say the same.
        func ref() throws(WebhookError) -> RepositoryRef {
            guard RepositoryRef.isRepositoryName(name) else {
                throw .malformed("`repository.name` is not a repository name the forge allows")
            }
            let ownerName: String
            if let login = owner?.login {
                guard RepositoryRef.isOwnerName(login) else {
                    throw .malformed("`repository.owner.login` is not an owner name the forge allows")
                }
                ownerName = login
            } else if let fullName, let parsed = RepositoryRef(fullName: fullName) {
                ownerName = parsed.owner
            } else {
                throw .malformed("`repository` names no owner")
            }
            let ref = RepositoryRef(owner: ownerName, name: name)
            if let fullName {
                guard let parsed = RepositoryRef(fullName: fullName), parsed.key == ref.key else {
                    throw .malformed("`repository.full_name` is not the owner/name the payload names")
                }
            }
            return ref
        }
    }

    /// A login, checked against the forge's rules for user names.
    static func login(_ user: User?, _ field: String) throws(WebhookError) -> String? {
        guard let login = user?.login else { return nil }
        guard RepositoryRef.isOwnerName(login) else {
            throw .malformed("`\(field).login` is not a user name the forge allows")
        }
        return login
    }

    struct PullRequestMeta: Decodable {
        let merged: Bool?
    }

    struct Issue: Decodable {
        let number: Int
        let state: String
        let pullRequest: PullRequestMeta?

        enum CodingKeys: String, CodingKey {
            case number, state
            case pullRequest = "pull_request"
        }
    }

    struct Comment: Decodable {
        let id: Int64
        let body: String?
        let user: User?
        let updatedAt: String?

        enum CodingKeys: String, CodingKey {
            case id, body, user
            case updatedAt = "updated_at"
        }
    }

    struct IssueComment: Decodable {
        let action: String
        let issue: Issue
        let comment: Comment
        let repository: Repository
        let sender: User?
        let isPull: Bool?

        enum CodingKeys: String, CodingKey {
            case action, issue, comment, repository, sender
            case isPull = "is_pull"
        }

        func event() throws(WebhookError) -> CommentEvent {
            guard issue.number > 0 else { throw .malformed("`issue.number` is not an issue number") }
            guard comment.id > 0 else { throw .malformed("`comment.id` is not a comment id") }
            var author = try GiteaPayload.login(comment.user, "comment.user")
            if author == nil { author = try GiteaPayload.login(sender, "sender") }
            guard let author else {
                throw .malformed("neither `comment.user` nor `sender` names the author")
            }
            return CommentEvent(
                action: action, repository: try repository.ref(), issue: issue.number,
                isPullRequest: isPull ?? (issue.pullRequest != nil),
                isOpen: issue.state == "open" && issue.pullRequest?.merged != true, commentID: comment.id,
                updatedAt: comment.updatedAt.flatMap(ForgeTime.parse), body: comment.body ?? "", author: author)
        }
    }

    struct Branch: Decodable {
        let sha: String
        let ref: String?
    }

    struct PullRequest: Decodable {
        let number: Int
        let state: String
        let merged: Bool?
        let head: Branch
        let base: Branch?
        let htmlURL: String?
        let updatedAt: String?

        enum CodingKeys: String, CodingKey {
            case number, state, merged, head, base
            case htmlURL = "html_url"
            case updatedAt = "updated_at"
        }
    }

    struct PullRequestChange: Decodable {
        let action: String
        let number: Int
        let pullRequest: PullRequest
        let repository: Repository

        enum CodingKeys: String, CodingKey {
            case action, number, repository
            case pullRequest = "pull_request"
        }

        func event() throws(WebhookError) -> PullRequestEvent {
            guard number > 0 else { throw .malformed("`number` is not a pull request number") }
            guard CommitID.isValid(pullRequest.head.sha) else {
                throw .malformed("`pull_request.head.sha` is not a commit id")
            }
            return PullRequestEvent(
                action: action, repository: try repository.ref(), number: number,
                headSHA: pullRequest.head.sha.lowercased(), updatedAt: pullRequest.updatedAt.flatMap(ForgeTime.parse))
        }
    }

    struct Permission: Decodable {
        let permission: String
    }
}
