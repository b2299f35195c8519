import Foundation

/// The forge that hosts the recipes' pull requests (Gitea, Forgejo; GitHub can follow): how its
/// webhooks are verified and read, and the few API calls cc-ci makes — the bridge's, and the
/// mirror sync's (SPEC F-MIRROR). One protocol for both, here where the server and the warm
/// module can see it.
///
/// Implementations verify a delivery's signature before they parse anything, retry the forge's
/// 5xx answers and time-outs a bounded number of times, and never put the webhook secret or the
/// API token in an error, a log line or a reply.
public protocol Forge: Sendable {
    /// `gitea`, `forgejo`, … (for messages).
    var name: String { get }

    /// Checks the delivery's signature (in constant time), then reads the event.
    func event(from delivery: WebhookDelivery) throws(WebhookError) -> ForgeEvent

    /// A pull request as the forge has it now (its head commit, its state).
    func pullRequest(_ number: Int, in repository: RepositoryRef) async throws -> PullRequestInfo

    /// What `user` may do in `repository` (the collaborator permission API).
    func permission(of user: String, in repository: RepositoryRef) async throws -> RepositoryPermission

    /// Posts a comment on an issue or pull request; returns the new comment's id.
    func postComment(_ body: String, on issue: Int, in repository: RepositoryRef) async throws -> Int64

    /// Replaces the text of a comment.
    func editComment(_ id: Int64, body: String, in repository: RepositoryRef) async throws

    /// Sets a commit status.
    func setStatus(_ status: CommitStatus, on sha: String, in repository: RepositoryRef) async throws

    /// The open pull requests of `repository` (every page).
    func openPullRequests(in repository: RepositoryRef) async throws -> [PullRequestInfo]

    /// Closes pull request `number` (without merging it).
    func closePullRequest(_ number: Int, in repository: RepositoryRef) async throws
}

/// A repository on the forge: `owner/name`.
public struct RepositoryRef: Sendable, Hashable, CustomStringConvertible {
    public let owner: String
    public let name: String

    public init(owner: String, name: String) {
        self.owner = owner
        self.name = name
    }

    /// Reads `owner/name`, each part as the forge accepts it (``isOwnerName(_:)``,
    /// ``isRepositoryName(_:)``); `nil` for anything else.
    public init?(fullName: String) {
        let parts = fullName.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.isOwnerName(String(parts[0])), Self.isRepositoryName(String(parts[1])) else {
            return nil
        }
        self.init(owner: String(parts[0]), name: String(parts[1]))
    }

    public var fullName: String { "\(owner)/\(name)" }
    public var description: String { fullName }

    /// The repository's identity: Gitea and Forgejo compare owners and names without case.
    public var key: String { fullName.lowercased() }

    /// Whether `text` is a user or organisation name as Gitea and Forgejo accept one: ASCII
    /// letters, digits, `-`, `_` and `.`, starting with a letter or digit, never two of `-_.` in a
    /// row nor one at the end, at most 40 characters. Logins (a commenter) follow the same rule.
    public static func isOwnerName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...40).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        var previousSpecial = false
        for byte in bytes {
            let special = byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            guard special || isAlphanumeric(byte) else { return false }
            if special && previousSpecial { return false }
            previousSpecial = special
        }
        return !previousSpecial
    }

    /// Whether `text` is a repository name as Gitea and Forgejo accept one: 1 to 100 ASCII
    /// letters, digits, `-`, `_` and `.`; not `.`, `..` or `-`; not ending in `.git`, `.wiki`,
    /// `.rss` or `.atom`.
    public static func isRepositoryName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...100).contains(bytes.count), ![".", "..", "-"].contains(text) else { return false }
        guard
            bytes.allSatisfy({
                isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            })
        else { return false }
        let lower = text.lowercased()
        return ![".git", ".wiki", ".rss", ".atom"].contains { lower.hasSuffix($0) }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// A full commit id: 40 hex digits (SHA-1), or 64 (SHA-256 repositories) — the only form a head
/// is taken in and passed on to `ccci run --ref`.
public enum CommitID {
    public static func isValid(_ text: String) -> Bool {
        (text.utf8.count == 40 || text.utf8.count == 64)
            && text.utf8.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
                    || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0)
            }
    }
}

/// One webhook request as it arrived: its headers (names lower-cased) and raw body.
public struct WebhookDelivery: Sendable {
    public let headers: [String: String]
    public let body: [UInt8]

