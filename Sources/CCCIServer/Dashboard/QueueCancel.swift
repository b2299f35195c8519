import Foundation
import Hummingbird
import Logging
import NIOCore

/// `POST /queue/<number>/cancel`: an operator cancels a job with the node's admin token
/// (`serve.admin_token_file`), given as the queue page's form field `token` or as
/// `Authorization: Bearer <token>`. A queued job is cancelled at once; a running job's run is told
/// to stop, tears down and is recorded cancelled, and its pull request is told either way.
///
/// Answers: 200 with what was done; 403 without the right token, or when the node has none;
/// 404 for an unknown job; 409 for a job that had already ended; 413 for a body over 4 KiB.
struct QueueCancel {
    /// The largest form body read (the token field and little else).
    static let bodyLimit = 4096

    let bridge: Bridge
    let adminToken: SecretValue?

    func cancel(_ number: Int64, request: Request) async throws -> Response {
        guard let adminToken else {
            return .page(
                .forbidden, title: "Cancelling is off",
                "This node has no admin token: set <code>admin_token_file</code> in its <code>[serve]</code> table.")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.bodyLimit {
            return .page(.contentTooLarge, title: "Not cancelled", "The form is larger than \(Self.bodyLimit) bytes.")
        }
        guard let token = await Self.token(of: request), adminToken.matches(token) else {
            bridge.logger.warning("job cancel refused: wrong or missing admin token", metadata: ["job.id": "\(number)"])
            return .page(.forbidden, title: "Not cancelled", "That is not this node's admin token.")
        }
        switch try await bridge.cancel(job: number, logger: bridge.logger) {
        case .unknown:
            return .notFoundPage("No job \(number) here.")
        case .ended(let job):
            return .page(
                .conflict, title: "Already ended",
                "Job \(number) (\(job.recipe), #\(job.pr)) had already ended: \(job.state.rawValue).")
        case .stopped(let job):
            let what: HTML =
                job.state == .cancelled
                ? "Job \(number) (\(job.recipe), #\(job.pr)) is cancelled; it had not started."
                : "Job \(number) (\(job.recipe), #\(job.pr)) is being stopped: its run tears down and is recorded cancelled."
            return .page(.ok, title: "Cancelled", what)
        }
    }

    /// The token from `Authorization: Bearer …` or the form field `token`.
    static func token(of request: Request) async -> String? {
        if let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") {
            return String(authorization.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        }
        guard let body = try? await request.body.collect(upTo: bodyLimit) else { return nil }
        return FormBody(String(buffer: body)).value(of: "token")
    }
}

/// An `application/x-www-form-urlencoded` body.
struct FormBody {
    let pairs: [(name: String, value: String)]

    init(_ text: String) {
        pairs = text.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// The first value of field `name`.
    func value(of name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// `+` is a space; `%XX` a byte (left as it is when malformed).
    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

extension Response {
    /// A dashboard page with a heading and a message, and a link back to the queue.
    static func page(_ status: HTTPResponse.Status, title: String, _ message: HTML) -> Response {
        html(
            Layout.page(title: title, "<h1>\(title)</h1><p>\(message)</p><p><a href=\"/queue\">The queue</a></p>"),
            status: status)
    }
}
