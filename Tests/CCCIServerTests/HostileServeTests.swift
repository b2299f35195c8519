import CCCICore
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import CCCIServer

/// `ccci serve` tried as an adversarial user would: replayed and forged-looking deliveries,
/// repositories named like a recipe, payload names the forge would never send, pushes racing
/// `!testme`, a deep queue, run files that point out of their directory, live log streams that
/// outlive their run or their client, an unwritable store. Through the real router, the real
/// store and a stub forge over loopback; the process-level cases are in the integration suite
/// (`Integration.Serve`) and `scripts/serve-attacks.sh`.
@Suite(.timeLimit(.minutes(5)))
struct HostileServeTests {
    func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    func get(
        _ server: InProcessServer, _ path: String, method: HTTPRequest.Method = .get
    ) async throws
        -> TestResponse
    {
        try await server.client.execute(uri: path, method: method)
    }

    /// A payload with some fields changed.
    func edited(_ body: [UInt8], _ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        change(&object)
        return Array(try JSONSerialization.data(withJSONObject: object))
    }

    // MARK: - Replays

    @Test(
        "a replayed !testme changes nothing, with or without a delivery id, while its job runs and after it ended; an edited comment is no request; a new comment is"
    )
    func replays() async throws {
        try await InProcessServer.with { server async throws in
            let body = try WebhookFixture.comment("!testme", commentID: 101)
            #expect(try await server.post(body, delivery: "d-1").status == .accepted)
            /// The forge reads (permission, pull request) so far; replies are writes.
            func reads() -> Int { server.stub.calls.filter { $0.method == "GET" }.count }
            let asked = reads()
            #expect(try await server.post(body, delivery: "d-2").status == .noContent, "a new delivery id")
            #expect(try await server.post(body, delivery: nil).status == .noContent, "no delivery id")
            #expect(try await server.repliesSettled())
            #expect(server.stub.comments(on: "recipes/web", 1).count == 1, "no 'already testing' reply per replay")
            let job = try #require(try await server.jobs().first)
            try await server.store.updateJob(job.number) { job, _ in job.state = .passed }
            #expect(try await server.post(body, delivery: "d-3").status == .noContent, "after the job ended")
            let edited = try WebhookFixture.comment("!testme", commentID: 101, action: "edited")
            #expect(try await server.post(edited).status == .noContent)
            #expect(reads() == asked, "replays ask the forge nothing")
            #expect(try await server.jobs().count == 1)
            // Another comment is another request.
            #expect(try await server.post(WebhookFixture.comment("!testme", commentID: 102)).status == .accepted)
            #expect(try await server.jobs().count == 2)
            let record = try #require(try await server.store.testmeRequest(repository: "recipes/web", commentID: 101))
            #expect(record.outcome == .queued && record.jobID == job.id && record.author == "alice")
        }
    }

    // MARK: - Repositories

    @Test(
        "with no owners set, another owner's repository named like a recipe can neither queue, cancel nor supersede its jobs; a head that is not a commit id is 400"
    )
    func repositoryKeyed() async throws {
        try await InProcessServer.with { server async throws in
            server.stub.setPullRequest("recipes/web", 7, head: InProcessServer.head)
            server.stub.setPullRequest("evil/web", 7, head: String(repeating: "e", count: 40))
            server.stub.grant("mallory", "owner", on: "evil/web")
            #expect(try await server.post(WebhookFixture.comment("!testme", pr: 7, commentID: 1)).status == .accepted)
            let evil = try WebhookFixture.comment("!testme", repository: "evil/web", pr: 7, author: "mallory")
            #expect(try await server.post(evil).status == .noContent)
            let push = try WebhookFixture.synchronized(
                repository: "evil/web", pr: 7, head: String(repeating: "f", count: 40),
                updatedAt: "2099-01-01T00:00:00Z")
            #expect(try await server.post(push, event: "pull_request").status == .noContent)
            let close = try WebhookFixture.synchronized(
                repository: "evil/web", pr: 7, head: String(repeating: "f", count: 40),
                updatedAt: "2099-01-01T00:00:00Z", action: "closed")
            #expect(try await server.post(close, event: "pull_request").status == .noContent)
            #expect(!server.stub.calls.contains { $0.path.contains("evil") }, "nothing of evil/web reached the forge")
            let notACommit = try WebhookFixture.synchronized(pr: 7, head: "main")
            #expect(try await server.post(notACommit, event: "pull_request").status == .badRequest)
            let short = try WebhookFixture.synchronized(pr: 7, head: "abc123")
            #expect(try await server.post(short, event: "pull_request").status == .badRequest)
            let jobs = try await server.jobs()
            #expect(jobs.count == 1 && jobs[0].state == .queued && jobs[0].repository == "recipes/web")
        }
    }