    public init(headers: [String: String], body: [UInt8]) {
        self.headers = Dictionary(
            headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What a verified webhook delivery says.
public struct ForgeEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A comment on an issue or pull request was created, edited or deleted.
        case comment(CommentEvent)
        /// A pull request changed (opened, pushed to, closed, …).
        case pullRequest(PullRequestEvent)
        /// Any other event (by its name): not acted on.
        case other(String)
    }

    /// The forge's id of this delivery (`nil` when it sent none).
    public let delivery: String?
    public let kind: Kind

    public init(delivery: String?, kind: Kind) {
        self.delivery = delivery
        self.kind = kind
    }
}

/// A comment event (`issue_comment`).
public struct CommentEvent: Sendable, Hashable {
    /// `created`, `edited`, `deleted`.
    public let action: String
    public let repository: RepositoryRef
    /// The issue or pull request number.
    public let issue: Int
    public let isPullRequest: Bool
    /// Whether the issue or pull request is open (as the payload says).
    public let isOpen: Bool
    public let commentID: Int64
    /// When the comment was last changed, as the forge says (`comment.updated_at`).
    public let updatedAt: Date?
    public let body: String
    /// The comment's author (login).
    public let author: String

    public init(
        action: String, repository: RepositoryRef, issue: Int, isPullRequest: Bool, isOpen: Bool, commentID: Int64,
        updatedAt: Date?, body: String, author: String
    ) {
        self.action = action
        self.repository = repository
        self.issue = issue
        self.isPullRequest = isPullRequest
        self.isOpen = isOpen
        self.commentID = commentID
        self.updatedAt = updatedAt
        self.body = body
        self.author = author
    }
}

/// A pull request event (`pull_request`).
public struct PullRequestEvent: Sendable, Hashable {
    /// `synchronized` (a push), `opened`, `closed`, …
    public let action: String
    public let repository: RepositoryRef
    public let number: Int
    /// The new head (a commit id, lower case).
    public let headSHA: String
    /// When the forge last changed the pull request (`pull_request.updated_at`): orders pushes,
    /// so a replayed or late push never wins over a newer one.
    public let updatedAt: Date?

    public init(action: String, repository: RepositoryRef, number: Int, headSHA: String, updatedAt: Date?) {
        self.action = action
        self.repository = repository
        self.number = number
        self.headSHA = headSHA
        self.updatedAt = updatedAt
    }
}

/// A pull request as the forge reports it.
public struct PullRequestInfo: Sendable, Hashable {
    public let number: Int
    public let isOpen: Bool
    public let headSHA: String
    public let baseRef: String?
    public let htmlURL: String?
    /// When the forge last changed the pull request.
    public let updatedAt: Date?

    public init(
        number: Int, isOpen: Bool, headSHA: String, baseRef: String?, htmlURL: String?, updatedAt: Date? = nil
    ) {
        self.number = number
        self.isOpen = isOpen
        self.headSHA = headSHA
        self.baseRef = baseRef
        self.htmlURL = htmlURL
        self.updatedAt = updatedAt
    }
}

/// The forge's timestamps: RFC 3339, with or without fractional seconds, any offset.
public enum ForgeTime {
    public static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

/// What a user may do in a repository.
public enum RepositoryPermission: String, Sendable, Hashable {
    case none
    case read
    case write
    case admin
    case owner

    /// Write access or more: may ask for a test run.
    public var canWrite: Bool { self == .write || self == .admin || self == .owner }
}

/// A commit status (context `cc-ci`).
public struct CommitStatus: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        case pending
        case success
        case failure
        case error
    }

    public static let context = "cc-ci"

    public let state: State
    public let description: String
    public let targetURL: String?

    public init(state: State, description: String, targetURL: String?) {
        self.state = state
        self.description = description
        self.targetURL = targetURL
    }
}

/// A webhook delivery that is not acted on because it cannot be trusted or read.
public enum WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No signature header.
    case unsigned
    /// A signature that does not match the body under the node's secret.
    case badSignature
    /// Signed, but not a payload this forge sends (the reason names the field).
    case malformed(String)

    public var description: String {
        switch self {
        case .unsigned: return "the delivery carries no signature header"
        case .badSignature: return "the delivery's signature does not match its body under this node's webhook secret"
        case .malformed(let reason): return "the payload cannot be read: \(reason)"
        }
    }
}

/// A forge API call that did not succeed: which call, to which URL, what came back, and the fix.
public struct ForgeError: Error, Sendable, CustomStringConvertible {
    /// What cc-ci was doing (`post a comment on coop-cloud/web#3`).
    public let operation: String
    /// The method and URL (never carrying a credential).
    public let request: String
    /// The HTTP status, when the forge answered.
    public let status: Int?
    /// What went wrong (the forge's message, or the transport error).
    public let reason: String
    public let attempts: Int
    /// What to do about it.
    public let hint: String?

    public init(operation: String, request: String, status: Int?, reason: String, attempts: Int, hint: String?) {
        self.operation = operation
        self.request = request
        self.status = status
        self.reason = reason
        self.attempts = attempts
        self.hint = hint
    }

    public var description: String {
        var text = "cannot \(operation): "
        text += status.map { "the forge answered \($0) (\(reason))" } ?? reason
        if attempts > 1 { text += " after \(attempts) attempts" }
        text += " — \(request)"
        if let hint { text += " — \(hint)" }
        return text
    }
}
