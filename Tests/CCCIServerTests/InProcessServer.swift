import CCCIServer
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A `ccci serve` built in this process (`buildApplication`, its services running) against a
/// ``ForgeStub``, for the bridge's tests. Without workers, accepted jobs stay queued.
struct InProcessServer: Sendable {
    let client: any TestClientProtocol
    let stub: ForgeStub
    let harness: ServerHarness
    let store: any NodeStore

    /// The head of pull request #1 of recipes/web on the stub.
    static let head = String(repeating: "ab", count: 20)

    /// Runs `body` against a fresh server: recipes/web#1 open at ``head``, `alice` may write,
    /// `mallory` may only read. With `adminToken`, the node has the harness' admin token.
    static func with<T: Sendable>(
        workers: Int = 0, allowlist: [String] = [], owners: [String] = [], adminToken: Bool = false,
        configure: @Sendable (inout ServerArguments) -> Void = { _ in },
        _ body: @Sendable (InProcessServer) async throws -> T
    ) async throws -> T {
        try await ForgeStub.with { stub in
            stub.setPullRequest("recipes/web", 1, head: head)
            stub.grant("alice", "write", on: "recipes/web")
            stub.grant("mallory", "read", on: "recipes/web")
            let harness = try ServerHarness()
            var arguments = try harness.arguments(stub: stub, workers: workers, allowlist: allowlist, owners: owners)
            if adminToken { arguments.adminToken = SecretValue(harness.adminToken) }
            configure(&arguments)
            let app = try await buildApplication(arguments)
            let store = try await harness.store()
            return try await app.test(.router) { client in
                try await body(InProcessServer(client: client, stub: stub, harness: harness, store: store))
            }
        }
    }

    /// Posts a delivery to `/hooks/forge`, signed with the node's secret unless `signature` says
    /// otherwise (`nil`: unsigned, a string: that value).
    @discardableResult
    func post(
        _ body: [UInt8], event: String = "issue_comment", delivery: String? = UUID().uuidString,
        signature: String?? = .none
    ) async throws -> TestResponse {
        var headers = HTTPFields()
        for (name, value) in WebhookFixture.headers(
            event: event, body: body, secret: harness.secret, delivery: delivery ?? "")
        {
            headers[HTTPField.Name(name)!] = value
        }
        // `nil`: no delivery id at all (it is an unsigned header; nothing may rest on it).
        if delivery == nil { headers[HTTPField.Name("X-Gitea-Delivery")!] = nil }
        switch signature {
        case .none: break
        case .some(.none): headers[HTTPField.Name("X-Gitea-Signature")!] = nil
        case .some(.some(let value)): headers[HTTPField.Name("X-Gitea-Signature")!] = value
        }
        return try await client.execute(
            uri: "/hooks/forge", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    /// Waits until the outbox has nothing pending (the sender delivered or gave up on everything).
    func repliesSettled(timeout: Duration = .seconds(20)) async throws -> Bool {
        try await poll(until: { try await store.replies().allSatisfy { $0.state != .pending } }, timeout: timeout)
    }

    /// Every job in the store.
    func jobs() async throws -> [Job] {
        try await store.jobs()
    }
}
