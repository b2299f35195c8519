import Foundation

/// Pull requests on a mirror, as the mirror sync needs them (the node's forge).
public protocol MirrorPullRequests: Sendable {
    /// The open pull requests of `repository` (`owner/name`).
    func openPullRequests(in repository: String) async throws -> [MirrorPullRequest]
    /// Closes pull request `number`, saying why in a comment.
    func close(_ number: Int, in repository: String, comment: String) async throws
}

/// An open pull request on a mirror.
public struct MirrorPullRequest: Sendable, Hashable {
    public let number: Int
    public let head: String
    /// The branch it would merge into (`nil`: the forge did not say).
    public let base: String?

    public init(number: Int, head: String, base: String? = nil) {
        self.number = number
        self.head = head
        self.base = base
    }
}
