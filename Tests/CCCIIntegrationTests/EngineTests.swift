import CCCICore
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
    /// Several nodes through a CI engine (SPEC F-ENGINE), every part real: two extra nodes (their
    /// own dockerd and swarm, `scripts/nodes`), a Buildbot master with the shipped master.cfg and
    /// a worker inside each node, the shared PostgreSQL store, and `ccci serve` dispatching to
    /// Buildbot — with a stub forge.
    @Suite(.serialized) struct Engines {
        /// The bridge, the master, the nodes' workers and the stub forge of one scenario.
        struct Scenario: Sendable {
            let harness: RunHarness
            let server: ServerHarness
            let stub: ForgeStub
            let store: any NodeStore
            let nodes: [ExtraNode]
            let master: BuildbotMaster
            let serve: ServeProcess
            let head: String

            /// Every node's run files as the bridge's pages serve them.
            let pages: any RunArtifacts

            static func with(_ body: @Sendable (Scenario) async throws -> Void) async throws {
                let nodes = try await ExtraNode.up(2)
                let cluster = try await PostgresCluster.shared()
                let database = try await cluster.createDatabase()
                let location = cluster.location(database: database)
                let harness = try RunHarness()
                let web = try await harness.add("web")
                let head = try #require(web.head)
                let server = try ServerHarness(recipes: [])
                var config = try harness.config()
                config.store = .postgres(location)
                config.node = "bridge"
                let store = try await Store.open(config)
                let pages = Store.artifacts(config, store: store)
                let master = try await BuildbotMaster(nodes: nodes.map { ($0.name, 1) })
                do {
                    for node in nodes {
                        // What the node's runs see: the shared store by the node's own route to
                        // it, this test's recipes and CI domain.
                        try await master.startWorker(
                            on: node,
                            environment: [
                                "CCCI_STORE":
                                    "postgres://\(location.user)@\(node.hostAddress):\(cluster.port)/\(database)?sslmode=disable",
                                "CCCI_STORE_PASSWORD_FILE": cluster.passwordFile.path,
                                "CCCI_CATALOGUE_DIR": harness.catalogue.path, "CCCI_CI_DOMAIN": harness.ciDomain,
                                "NO_COLOR": "1",
                            ])
                    }
                    try await ForgeStub.with { stub in
                        for pr in [1, 2] { stub.setPullRequest("recipes/web", pr, head: head) }
                        stub.grant("alice", "write", on: "recipes/web")
                        let serve = try await ServeProcess(
                            harness: harness, server: server, stub: stub,
                            extra: [
                                "CCCI_NODE": "bridge",
                                "CCCI_STORE":
                                    "postgres://\(location.user)@127.0.0.1:\(cluster.port)/\(database)?sslmode=disable",
                                "CCCI_STORE_PASSWORD_FILE": cluster.passwordFile.path,
                            ],
                            serve: """

                                [dispatch]
                                engine = "buildbot"
                                url = "\(master.url)"
                                """)
                        defer { _ = serve }
                        try await body(
                            Scenario(
                                harness: harness, server: server, stub: stub, store: store, nodes: nodes,
                                master: master, serve: serve, head: head,
                                pages: pages))
                        #expect(await serve.stop() == 0, "\(serve.log.suffix(3000))")
                    }
                } catch {
                    await master.stop()
                    throw error
                }
                await master.stop()
            }

            /// Posts a signed `!testme` comment on `pr`; returns the answer's status.
            func testme(pr: Int, commentID: Int, _ text: String = "!testme") async throws -> Int {
                let body = try WebhookFixture.comment(text, pr: pr, commentID: commentID)
                let headers = WebhookFixture.headers(event: "issue_comment", body: body, secret: server.secret)
                return try await WebhookFixture.post(body, headers: headers, to: serve.hookURL).status
            }

            /// What is left of run `runID`'s apps on every node.
            func residue(of results: RunResults) async throws -> [String] {
                var left: [String] = []
                for node in nodes {
                    let engine = try await node.engine()
                    try await engine.using { engine in
                        for domain in [results.appDomain] + (results.upgradeAppDomain.map { [$0] } ?? [])
                        where !domain.isEmpty {
                            let residue = try await harness.residue(domain, engine: engine)
                            if !residue.isEmpty { left.append("\(node.name) \(domain): \(residue.summary)") }
                        }
                    }
                }
                return left
            }
        }

        @Test(
            "Buildbot end to end: two !testme on two pull requests of web → two builds, one per node, at the same time → both replies level 5, both runs on the dashboard, nothing left on any node"
        )
        func twoNodes() async throws {
            try await Scenario.with { scenario in
                #expect(try await scenario.testme(pr: 1, commentID: 101) == 202)
                #expect(try await scenario.testme(pr: 2, commentID: 202) == 202)
                let finished = try await poll(
                    until: {
                        let jobs = try await scenario.store.jobs()
                        return jobs.count == 2 && jobs.allSatisfy { !$0.state.isActive }
                    }, timeout: .seconds(600))
                let jobs = try await scenario.store.jobs()
                #expect(
                    finished,
                    "\(jobs.map { "\($0.number) \($0.state) \($0.note ?? "")" })\n\(scenario.serve.log.suffix(2000))")
                #expect(jobs.allSatisfy { $0.state == .passed && $0.level == 5 }, "\(jobs)")
                #expect(Set(jobs.compactMap(\.node)) == ["node-a", "node-b"], "one build per node")
                #expect(jobs.allSatisfy { $0.dispatchRef != nil && $0.dispatchedAt != nil })
                if jobs.count == 2, let a = jobs[0].startedAt, let b = jobs[1].startedAt,
                    let endA = jobs[0].finishedAt, let endB = jobs[1].finishedAt
                {
                    #expect(a < endB && b < endA, "the two builds ran at the same time")
                }
                for pr in [1, 2] {
                    let told = await scenario.stub.waitUntil { _ in
                        scenario.stub.comments(on: "recipes/web", pr).first?.body.contains("level 5 (passed)") == true
                    }
                    #expect(told, "PR \(pr): \(scenario.stub.comments(on: "recipes/web", pr).map(\.body))")
                }
                for job in jobs {
                    let runID = try #require(job.runID)
                    let page = try await WebhookFixture.get(scenario.serve.baseURL + "/runs/\(runID)")
                    #expect(page.status == 200 && page.text.contains("title=\"level 5\">L5</span>"), "\(runID)")
                    let results = try await WebhookFixture.get(scenario.serve.baseURL + "/runs/\(runID)/results.json")
                    #expect(results.status == 200)
                    let recorded = try #require(try await scenario.store.results(runID: runID))
                    #expect(try await scenario.residue(of: recorded).isEmpty)
                }
            }
        }

        @Test(
            "Buildbot: a superseding push mid-run stops the build — that node's run tears down (143), the reply says superseded, nothing left; a worker killed mid-run has its job queued again once and run to a pass by the other node"
        )
        func stoppedBuilds() async throws {
            try await Scenario.with { scenario in
                // A push supersedes pull request 1's job while it runs.
                #expect(try await scenario.testme(pr: 1, commentID: 101) == 202)
                let first = try #require(try await scenario.store.jobs().first)
                let running = try await poll(
                    until: {
                        guard let job = try await scenario.store.job(first.number), job.state == .running,
                            let runID = job.runID, let log = await scenario.pages.log(of: runID, from: 0)
                        else { return false }
                        return String(decoding: log, as: UTF8.self).contains("[install] converge: started")
                    }, timeout: .seconds(180))
                #expect(running, "\(scenario.serve.log.suffix(2000))")
                let newHead = String(repeating: "5", count: 40)
                scenario.stub.setPullRequest("recipes/web", 1, head: newHead)
                let body = try WebhookFixture.synchronized(
                    head: newHead, updatedAt: scenario.stub.updatedAt("recipes/web", 1))
                let push = try await WebhookFixture.post(
                    body,
                    headers: WebhookFixture.headers(event: "pull_request", body: body, secret: scenario.server.secret),
                    to: scenario.serve.hookURL)
                #expect(push.status == 200)
                let ended = try await poll(
                    until: { try await scenario.store.job(first.number).map { !$0.state.isActive } ?? false },
                    timeout: .seconds(180))
                let superseded = try #require(try await scenario.store.job(first.number))
                #expect(ended && superseded.state == .cancelled && superseded.exitCode == 143, "\(superseded)")
                let told = await scenario.stub.waitUntil { _ in
                    scenario.stub.comments(on: "recipes/web", 1).first?.body.contains("stopped testing") == true
                }
                #expect(told, "\(scenario.stub.comments(on: "recipes/web", 1).map(\.body))")
                let stoppedID = try #require(superseded.runID)
                let stoppedRun = try #require(try await scenario.store.results(runID: stoppedID))
                #expect(stoppedRun.outcome == .cancelled)
                #expect(try await scenario.residue(of: stoppedRun).isEmpty)

                // The worker running pull request 2's job dies.
                #expect(try await scenario.testme(pr: 2, commentID: 202) == 202)
                let second = try #require(try await scenario.store.jobs().first { $0.pr == 2 })
                let claimed = try await poll(
                    until: { try await scenario.store.job(second.number).map { $0.state == .running } ?? false },
                    timeout: .seconds(180))
                #expect(claimed)
                let attempt = try #require(try await scenario.store.job(second.number))
                let victim = try #require(attempt.node)
                let worker = try #require(scenario.master.workerPID(victim))
                #expect(kill(worker, SIGKILL) == 0)
                let finished = try await poll(
                    until: { try await scenario.store.job(second.number).map { !$0.state.isActive } ?? false },
                    timeout: .seconds(600))
                let last = try #require(try await scenario.store.job(second.number))
                #expect(finished && last.state == .passed && last.attempt == 2, "\(last)")
                #expect(last.node != victim, "run again by the node whose worker lives")
                let requeued = try await scenario.store.replies(job: second.number).filter {
                    $0.body?.contains("attempt 2 of 2") == true
                }
                #expect(requeued.count == 1, "the pull request told once that its job was queued again")
                let lastID = try #require(last.runID)
                let results = try #require(try await scenario.store.results(runID: lastID))
                #expect(try await scenario.residue(of: results).isEmpty)
                // The first attempt's run stopped when its worker died (its parent-death signal): a
                // run already deploying tore down and recorded its stop; one still in setup had
                // created nothing and says so in its log.
                let deadID = try #require(attempt.runID)
                if let dead = try await scenario.store.results(runID: deadID) {
                    #expect(dead.outcome == .cancelled, "the killed worker's run recorded its stop")
                    #expect(try await scenario.residue(of: dead).isEmpty)
                } else {
                    let log = await scenario.pages.log(of: deadID, from: 0).map { String(decoding: $0, as: UTF8.self) }
                    #expect(
                        log?.contains("setup failed: stopped during setup (SIGTERM)") == true,
                        "no results: the run must have stopped before deploying anything — \(log ?? "no log")")
                }
            }
        }
    }
}

