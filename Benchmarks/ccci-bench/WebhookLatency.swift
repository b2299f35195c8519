import ArgumentParser
import AsyncHTTPClient
import CCCICore
import CCCIServer
import CCCIStore
import CCCITestSupport
import Foundation
import NIOCore

/// Webhook accept latency of `ccci serve` on loopback, with a deep queue: the time from sending a
/// signed delivery to receiving the answer, per kind of delivery. The server is the real one
/// (router, bridge, SQLite store on disk, forge client); the forge is the test stub on loopback
/// (an accepted `!testme` asks it for the commenter's permission and the pull request's head).
/// No runs are started (no workers), so the queue only grows.
struct WebhookLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook", abstract: "Measure webhook accept latency (p50, p99) with a deep queue.")

    @Option(help: "Jobs queued before measuring.")
    var queued = 1000

    @Option(help: "Deliveries measured per kind.")
    var requests = 500

    @Option(help: "Senders at once for the concurrent row (accepted !testme, each its own pull request).")
    var senders = 8

    func run() async throws {
        let queued = self.queued
        let requests = self.requests
        let senders = self.senders
        let server = try ServerHarness(recipes: ["web"])
        try await ForgeStub.with { stub in
            stub.grant("alice", "write", on: "recipes/web")
            for pr in 1...(2 * requests + 1) {
                stub.setPullRequest("recipes/web", pr, head: String(format: "%040x", pr))
            }
            let store = try await server.store()
            // The deep queue: jobs of other pull requests, as they would wait on a busy node.
            _ = try await store.transaction { queue in
                for index in 0..<queued {
                    _ = try queue.insert(
                        Job(
                            recipe: "web", repository: "recipes/web", pr: 100_000 + index,
                            headSHA: String(format: "%040x", 100_000 + index), stages: nil, requester: "alice",
                            commentID: nil))
                }
            }
            try await withServer(server, stub: stub) { port in
                let url = "http://127.0.0.1:\(port)/hooks/forge"
                let secret = server.secret
                @Sendable func measure(_ body: [UInt8], signed: Bool = true) async throws -> (Double, Int) {
                    let headers = WebhookFixture.headers(
                        event: "issue_comment", body: body, secret: signed ? secret : "wrong-secret")
                    let start = ContinuousClock.now
                    let answer = try await WebhookFixture.post(body, headers: headers, to: url)
                    let elapsed = ContinuousClock.now - start
                    return (
                        Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000,
                        answer.status
                    )
                }
                // Warm-up (connection pool, caches).
                for index in 0..<20 {
                    _ = try await measure(try WebhookFixture.comment("just a comment", commentID: 900_000 + index))
                }
                var rows: [(String, Int, [Double])] = []
                var accepted: [Double] = []
                for pr in 1...requests {
                    let (ms, status) = try await measure(try WebhookFixture.comment("!testme", pr: pr, commentID: pr))
                    guard status == 202 else { throw ValidationError("!testme for #\(pr) answered \(status)") }
                    accepted.append(ms)
                }
                rows.append(("accepted !testme (queued)", 202, accepted))
                var coalesced: [Double] = []
                for pr in 1...requests {
                    let (ms, status) = try await measure(
                        try WebhookFixture.comment("!testme", pr: pr, commentID: 500_000 + pr))
                    guard status == 200 else { throw ValidationError("repeat !testme for #\(pr) answered \(status)") }
                    coalesced.append(ms)
                }
                rows.append(("repeat !testme (coalesced)", 200, coalesced))
                var ignored: [Double] = []
                var forged: [Double] = []
                for index in 1...requests {
                    let body = try WebhookFixture.comment("looks good", commentID: 700_000 + index)
                    ignored.append(try await measure(body).0)
                    forged.append(try await measure(body, signed: false).0)
                }
                rows.append(("other comment (ignored)", 204, ignored))
                rows.append(("forged signature", 401, forged))
                // `senders` at once, each its own pull request (fresh jobs: the queue keeps growing).
                let concurrent = try await withThrowingTaskGroup(of: [Double].self) { group in
                    for sender in 0..<senders {
                        group.addTask {
                            var times: [Double] = []
                            for pr in stride(from: requests + 1 + sender, through: 2 * requests, by: senders) {
                                let (ms, status) = try await measure(
                                    try WebhookFixture.comment("!testme", pr: pr, commentID: 800_000 + pr))
                                guard status == 202 else {
                                    throw ValidationError("!testme for #\(pr) answered \(status)")
                                }
                                times.append(ms)
                            }
                            return times
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
                rows.append(("accepted, \(senders) senders at once", 202, concurrent))
                let depth = try await store.jobCount(in: .queued)
                #if DEBUG
                let build = "a debug build (measure `swift build -c release --product ccci-bench`)"
                #else
                let build = "a release build"
                #endif
                print("webhook accept latency on loopback, \(build) — \(queued) jobs queued before, \(depth) after")
                print("kind                          status  requests      p50      p90      p99      max")
                for (name, status, values) in rows {
                    print(
                        String(
                            format: "%@  %6d  %8d  %6.1f ms %6.1f ms %6.1f ms %6.1f ms",
                            name.padding(toLength: 28, withPad: " ", startingAt: 0), status, values.count,
                            percentile(values, 50), percentile(values, 90), percentile(values, 99), values.max() ?? 0))
                }
                print("target (accepted !testme): p50 ≤ 20 ms, p99 ≤ 50 ms")
            }
        }
    }
}

/// The `p`th percentile of `values` (linear interpolation).
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = p / 100 * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down))
    let high = min(low + 1, sorted.count - 1)
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}
