import CCCICore
import CCCILab
import CCCIStore
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// `ccci serve` as an operator runs it — the real binary, real runs on the lab, the real
    /// store — with a stub forge (Gitea's API, recording every call) and signed webhooks.
    @Suite struct Serve {
        /// One scenario: a sandboxed node with the `web` fixture, a stub forge where recipes/web#1
        /// is open at the fixture's PR head and alice may write, and helpers to drive it.
        struct Scenario: Sendable {
            let harness: RunHarness
            let server: ServerHarness
            let stub: ForgeStub
            let web: FixtureRecipes.Repository
            let store: any NodeStore

            static func with(_ body: @Sendable (Scenario) async throws -> Void) async throws {
                let harness = try RunHarness()
                let web = try await harness.add("web")
                let server = try ServerHarness(recipes: [])
                try await ForgeStub.with { stub in
                    stub.setPullRequest("recipes/web", 1, head: try #require(web.head))
                    stub.grant("alice", "write", on: "recipes/web")
                    let store = try await Store.open(harness.config())
                    try await body(Scenario(harness: harness, server: server, stub: stub, web: web, store: store))
                }
            }

            /// Starts `ccci serve`; `serve` is more of its `[serve]` table.
            func start(
                allowlist: [String] = [], extra: [String: String] = [:], serve: String = ""
            ) async throws
                -> ServeProcess
            {
                try await ServeProcess(
                    harness: harness, server: server, stub: stub, allowlist: allowlist, extra: extra, serve: serve)
            }

            /// Posts a signed `!testme …` comment on `pr`; returns the answer's status.
            func testme(
                _ serve: ServeProcess, _ text: String = "!testme --stages install", pr: Int = 1, commentID: Int = 101
            ) async throws -> Int {
                let body = try WebhookFixture.comment(text, pr: pr, commentID: commentID)
                let headers = WebhookFixture.headers(event: "issue_comment", body: body, secret: server.secret)
                return try await WebhookFixture.post(body, headers: headers, to: serve.hookURL).status
            }

            /// Waits (bounded) until job `id` satisfies `condition`; returns it as it then was.
            func waitForJob(
                _ id: Int64, timeout: Duration = .seconds(300), _ condition: @Sendable (Job) -> Bool
            ) async throws -> Job {
                let clock = ContinuousClock()
                let deadline = clock.now + timeout
                while clock.now < deadline {
                    if let job = try await store.job(id), condition(job) { return job }
                    try await Task.sleep(for: .milliseconds(200))
                }
                let job = try await store.job(id)
                throw TestSetupError("job \(id) did not get there in time: \(String(describing: job))")
            }

            /// The results document of run `runID`.
            func results(of runID: String) throws -> RunResults {
                try JSONCoding.decoder.decode(
                    RunResults.self,
                    from: Data(
                        contentsOf: harness.config().runsDirectory.appendingPathComponent("\(runID)/results.json")))
            }

            /// Why run `runID` failed, for a failed expectation: every failed check's message and
            /// the end of each failing tier's logs (a browser's own log says why it closed).
            func whyFailed(_ runID: String) -> String {
                guard let runDirectory = try? harness.config().runsDirectory.appendingPathComponent(runID),
                    let results = try? results(of: runID)
                else { return "(no results for run \(runID))" }
                var lines: [String] = []
                for (name, tier) in results.tiers.sorted(by: { $0.key < $1.key }) where tier.status == .fail {
                    lines.append("\(name): \(tier.reason ?? "")")
                    lines += tier.checks.filter { $0.status == .fail }.map { "  ✗ \($0.name): \($0.message ?? "")" }
                    let logs =
                        (try? FileManager.default.contentsOfDirectory(
                            atPath: runDirectory.appendingPathComponent("tiers").path)) ?? []
                    for log in logs.sorted() where log.hasPrefix("\(name)") {
                        let text =
                            (try? String(
                                contentsOf: runDirectory.appendingPathComponent("tiers/\(log)"), encoding: .utf8)) ?? ""
                        lines.append("  --- tiers/\(log) (end):\n\(text.suffix(2000))")
                    }
                }
                return lines.joined(separator: "\n")
            }

            /// The app domains a run used (from its results), with what is left of each.
            func residue(of runID: String) async throws -> [String] {
                let results = try results(of: runID)
                return try await TestEnvironment.withEngine { engine in
                    var left: [String] = []
                    for domain in [results.appDomain] + (results.upgradeAppDomain.map { [$0] } ?? [])
                    where !domain.isEmpty {
                        let residue = try await harness.residue(domain, engine: engine)
                        if !residue.isEmpty { left.append("\(domain): \(residue.summary)") }
                    }
                    return left
                }
            }

            /// Fetches `path` from the server.
            func get(_ serve: ServeProcess, _ path: String) async throws -> (status: Int, text: String) {
                try await WebhookFixture.get(serve.baseURL + path)
            }
        }

        @Test(
            "!testme --quick: the PR hears the verdict while the canonical is still being given back, and the reply is edited once it is back"
        )
        func quickVerdictBeforeGiveBack() async throws {
            try await Scenario.with { scenario in
                let seed = try await scenario.harness.ccci(["sweep", "--recipe", "web"])
                #expect(seed.status == 0, "\(seed.output)\(seed.errorOutput)")
                do {
                    let serve = try await scenario.start()
                    #expect(try await scenario.testme(serve, "!testme --quick") == 202)
                    let queued = try #require(try await scenario.store.jobs().first)
                    #expect(queued.quick)
                    // The verdict's reply, edited into the acknowledgement while the run still holds
                    // the canonical: the job has not ended.
                    #expect(
                        await scenario.stub.waitUntil(timeout: .seconds(300)) {
                            $0.comments.first?.body.contains("_The canonical is being given back._") == true
                        })
                    let during = try #require(try await scenario.store.job(queued.number))
                    #expect(during.state == .running, "the reply came before the run ended")
                    let early = try #require(scenario.stub.comments(on: "recipes/web", 1).first).body
                    #expect(early.contains("level 0 (passed)") && early.contains("| upgrade | ✅ pass |"), "\(early)")
                    #expect(early.contains("It does **not** prove a fresh install"))
                    let job = try await scenario.waitForJob(queued.number) { !$0.state.isActive }
                    #expect(job.state == .passed, "\(job.note ?? "")")
                    #expect(
                        await scenario.stub.waitUntil {
                            $0.comments.first?.body.contains("_The canonical was given back: `1.2.0+1.36.1` again")
                                == true
                        })
                    #expect(scenario.stub.comments(on: "recipes/web", 1).count == 1, "one comment, edited")
                    #expect(await serve.stop() == 0)
                } catch {
                    _ = try? await scenario.harness.ccci(["canonical", "drop", "web"])
                    throw error
                }
                let drop = try await scenario.harness.ccci(["canonical", "drop", "web"])
                #expect(drop.status == 0, "\(drop.output)\(drop.errorOutput)")
            }
        }

        @Test(
            "end to end: a signed !testme for web is queued, runs for real, and the PR gets the ack, the statuses and a level-5 reply"
        )
        func endToEnd() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start()
                #expect(try await scenario.testme(serve, "!testme") == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                let job = try await scenario.waitForJob(queued.number) { !$0.state.isActive }
                let runID = try #require(job.runID)
                #expect(job.state == .passed, "\(job.note ?? "") — \(scenario.whyFailed(runID))")
                #expect(job.level == 5 && job.exitCode == 0 && job.attempt == 1)
                #expect(
                    await scenario.stub.waitUntil {
                        $0.statuses.last?.state == "success" && $0.comments.first?.edits ?? 0 >= 1
                    })
                // One comment: the acknowledgement, edited into the result.
                let comments = scenario.stub.comments(on: "recipes/web", 1)
                #expect(comments.count == 1)
                let reply = try #require(comments.first).body
                #expect(reply.contains("level 5 (passed)"), "\(reply)")
                for tier in ["install", "upgrade", "backup", "restore", "custom"] {
                    #expect(reply.contains("| \(tier) | ✅ pass |"), "\(tier)")
                }
                #expect(reply.contains("head `1.3.0+1.36.1`") && reply.contains("base `1.2.0+1.36.1`"))
                #expect(reply.contains("[run page](http://ci.test/runs/\(runID))"))
                #expect(reply.contains("[JUnit](http://ci.test/runs/\(runID)/junit.xml)"))
                // Statuses: pending (queued, running — one the sender had not sent yet when the next
                // was written is superseded, never sent late), then success with the level and the run page.
                let statuses = scenario.stub.statuses
                #expect(statuses.count >= 2 && statuses.dropLast().allSatisfy { $0.state == "pending" })
                #expect(
                    statuses.dropLast().allSatisfy {
                        $0.description.hasPrefix("queued") || $0.description.hasPrefix("running")
                    })
                let final = try #require(statuses.last)
                #expect(final.state == "success" && final.description.hasPrefix("level 5"))
                #expect(final.targetURL == "http://ci.test/runs/\(runID)")
                let superseded = try await scenario.store.replies(job: queued.number).filter { $0.state == .superseded }
                #expect(statuses.count + superseded.count == 3, "queued, running and success: each sent or superseded")
                #expect(statuses.allSatisfy { $0.context == "cc-ci" && $0.sha == scenario.web.head })
                // The permission was asked of the forge; the head came from it.
                #expect(scenario.stub.calls.contains { $0.path.hasSuffix("/collaborators/alice/permission") })
                #expect(job.headSHA == scenario.web.head)
                // The links work.
                let results = try await scenario.get(serve, "/runs/\(runID)/results.json")
                #expect(results.status == 200 && results.text.contains("\"level\" : 5"))
                let page = try await scenario.get(serve, "/runs/\(runID)")
                #expect(page.status == 200 && page.text.contains("title=\"level 5\">L5</span>"))
                #expect(try await scenario.get(serve, "/").text.contains("<a href=\"/runs/\(runID)\">"))
                let metrics = try await scenario.get(serve, "/metrics").text
                #expect(metrics.contains("ccci_runs_total{recipe=\"web\",outcome=\"pass\"} 1"), "\(metrics)")
                #expect(metrics.contains("ccci_webhook_requests_total{result=\"accepted\"} 1"))
                #expect(try await scenario.get(serve, "/runs/\(runID)/log").status == 200)
                #expect(try await scenario.get(serve, "/runs/\(runID)/junit.xml").text.contains("<testsuite"))
                #expect(try await scenario.residue(of: runID).isEmpty)
                #expect(await serve.stop() == 0)
            }
        }

        @Test(
            "the dashboard in a real browser: a live run's log grows on its page, which turns into the result; every page works with and without JavaScript"
        )
        func dashboardInBrowser() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start()
                #expect(try await scenario.testme(serve, "!testme") == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                // In flight: claimed, and its run has begun writing its log.
                let runs = try scenario.harness.config().runsDirectory
                let running = try await scenario.waitForJob(queued.number, timeout: .seconds(120)) { job in
                    guard job.state == .running, let runID = job.runID else { return false }
                    return FileManager.default.fileExists(atPath: runs.appendingPathComponent("\(runID)/run.log").path)
                }
                let runID = try #require(running.runID)
                // The screenshots are kept for a person to look at.
                let artifacts = TestEnvironment.repositoryRoot.appendingPathComponent(".build/test-artifacts/dashboard")
                let browser = try await ProcessRunner().run(
                    Command(
                        "python3",
                        [
                            TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Browser/dashboard.py").path,
                            serve.baseURL, runID, "web", artifacts.path,
                        ]))
                #expect(browser.status == 0, "\(browser.output)\(browser.errorOutput.suffix(3000))")
                #expect(browser.output.contains("all dashboard checks passed"))
                for name in ["matrix", "run", "run-live", "recipe", "queue", "badge", "run-nojs"] {
                    #expect(
                        FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("\(name).png").path))
                }
                let job = try await scenario.waitForJob(queued.number) { !$0.state.isActive }
                #expect(
                    job.state == .passed,
                    "\(job.note ?? "") \((try? scenario.results(of: runID))?.tiers.compactMapValues(\.reason) ?? [:])")
                #expect(try await scenario.residue(of: runID).isEmpty)
                #expect(await serve.stop() == 0)
            }
        }

        @Test(
            "a push to the PR stops its running job: the run tears down and exits 143, the job is cancelled, the PR told"
        )
        func supersedingPush() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start(allowlist: ["alice"])
                #expect(try await scenario.testme(serve) == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                #expect(await scenario.harness.waitForLog(containing: "[install] converge: started"))
                let newHead = String(repeating: "5", count: 40)
                scenario.stub.setPullRequest("recipes/web", 1, head: newHead)
                let body = try WebhookFixture.synchronized(
                    head: newHead, updatedAt: scenario.stub.updatedAt("recipes/web", 1))
                let push = try await WebhookFixture.post(
                    body,
                    headers: WebhookFixture.headers(event: "pull_request", body: body, secret: scenario.server.secret),
                    to: serve.hookURL)
                #expect(push.status == 200)
                let job = try await scenario.waitForJob(queued.number, timeout: .seconds(120)) { !$0.state.isActive }
                #expect(job.state == .cancelled && job.exitCode == 143)
                let runID = try #require(job.runID)
                let results = try scenario.results(of: runID)
                #expect(results.outcome == .cancelled && results.tiers["install"]?.status == .cancelled)
                #expect(await scenario.stub.waitUntil { $0.statuses.last?.state == "error" })
                #expect(scenario.stub.comments(on: "recipes/web", 1).first?.body.contains("stopped testing") == true)
                #expect(try await scenario.residue(of: runID).isEmpty)
                #expect(await serve.stop() == 0)
            }
        }

        @Test(
            "an operator cancels a running job with the node's admin token: the run tears down, the job is cancelled, the PR told"
        )
        func operatorCancel() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start(allowlist: ["alice"])
                #expect(try await scenario.testme(serve) == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                #expect(await scenario.harness.waitForLog(containing: "[install] converge: started"))
                let url = "\(serve.baseURL)/queue/\(queued.number)/cancel"
                let refused = try await WebhookFixture.post([], headers: ["Authorization": "Bearer nope"], to: url)
                #expect(refused.status == 403)
                let answer = try await WebhookFixture.post(
                    [], headers: ["Authorization": "Bearer \(scenario.server.adminToken)"], to: url)
                #expect(answer.status == 200 && answer.text.contains("is being stopped"))
                let job = try await scenario.waitForJob(queued.number, timeout: .seconds(120)) { !$0.state.isActive }
                #expect(job.state == .cancelled && job.exitCode == 143)
                let runID = try #require(job.runID)
                #expect(try scenario.results(of: runID).outcome == .cancelled)
                #expect(await scenario.stub.waitUntil { $0.statuses.last?.state == "error" })
                #expect(
                    scenario.stub.comments(on: "recipes/web", 1).first?.body.contains("an operator cancelled it")
                        == true)
                #expect(try await scenario.residue(of: runID).isEmpty)
                #expect(!serve.log.contains(scenario.server.adminToken))
                #expect(await serve.stop() == 0)
            }
        }

        @Test(
            "the server and its run are killed mid-run: on restart the apps are reaped, the run recorded interrupted, the job requeued once and the PR told"
        )
        func killedAndRestarted() async throws {
            try await Scenario.with { scenario in
                let first = try await scenario.start(allowlist: ["alice"])
                #expect(try await scenario.testme(first) == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                #expect(await scenario.harness.waitForLog(containing: "[install] converge: started"))
                let running = try await scenario.waitForJob(queued.number) { $0.pid != nil }
                let firstRun = try #require(running.runID)
                // A crash: the run dies without its teardown, then the server.
                kill(-(running.pid ?? 0), SIGKILL)
                #expect(await first.stop(SIGKILL) != nil)
                let registration = try JSONCoding.decoder.decode(
                    JSONValue.self,
                    from: Data(contentsOf: scenario.harness.home.appending("live/\(firstRun).json")))
                let domain = try #require(registration["app_domain"]?.stringValue)
                let before = try await TestEnvironment.withEngine {
                    try await scenario.harness.residue(domain, engine: $0)
                }
                #expect(!before.isEmpty, "the killed run left its app")

                let second = try await scenario.start(allowlist: ["alice"])
                let job = try await scenario.waitForJob(queued.number) { !$0.state.isActive }
                #expect(job.state == .passed && job.attempt == 2, "\(job.note ?? "") — \(second.log.suffix(2000))")
                #expect(job.runID != firstRun)
                // The janitor finished the first run.
                let interrupted = try scenario.results(of: firstRun)
                #expect(interrupted.outcome == .interrupted)
                #expect(second.log.contains("reaped \(domain)"))
                #expect(await scenario.stub.waitUntil { $0.statuses.last?.state == "success" })
                #expect(scenario.stub.comments.contains { $0.body.contains("queued again — attempt 2 of 2") })
                let after = try await TestEnvironment.withEngine {
                    try await scenario.harness.residue(domain, engine: $0)
                }
                #expect(after.isEmpty, "\(after.summary)")
                #expect(await second.stop() == 0)
            }
        }

        @Test(
            "SIGTERM: the server stops accepting, its run tears down and exits 143, the job is requeued, the queued one kept, exit 0"
        )
        func gracefulShutdown() async throws {
            try await Scenario.with { scenario in
                let release = try #require(scenario.web.releases["1.2.0+1.36.1"])
                scenario.stub.setPullRequest("recipes/web", 2, head: release)
                let serve = try await scenario.start(allowlist: ["alice"], extra: ["CCCI_CAPACITY": "1"])
                #expect(try await scenario.testme(serve) == 202)
                #expect(await scenario.harness.waitForLog(containing: "[install] converge: started"))
                #expect(try await scenario.testme(serve, pr: 2, commentID: 202) == 202)
                let jobs = try await scenario.store.jobs()
                #expect(jobs.map(\.state) == [.running, .queued])
                let running = try #require(jobs.first)
                #expect(serve.acceptsConnections())
                kill(serve.process.processIdentifier, SIGTERM)
                // It stops accepting first, while its run is still tearing down.
                var refusedWhileRunTearsDown = false
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(120)
                while serve.process.isRunning, clock.now < deadline {
                    if !serve.log.contains("run stopped by the server's shutdown"), !serve.acceptsConnections() {
                        refusedWhileRunTearsDown = true
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(refusedWhileRunTearsDown, "connections are refused before the run has finished tearing down")
                #expect(await serve.waitForExit() == 0, "\(serve.log.suffix(2000))")
                let log = serve.log
                #expect(log.contains("run stopped by the server's shutdown") && log.contains("workers stopped"))
                let requeued = try #require(try await scenario.store.job(running.number))
                #expect(requeued.state == .queued && requeued.attempt == 2)
                #expect(try await scenario.store.job(jobs[1].number)?.state == .queued, "nothing queued is lost")
                let runID = try #require(requeued.runID)
                let results = try scenario.results(of: runID)
                #expect(results.outcome == .cancelled && results.exitCode == 143)
                #expect(!HelperProcesses.alive(running.pid ?? 0) || running.pid == nil)
                #expect(try await scenario.residue(of: runID).isEmpty)
                #expect(
                    scenario.stub.comments.contains { $0.body.contains("queued again") }, "the PR is told before exit")
                #expect(try await scenario.store.replies().allSatisfy { $0.state != .pending })
            }
        }

        @Test(
            "SIGTERM with 200 live log streams open and a run going: the streams end at once, the run tears down and exits 143, the server exits 0 within 15 s"
        )
        func shutdownWithStreams() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start(
                    allowlist: ["alice"], extra: ["CCCI_CAPACITY": "1"],
                    serve: "max_streams = 300\nmax_streams_per_client = 8")
                #expect(try await scenario.testme(serve) == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                let running = try await scenario.waitForJob(queued.number, timeout: .seconds(120)) {
                    $0.pid != nil && $0.runID != nil
                }
                #expect(await scenario.harness.waitForLog(containing: "[install] converge: started"))
                let runID = try #require(running.runID)
                let port = try #require(Int(serve.baseURL.split(separator: ":").last ?? ""))
                // 200 streams from 25 loopback addresses, 8 each (the per-client cap).
                var streams: [RawConnection] = []
                for index in 0..<200 {
                    let connection = try RawConnection(port: port, from: "127.0.0.\(2 + index / 8)")
                    let head = try connection.openStream("/runs/\(runID)/events")
                    #expect(head.hasPrefix("HTTP/1.1 200"), "stream \(index): \(head.prefix(80))")
                    streams.append(connection)
                }
                let refused = try RawConnection(port: port, from: "127.0.0.2")
                #expect(
                    try refused.openStream("/runs/\(runID)/events").hasPrefix("HTTP/1.1 429"),
                    "a ninth from one address")
                let metrics = try await scenario.get(serve, "/metrics").text
                #expect(
                    metrics.contains("ccci_live_streams 200"),
                    "\(metrics.split(separator: "\n").filter { $0.contains("stream") })")
                let clock = ContinuousClock()
                let signalled = clock.now
                kill(serve.process.processIdentifier, SIGTERM)
                // Every stream hears why it ends, and is closed.
                for connection in streams.prefix(20) {
                    #expect(connection.read(until: "the server is stopping").contains("event: end"))
                }
                #expect(await serve.waitForExit(timeout: .seconds(60)) == 0, "\(serve.log.suffix(2000))")
                let took = clock.now - signalled
                #expect(took < .seconds(15), "SIGTERM to exit took \(took)")
                #expect(streams.allSatisfy { $0.isClosedByPeer(within: 1) })
                let job = try #require(try await scenario.store.job(queued.number))
                #expect(job.state == .queued && job.attempt == 2, "requeued for the next start")
                let results = try scenario.results(of: runID)
                #expect(results.outcome == .cancelled && results.exitCode == 143)
                #expect(try await scenario.residue(of: runID).isEmpty)
            }
        }

        @Test(
            "a client that walks away ends its stream at once; a connection that trickles its headers is closed after the header timeout; descriptors come back"
        )
        func clientsThatGo() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start()
                let port = try #require(Int(serve.baseURL.split(separator: ":").last ?? ""))
                let pid = serve.process.processIdentifier
                // A run that never ends: a registered live run with a log (no job, no results).
                let runID = "20260101T000000Z-web-live01"
                let runs = try scenario.harness.config().runsDirectory.appendingPathComponent(runID)
                try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
                try "a line\n".write(to: runs.appendingPathComponent("run.log"), atomically: true, encoding: .utf8)
                let live = try scenario.harness.config().liveRunsDirectory
                try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
                try "{}".write(to: live.appendingPathComponent("\(runID).json"), atomically: true, encoding: .utf8)
                let baseline = ProcessUsage.descriptors(pid)
                var streams: [RawConnection] = []
                for index in 0..<50 {
                    let connection = try RawConnection(port: port, from: "127.0.1.\(1 + index / 10)")
                    #expect(try connection.openStream("/runs/\(runID)/events").hasPrefix("HTTP/1.1 200"))
                    streams.append(connection)
                }
                #expect(ProcessUsage.descriptors(pid) >= baseline + 50)
                for connection in streams { connection.close() }
                let back = try await poll(
                    until: { ProcessUsage.descriptors(pid) <= baseline + 2 }, timeout: .seconds(10))
                #expect(
                    back, "descriptors: \(baseline) before, \(ProcessUsage.descriptors(pid)) after the clients left")
                // A stream's place is given back when its response is gone, just after its socket.
                #expect(
                    try await poll(
                        until: { try await scenario.get(serve, "/metrics").text.contains("ccci_live_streams 0") },
                        timeout: .seconds(5)),
                    "every stream's place given back")
                // Headers trickled a byte at a time never make a request: closed after 10 s.
                let slow = try RawConnection(port: port)
                try slow.send("GET / HTTP/1.1\r\nHo")
                #expect(slow.isClosedByPeer(within: 15), "a connection whose headers never end is closed")
                // A connection that says nothing is closed too.
                let idle = try RawConnection(port: port)
                #expect(idle.isClosedByPeer(within: 15))
                #expect(await serve.stop() == 0)
            }
        }

        @Test(
            "the forge is down when the result is ready: the job still passes, its replies wait (noted on the job) and are delivered once the forge is back"
        )
        func forgeDownAtTheReply() async throws {
            try await Scenario.with { scenario in
                let serve = try await scenario.start(allowlist: ["alice"])
                #expect(try await scenario.testme(serve) == 202)
                let queued = try #require(try await scenario.store.jobs().first)
                #expect(
                    await scenario.stub.waitUntil { $0.statuses.contains { $0.description.hasPrefix("running") } },
                    "the ack and the running status delivered")
                // Down at once (503), then its port closed (refused).
                scenario.stub.failing = true
                await scenario.stub.stopListening()
                let job = try await scenario.waitForJob(queued.number) { !$0.state.isActive }
                #expect(job.state == .passed)
                let waiting = try await scenario.waitForJob(queued.number, timeout: .seconds(60)) {
                    $0.replyError?.hasPrefix(Reply.waitingPrefix) == true
                }
                #expect(waiting.state == .passed, "an undeliverable reply never fails the job")
                #expect(serve.log.contains("reply not delivered yet"))
                #expect(try await scenario.get(serve, "/healthz").status == 200, "the server is still up")
                scenario.stub.failing = false
                try await scenario.stub.startListening()
                // The first retry is 5 s after the failure, the next 10 s.
                #expect(await scenario.stub.waitUntil(timeout: .seconds(60)) { $0.statuses.last?.state == "success" })
                #expect(scenario.stub.comments(on: "recipes/web", 1).first?.body.contains("level") == true)
                let delivered = try await scenario.waitForJob(queued.number, timeout: .seconds(30)) {
                    $0.replyError == nil
                }
                #expect(delivered.state == .passed)
                #expect(await serve.stop() == 0)
            }
        }
    }
}
