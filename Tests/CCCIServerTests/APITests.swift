import CCCICore
import CCCIServer
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The JSON API `/api/v1/…`, served from the generated protocol of `Sources/CCCIAPI/openapi.yaml`.
@Suite struct APITests {
    func json(_ server: InProcessServer, _ path: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        let response = try await server.client.execute(uri: path, method: .get, headers: [:], body: nil)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
        return (response.status, object)
    }

    func seed(_ store: any NodeStore) async throws {
        let now = Date()
        for (index, level) in [3, 4].enumerated() {
            try await store.record(
                DashboardTests.results(
                    "web", level: level, runID: "2026010\(index)T000000Z-web-aaaaa\(index)",
                    startedAt: now.addingTimeInterval(Double(index) * 60)))
        }
        try await store.record(
            DashboardTests.results("appdb", level: 1, runID: "20260101T000000Z-appdb-bbbbbb", startedAt: now))
    }

    @Test("every tier verdict cc-ci records reaches the API: a flaky tier is listed as flaky, never dropped")
    func everyVerdict() async throws {
        try await InProcessServer.with { server in
            var results = DashboardTests.results(
                "web", level: 3, runID: "20260105T000000Z-web-ccccc0", startedAt: Date())
            results.tiers["custom"]?.status = .flaky
            try await server.store.record(results)
            let (_, recipes) = try await json(server, "/api/v1/recipes")
            let list = try #require(recipes["recipes"] as? [[String: Any]])
            #expect((list.first?["tiers"] as? [String: String])?["custom"] == "flaky", "\(list)")
        }
    }

    @Test("recipes, runs (filtered, limited), one run's document and the queue, as the document describes them")
    func reads() async throws {
        try await InProcessServer.with { server in
            try await seed(server.store)
            let (status, recipes) = try await json(server, "/api/v1/recipes")
            #expect(status == .ok)
            let list = try #require(recipes["recipes"] as? [[String: Any]])
            #expect(list.map { $0["recipe"] as? String } == ["appdb", "web"])
            #expect(list[1]["level"] as? Int == 4 && list[1]["trend"] as? [Int] == [3, 4])
            #expect(list[1]["last_run_id"] as? String == "20260101T000000Z-web-aaaaa1")
            #expect((list[1]["tiers"] as? [String: String])?["custom"] == "pass")

            let (_, runs) = try await json(server, "/api/v1/runs?recipe=web&limit=1")
            let one = try #require(runs["runs"] as? [[String: Any]])
            #expect(one.count == 1 && one[0]["run_id"] as? String == "20260101T000000Z-web-aaaaa1")
            #expect(one[0]["duration_s"] as? Double == 42)

            let (runStatus, run) = try await json(server, "/api/v1/runs/20260100T000000Z-web-aaaaa0")
            #expect(runStatus == .ok && run["level"] as? Int == 3 && run["outcome"] as? String == "fail")
            #expect((run["tiers"] as? [String: Any])?["custom"] != nil)
            #expect(run["manifest"] != nil, "the document's other fields pass through")

            try await server.post(WebhookFixture.comment("!testme"))
            let (_, queue) = try await json(server, "/api/v1/queue")
            let queued = try #require(queue["queued"] as? [[String: Any]])
            #expect(
                queued.count == 1 && queued[0]["recipe"] as? String == "web"
                    && queued[0]["state"] as? String == "queued")
            #expect((queue["running"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("a bad limit or recipe name is 400 with a sentence; an unknown or malformed run id is 404, never a crash")
    func errors() async throws {
        try await InProcessServer.with { server in
            for path in [
                "/api/v1/runs?limit=0", "/api/v1/runs?limit=5000", "/api/v1/runs?recipe=..%2Fetc",
                "/api/v1/runs?limit=abc",
            ] {
                let (status, body) = try await json(server, path)
                #expect(status == .badRequest, "\(path)")
                #expect((body["error"] as? String)?.isEmpty == false, "\(path)")
            }
            for path in ["/api/v1/runs/20260101T000000Z-web-ffffff", "/api/v1/runs/..", "/api/v1/runs/%3Cscript%3E"] {
                let (status, _) = try await json(server, path)
                #expect(status == .notFound, "\(path)")
            }
            let post = try await server.client.execute(uri: "/api/v1/recipes", method: .post, headers: [:], body: nil)
            #expect(post.status == .methodNotAllowed && post.headers[.allow] == "GET, HEAD")
        }
    }

    @Test(
        "schemathesis against the OpenAPI document: every operation, fuzzed; no 5xx, every response matches the schema")
    func schemathesis() async throws {
        try await ForgeStub.with { stub in
            let harness = try ServerHarness()
            let app = try await buildApplication(harness.arguments(stub: stub))
            let store = try await harness.store()
            try await seed(store)
            try await app.test(.live) { client in
                let port = try #require(client.port)
                let schema = TestEnvironment.repositoryRoot.appendingPathComponent("Sources/CCCIAPI/openapi.yaml")
                // Its replay cache goes to a directory of its own, not the checkout.
                let work = try TemporaryDirectory("ccci-schemathesis")
                let result = try await ProcessRunner().run(
                    Command(
                        "schemathesis",
                        [
                            "run", schema.path, "--url", "http://127.0.0.1:\(port)/api/v1", "--checks", "all",
                            "--max-examples", "40", "--no-color",
                        ], environment: ["SCHEMATHESIS_HOOKS": nil], workingDirectory: work.url))
                #expect(result.status == 0, "\(result.output.suffix(4000))\(result.errorOutput.suffix(2000))")
            }
        }
    }
}