extension Integration.Engines {
    @Test(
        "Forgejo Actions: the shipped workflow run for real by act on node A (runs-on ccci-node-a, a host runner) takes a queued job to level 5; an interrupted act leaves nothing behind on the node"
    )
    func forgejoWorkflow() async throws {
        let node = try #require(try await ExtraNode.up(1).first)
        let cluster = try await PostgresCluster.shared()
        let database = try await cluster.createDatabase()
        let harness = try RunHarness()
        let web = try await harness.add("web")
        let head = try #require(web.head)
        var config = try harness.config()
        config.store = .postgres(cluster.location(database: database))
        config.node = "bridge"
        let store = try await Store.open(config)
        // The repository cc-ci owns, with the shipped workflow where Forgejo reads it.
        let ops = try TemporaryDirectory("ccci-ops")
        let workflows = ops.appending(".forgejo/workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: TestEnvironment.repositoryRoot.appendingPathComponent("deploy/forgejo/ccci.yml"),
            to: workflows.appendingPathComponent("ccci.yml"))
        for arguments in [
            ["init", "-q"], ["add", "-A"],
            ["-c", "user.name=ops", "-c", "user.email=ops@ci.test", "commit", "-qm", "ops"],
        ] {
            _ = try await ProcessRunner().run(Command("git", ["-C", ops.url.path] + arguments)).check()
        }
        func enqueue(_ pr: Int) async throws -> Int64 {
            let job = try await store.transaction { queue in
                try queue.insert(
                    Job(
                        recipe: "web", repository: "recipes/web", pr: pr, headSHA: head, stages: nil,
                        requester: "alice", commentID: nil))
            }
            return try #require(job?.number)
        }
        // The runner's view: the node's environment, the store by the node's route to it.
        let environment = [
            "CCCI": TestEnvironment.ccciExecutable.path,
            "CCCI_STORE": "postgres://postgres@\(node.hostAddress):\(cluster.port)/\(database)?sslmode=disable",
            "CCCI_STORE_PASSWORD_FILE": cluster.passwordFile.path, "CCCI_CATALOGUE_DIR": harness.catalogue.path,
            "CCCI_CI_DOMAIN": harness.ciDomain, "NO_COLOR": "1",
        ]
        func act(_ job: Int64, pr: Int) -> [String] {
            [
                "act", "workflow_dispatch", "-C", ops.url.path, "-W", ".forgejo/workflows/ccci.yml",
                "-P", "ccci-node-a=-self-hosted", "--input", "recipe=web", "--input", "pr=\(pr)",
                "--input", "ref=\(head)", "--input", "job_id=\(job)", "--input", "node=node-a",
            ]
        }
        func residue(_ runID: String) async throws -> [String] {
            guard let results = try await store.results(runID: runID) else { return ["no results for \(runID)"] }
            let engine = try await node.engine()
            return try await engine.using { engine in
                var left: [String] = []
                for domain in [results.appDomain] + (results.upgradeAppDomain.map { [$0] } ?? []) where !domain.isEmpty
                {
                    let residue = try await harness.residue(domain, engine: engine)
                    if !residue.isEmpty { left.append("\(domain): \(residue.summary)") }
                }
                return left
            }
        }

        let first = try await enqueue(1)
        let ran = try await node.run(act(first, pr: 1), extra: environment)
        #expect(ran.succeeded, "\(ran.tail())")
        let done = try #require(try await store.job(first))
        #expect(done.state == .passed && done.level == 5 && done.node == "node-a", "\(done)")
        #expect(try await residue(try #require(done.runID)).isEmpty)

        // act interrupted mid-run (a cancelled job): the step's shell dies, ccci's parent-death
        // signal starts its teardown, and the job is queued again once.
        let second = try await enqueue(2)
        let output = harness.home.appending("act.log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ExtraNode.script)
        process.arguments =
            ["exec", node.letter, "env"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            + act(second, pr: 2)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = process.standardOutput
        try await withTaskExecutorPreference(SpawnThread.shared) { try process.run() }
        let converging = try await poll(
            until: {
                guard let job = try await store.job(second), job.state == .running, let runID = job.runID,
                    let log = await Store.artifacts(config, store: store).log(of: runID, from: 0)
                else { return false }
                return String(decoding: log, as: UTF8.self).contains("converge: started")
            }, timeout: .seconds(180))
        #expect(converging)
        let interrupted = try #require(try await store.job(second))
        // act itself, by its pid: the process of ours whose arguments name this job's inputs.
        let actPID = try #require(Self.pid(of: ["act", "workflow_dispatch", "-C", ops.url.path, "job_id=\(second)"]))
        #expect(kill(actPID, SIGINT) == 0)
        let requeued = try await poll(
            until: { try await store.job(second).map { $0.state == .queued && $0.attempt == 2 } ?? false },
            timeout: .seconds(180))
        let after = try await store.job(second)
        #expect(requeued, "\(String(describing: after))")
        let stopped = try #require(interrupted.runID)
        #expect(try await store.results(runID: stopped)?.outcome == .cancelled)
        #expect(try await residue(stopped).isEmpty)
        _ = try await poll(until: { !process.isRunning }, timeout: .seconds(60))
        try await store.updateJob(second) { job, _ in job.state = .cancelled }
    }

    /// The pid of a running process whose arguments contain each of `parts`.
    static func pid(of parts: [String]) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let program = arguments.first, program.hasSuffix("act") || program.hasSuffix("/act") else { continue }
            let line = arguments.joined(separator: " ")
            if parts.allSatisfy({ line.contains($0) }) { return pid }
        }
        return nil
    }
}