    @Test("the catalogue says which repository is a recipe's: a mirror of another name matches, a look-alike does not")
    func enrolment() throws {
        let forge = try #require(URL(string: "https://git.example.org"))
        #expect(
            Enrolment.repository(at: "https://git.example.org/coop-cloud/web.git", on: forge)?.key == "coop-cloud/web")
        #expect(Enrolment.repository(at: "git@git.example.org:Coop-Cloud/web.git", on: forge)?.key == "coop-cloud/web")
        #expect(Enrolment.repository(at: "ssh://git@git.example.org:2222/a/b.git", on: forge)?.key == "a/b")
        #expect(Enrolment.repository(at: "https://elsewhere.org/coop-cloud/web.git", on: forge) == nil)
        #expect(Enrolment.repository(at: "https://git.example.org:8443/a/b.git", on: forge) == nil, "another port")
        #expect(Enrolment.repository(at: "/var/lib/recipes/web", on: forge) == nil)
        let under = try #require(URL(string: "https://example.org/git/"))
        #expect(Enrolment.repository(at: "https://example.org/git/a/b", on: under)?.key == "a/b")
        let table: Enrolment.Table = ["web": ["coop-cloud/web"], "mirrored": ["ccci/mirrored-mirror"], "loose": []]
        let open = Enrolment(owners: []) { table }
        #expect(open.match(RepositoryRef(owner: "Coop-Cloud", name: "Web")) == .recipe("web"))
        #expect(open.match(RepositoryRef(owner: "ccci", name: "mirrored-mirror")) == .recipe("mirrored"))
        guard case .notEnrolled(let why) = open.match(RepositoryRef(owner: "evil", name: "web")) else {
            Issue.record("evil/web matched")
            return
        }
        #expect(why.contains("tested from coop-cloud/web"))
        guard case .notEnrolled = open.match(RepositoryRef(owner: "anyone", name: "loose")) else {
            Issue.record("a recipe whose repository is unknown matched with no owners set")
            return
        }
        let owned = Enrolment(owners: ["Trusted"]) { table }
        #expect(owned.match(RepositoryRef(owner: "trusted", name: "loose")) == .recipe("loose"))
        guard case .notEnrolled = owned.match(RepositoryRef(owner: "coop-cloud", name: "web")) else {
            Issue.record("owners did not restrict")
            return
        }
    }

    @Test("closing a pull request stops its jobs and tells it; a replay of an old close after a reopen changes nothing")
    func closedPullRequest() async throws {
        try await InProcessServer.with { server async throws in
            #expect(try await server.post(WebhookFixture.comment("!testme")).status == .accepted)
            let closedAt = "2099-01-01T00:00:00Z"
            let close = try WebhookFixture.synchronized(
                head: InProcessServer.head, updatedAt: closedAt, action: "closed")
            #expect(try await server.post(close, event: "pull_request").status == .ok)
            let job = try #require(try await server.jobs().first)
            #expect(job.state == .cancelled && job.cancelReason == "the pull request was closed")
            #expect(try await server.repliesSettled())
            #expect(server.stub.statuses.last?.description == "cancelled: the pull request was closed")
            let reopen = try WebhookFixture.synchronized(
                head: InProcessServer.head, updatedAt: "2099-01-01T00:01:00Z", action: "reopened")
            #expect(try await server.post(reopen, event: "pull_request").status == .noContent)
            #expect(try await server.post(WebhookFixture.comment("!testme", commentID: 102)).status == .accepted)
            #expect(try await server.post(close, event: "pull_request", delivery: "again").status == .noContent)
            #expect(try await server.jobs().last?.state == .queued, "the old close is older than the reopen")
        }
    }

    @Test("a commenter without write access is refused once per pull request, however often they comment")
    func oneRefusalPerPullRequest() async throws {
        try await InProcessServer.with { server async throws in
            server.stub.setPullRequest("recipes/web", 2, head: InProcessServer.head)
            for id in 201...205 {
                let answer = try await server.post(WebhookFixture.comment("!testme", author: "mallory", commentID: id))
                #expect(answer.status == .ok)
            }
            #expect(
                try await server.post(WebhookFixture.comment("!testme", pr: 2, author: "mallory", commentID: 206))
                    .status == .ok)
            #expect(try await server.repliesSettled())
            #expect(server.stub.comments(on: "recipes/web", 1).count == 1)
            #expect(server.stub.comments(on: "recipes/web", 2).count == 1)
            #expect(try await server.jobs().isEmpty)
        }
    }

    // MARK: - Payloads

    @Test(
        "names the forge would never send (NUL, newline, '..', three parts, a full name that disagrees) are 400: nothing stored, logged raw or asked"
    )
    func payloadNames() async throws {
        try await InProcessServer.with { server async throws in
            let base = try WebhookFixture.comment("!testme")
            var bodies: [[UInt8]] = [
                try WebhookFixture.comment("!testme", repository: "../web"),
                try WebhookFixture.comment("!testme", repository: "recipes/we\nb"),
                try WebhookFixture.comment("!testme", repository: "recipes/we\u{0}b"),
                try WebhookFixture.comment("!testme", repository: "recipes/web.git"),
                try WebhookFixture.comment("!testme", repository: "a/b/c"),
                try WebhookFixture.comment("!testme", author: "alice\nINFO forged line"),
                try WebhookFixture.comment("!testme", author: "-alice"),
            ]
            bodies.append(
                try edited(base) { payload in
                    var repository = payload["repository"] as! [String: Any]
                    repository["full_name"] = "someone/else"
                    payload["repository"] = repository
                })
            for body in bodies {
                let answer = try await server.post(body)
                #expect(answer.status == .badRequest, "\(String(decoding: body.prefix(200), as: UTF8.self))")
            }
            #expect(try await server.jobs().isEmpty)
            #expect(try await server.store.replies().isEmpty)
            #expect(server.stub.calls.isEmpty)
            let logged = server.harness.logs.text
            #expect(!logged.contains("\u{0}") && !logged.contains("forged line"), "no raw value reaches the log")
        }
    }

    // MARK: - Races

    @Test("!testme racing a push, 100 times: the old head is never left queued or running")
    func pushRaces() async throws {
        try await InProcessServer.with { server async throws in
            // A forge that takes a few milliseconds per call, so the push lands mid-request.
            server.stub.delay = .milliseconds(4)
            var random = SplitMix64(seed: 42)
            let old = InProcessServer.head
            for race in 1...100 {
                let pr = 100 + race
                let new = String(format: "%040x", race)
                server.stub.setPullRequest("recipes/web", pr, head: old)
                let pause = Int(random.next() % 12)
                async let comment = server.post(WebhookFixture.comment("!testme", pr: pr, commentID: 1000 + race))
                async let push: TestResponse = {
                    try await Task.sleep(for: .milliseconds(pause))
                    server.stub.setPullRequest("recipes/web", pr, head: new)
                    return try await server.post(
                        WebhookFixture.synchronized(
                            pr: pr, head: new, updatedAt: server.stub.updatedAt("recipes/web", pr)),
                        event: "pull_request")
                }()
                _ = try await (comment, push)
            }
            let jobs = try await server.jobs()
            let stale = jobs.filter { $0.state.isActive && $0.headSHA == old }
            #expect(stale.isEmpty, "old heads left active: \(stale.map(\.pr))")
            let active = Dictionary(grouping: jobs.filter(\.state.isActive), by: \.pr)
            #expect(active.values.allSatisfy { $0.count == 1 })
            // Both orders happened: some old heads were queued then stopped, some never queued.
            let stopped = jobs.filter { $0.state == .cancelled }.count
            let direct = jobs.filter { $0.state.isActive }.count
            #expect(stopped + direct >= 100 && direct > 0, "stopped \(stopped), queued at the new head \(direct)")
        }
    }

    // MARK: - The queue

    @Test(
        "2,055 waiting jobs: the page and the API say 2,055 (a COUNT), page to the last one, and any of them can be cancelled"
    )
    func deepQueue() async throws {
        try await InProcessServer.with(adminToken: true) { server async throws in
            _ = try await server.store.transaction { queue in
                for index in 0..<2055 {
                    _ = try queue.insert(
                        Job(
                            recipe: "web", repository: "recipes/web", pr: 10_000 + index,
                            headSHA: String(format: "%040x", index), stages: nil, requester: "alice", commentID: nil))
                }
            }
            let first = text(try await get(server, "/queue"))
            #expect(first.contains("0 running, 2055 waiting."))
            #expect(first.contains("Waiting jobs 1–100 of 2055, page 1 of 21."))
            #expect(first.components(separatedBy: "<tr><td>").count - 1 == 100)
            let last = text(try await get(server, "/queue?page=21"))
            #expect(last.contains("<tr><td>2055</td>") && last.contains("#12054"))
            let api = text(try await get(server, "/api/v1/queue?offset=2000&limit=100"))
            let document = try #require(try JSONSerialization.jsonObject(with: Data(api.utf8)) as? [String: Any])
            #expect(document["total_queued"] as? Int == 2055 && (document["queued"] as? [Any])?.count == 55)
            #expect(try await get(server, "/api/v1/queue?limit=0").status == .badRequest)
            for page in ["999999999999999999", "-5", "x"] {
                #expect(try await get(server, "/queue?page=\(page)").status == .ok, "page \(page)")
            }
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(server.harness.adminToken)"
            let cancel = try await server.client.execute(uri: "/queue/2050/cancel", method: .post, headers: headers)
            #expect(cancel.status == .ok)
            #expect(try await server.store.job(2050)?.state == .cancelled)
        }
    }

    // MARK: - Run files

    @Test(
        "run files that are symlinks out of the run directory, a run directory that is one, and a FIFO are never served"
    )
    func runFilesStayInside() async throws {
        try await InProcessServer.with { server async throws in
            let runs = server.harness.home.appending("runs")
            let secret = server.harness.home.appending("admin-token-copy")
            try Data("TOP-SECRET-admin-token".utf8).write(to: secret)
            let id = "20260101T000000Z-web-aaaaaa"
            let directory = runs.appendingPathComponent(id)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in ["results.json", "run.log", "junit.xml"] {
                try FileManager.default.createSymbolicLink(
                    atPath: directory.appendingPathComponent(name).path, withDestinationPath: secret.path)
            }
            let outside = server.harness.home.appending("elsewhere")
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
            try Data("TOP-SECRET-admin-token".utf8).write(to: outside.appendingPathComponent("run.log"))
            let linked = "20260101T000000Z-web-bbbbbb"
            try FileManager.default.createSymbolicLink(
                atPath: runs.appendingPathComponent(linked).path, withDestinationPath: outside.path)
            let fifo = "20260101T000000Z-web-cccccc"
            try FileManager.default.createDirectory(
                at: runs.appendingPathComponent(fifo), withIntermediateDirectories: true)
            #expect(mkfifo(runs.appendingPathComponent("\(fifo)/run.log").path, 0o600) == 0)
            for path in [
                "/runs/\(id)/results.json", "/runs/\(id)/log", "/runs/\(id)/junit.xml", "/runs/\(id)/screenshot",
                "/runs/\(id)", "/runs/\(linked)/log", "/runs/\(linked)", "/runs/\(fifo)/log", "/api/v1/runs/\(id)",
            ] {
                let answer = try await get(server, path)
                #expect(!text(answer).contains("TOP-SECRET"), "\(path) served the file outside")
                #expect(answer.status != .ok || path == "/runs/\(id)", "\(path): \(answer.status)")
            }
        }
    }

    // MARK: - Live log streams

    /// A run directory with a log, and a job whose current run it is, in `state`.
    func run(
        _ server: InProcessServer, state: JobState, id: String = "20260101T000000Z-web-abcdef"
    ) async throws
        -> String
    {
        let directory = server.harness.home.appending("runs/\(id)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "a line\n".write(to: directory.appendingPathComponent("run.log"), atomically: true, encoding: .utf8)
        _ = try await server.store.transaction { queue in
            var job = try queue.insert(
                Job(
                    recipe: "web", repository: "recipes/web", pr: 1, headSHA: InProcessServer.head, stages: nil,
                    requester: "alice", commentID: nil))
            job.state = state
            job.runID = id
            try queue.update(job)
        }
        return id
    }

    @Test(
        "a stream on a run that ended without results sends what the log has, then 'end' saying so — it never waits forever"
    )
    func streamOfAnEndedRun() async throws {
        try await InProcessServer.with { server async throws in
            let id = try await run(server, state: .failed)
            let events = text(try await get(server, "/runs/\(id)/events"))
            #expect(events == "data: a line\n\nevent: end\ndata: the run ended without results\n\n")
        }
    }

    @Test(
        "streams are capped per client and in all (429, Retry-After), end with 'end' when the server stops, and a stopping server opens none (503)"
    )
    func streamLimitsAndShutdown() async throws {
        let streams = LiveStreams(limit: 3, perClient: 2)
        try await InProcessServer.with(configure: { $0.liveStreams = streams }) { server async throws in
            let id = try await run(server, state: .running)
            async let first = get(server, "/runs/\(id)/events")
            async let second = get(server, "/runs/\(id)/events")
            #expect(try await poll(until: { streams.count == 2 }, timeout: .seconds(10)))
            let third = try await get(server, "/runs/\(id)/events")
            #expect(third.status == .tooManyRequests && third.headers[.retryAfter] == "30")
            #expect(text(third).contains("2 live log streams are open from your address"))
            streams.close()
            for stream in try await [first, second] {
                #expect(text(stream).hasSuffix("event: end\ndata: the server is stopping\n\n"), "\(text(stream))")
            }
            #expect(try await get(server, "/runs/\(id)/events").status == .serviceUnavailable)
            #expect(try await poll(until: { streams.count == 0 }, timeout: .seconds(5)), "every place given back")
        }
        let small = LiveStreams(limit: 1, perClient: 5)
        try await InProcessServer.with(configure: { $0.liveStreams = small }) { server async throws in
            let id = try await run(server, state: .running)
            async let open = get(server, "/runs/\(id)/events")
            #expect(try await poll(until: { small.count == 1 }, timeout: .seconds(10)))
            let refused = try await get(server, "/runs/\(id)/events")
            #expect(refused.status == .tooManyRequests && text(refused).contains("open on this server"))
            small.close()
            _ = try await open
        }
    }

    // MARK: - Smaller

    @Test("every answer carries the security headers; HEAD is answered wherever GET is")
    func headersAndHead() async throws {
        try await InProcessServer.with { server async throws in
            for path in ["/", "/queue", "/api/v1/runs", "/api/v1/queue", "/no/such/page", "/badge/web.svg"] {
                let answer = try await get(server, path)
                #expect(answer.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'none'") == true, "\(path)")
                #expect(answer.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                #expect(answer.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(path)")
            }
            let policy = try #require(try await get(server, "/").headers[.contentSecurityPolicy])
            #expect(policy.contains("script-src 'sha256-") && policy.contains("frame-ancestors 'none'"))
            let unsigned = try await server.post(WebhookFixture.comment("!testme"), signature: .some(nil))
            #expect(unsigned.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            for path in ["/api/v1/runs", "/api/v1/recipes", "/", "/queue"] {
                let head = try await get(server, path, method: .head)
                #expect(
                    head.status == .ok && head.body.readableBytes == 0, "HEAD \(path): \(head.status) \(text(head))")
            }
        }
    }

    @Test(
        "/healthz is 503 saying why while another process holds the store's write lock, or its file is gone; ok again after"
    )
    func healthOfTheStore() async throws {
        try await InProcessServer.with { server async throws in
            #expect(try await get(server, "/healthz").status == .ok)
            let path = server.harness.home.appending("ccci.sqlite").path
            let holder = try LockHolder(database: URL(fileURLWithPath: path))
            let locked = try await get(server, "/healthz")
            #expect(locked.status == .serviceUnavailable && text(locked).contains("the store cannot be written"))
            holder.release()
            #expect(try await poll(until: { try await get(server, "/healthz").status == .ok }, timeout: .seconds(20)))
            let moved = path + ".moved"
            try FileManager.default.moveItem(atPath: path, toPath: moved)
            let gone = try await get(server, "/healthz")
            #expect(gone.status == .serviceUnavailable && text(gone).contains("the database file is gone"))
            try FileManager.default.moveItem(atPath: moved, toPath: path)
            #expect(try await get(server, "/healthz").status == .ok)
        }
    }

    @Test("a delivery without a well-formed signature is 401 before its body is read, even a 10 MiB one")
    func unsignedBodiesAreNotRead() async throws {
        try await InProcessServer.with { server async throws in
            let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 10 << 20)
            #expect(try await server.post(huge, signature: .some(nil)).status == .unauthorized)
            #expect(try await server.post(huge, signature: "zz").status == .unauthorized)
            #expect(try await server.post(huge).status == .contentTooLarge, "a signed one is measured first")
        }
    }

    @Test(
        "the forge is down (its port closed) when !testme comes: answered at once, the request waits, and is queued once the forge is back"
    )
    func forgeDownAtTheRequest() async throws {
        try await InProcessServer.with { server async throws in
            await server.stub.stopListening()
            let answer = try await server.post(WebhookFixture.comment("!testme"))
            #expect(answer.status == .accepted && text(answer).contains("cc-ci asks again"))
            #expect(try await server.jobs().isEmpty)
            let waiting = try #require(try await server.store.testmeRequest(repository: "recipes/web", commentID: 101))
            #expect(waiting.outcome == .waiting && waiting.attempts == 1)
            #expect(waiting.lastError?.contains("connect") == true || waiting.lastError?.contains("refused") == true)
            try await server.stub.startListening()
            // Its next attempt is due after 5 s.
            let job = try await poll(until: { try await server.jobs().first }, timeout: .seconds(30))
            #expect(job?.state == .queued && job?.headSHA == InProcessServer.head)
            #expect(try await server.store.testmeRequest(repository: "recipes/web", commentID: 101)?.outcome == .queued)
            #expect(try await server.repliesSettled())
            #expect(server.stub.comments(on: "recipes/web", 1).count == 1, "acknowledged once")
        }
    }
}
