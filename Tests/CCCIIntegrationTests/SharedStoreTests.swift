import CCCICore
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Two nodes' `ccci serve` — the real binary, twice — on one PostgreSQL store (a throwaway
    /// cluster), with a stub forge: the queue they share, and a node that dies.
    @Suite struct SharedStore {
        /// Two servers' environment: node `node`, the shared store, its password file.
        static func node(_ node: String, _ location: NodeConfig.PostgresLocation) -> [String: String] {
            [
                "CCCI_NODE": node,
                "CCCI_STORE":
                    "postgres://\(location.user)@\(location.host):\(location.port)/\(location.database)?sslmode=disable",
                "CCCI_STORE_PASSWORD_FILE": location.passwordFile ?? "",
            ]
        }

        @Test(
            "two servers, two workers each, on one PostgreSQL store: 200 queued jobs each claimed and run exactly once, by both nodes"
        )
        func twoServers() async throws {
            let cluster = try await PostgresCluster.shared()
            let location = cluster.location(database: try await cluster.createDatabase())
            let harness = try RunHarness()
            let server = try ServerHarness(recipes: [])
            var config = try harness.config()
            config.store = .postgres(location)
            config.node = "node-a"
            let store = try await Store.open(config)
            // A recipe no catalogue holds: each run ends at once (exit 2), as a run that cannot
            // start does — the queue is what is under test, not the lab.
            var queued: Set<Int64> = []
            for pr in 1...200 {
                queued.insert(try await store.enqueue("nosuch", pr: pr, head: "a").number)
            }
            try await ForgeStub.with { stub in
                let a = try await ServeProcess(
                    harness: harness, server: server, stub: stub, extra: Self.node("node-a", location), name: "serve-a",
                    arguments: ["--workers", "2"])
                let b = try await ServeProcess(
                    harness: harness, server: server, stub: stub, extra: Self.node("node-b", location), name: "serve-b",
                    arguments: ["--workers", "2"])
                let done = try await poll(
                    until: { try await store.jobs(in: [.queued, .running]).isEmpty }, timeout: .seconds(600))
                let left = try await store.jobCount(in: .queued)
                #expect(done, "queued: \(left)\n\(a.log.suffix(1500))")
                #expect(await a.stop() == 0)
                #expect(await b.stop() == 0)
            }
            let jobs = try await store.jobs(in: [])
            #expect(Set(jobs.map(\.number)) == queued)
            #expect(
                jobs.allSatisfy { $0.state == .failed && $0.attempt == 1 }, "\(jobs.filter { $0.state != .failed })")
            let runs = jobs.compactMap(\.runID)
            #expect(runs.count == 200 && Set(runs).count == 200, "one run per job")
            // One claim, one run directory: a job claimed twice would have started two.
            let directories = try FileManager.default.contentsOfDirectory(atPath: config.runsDirectory.path)
            #expect(directories.count == 200, "\(directories.count) run directories for 200 jobs")
            let byNode = Dictionary(grouping: jobs, by: { $0.node ?? "none" }).mapValues(\.count)
            #expect(Set(byNode.keys) == ["node-a", "node-b"], "both nodes ran jobs: \(byNode)")
        }

        @Test(
            "a node killed mid-run: after its lease the other node takes its job over — queued again once, the pull request told — and runs it to a pass"
        )
        func deadNode() async throws {
            let cluster = try await PostgresCluster.shared()
            let location = cluster.location(database: try await cluster.createDatabase())
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let server = try ServerHarness(recipes: [])
            var config = try harness.config()
            config.store = .postgres(location)
            config.node = "node-a"
            let store = try await Store.open(config)
            try await ForgeStub.with { stub in
                stub.setPullRequest("recipes/web", 1, head: try #require(web.head))
                let job = try await store.transaction { queue in
                    try queue.insert(
                        Job(
                            recipe: "web", repository: "recipes/web", pr: 1, headSHA: try #require(web.head),
                            stages: "install", requester: "alice", commentID: nil))
                }
                let id = try #require(job?.id)
                let lease = "node_lease = \"10s\""
                let a = try await ServeProcess(
                    harness: harness, server: server, stub: stub, extra: Self.node("node-a", location), name: "serve-a",
                    serve: lease, arguments: ["--workers", "1"])
                let running = try await poll(
                    until: { try await store.job(id).map { $0.state == .running && $0.pid != nil } ?? false },
                    timeout: .seconds(60))
                #expect(running, "\(a.log.suffix(1500))")
                let first = try #require(try await store.job(id))
                #expect(first.node == "node-a")
                // The node dies with its run (the run's parent-death signal).
                #expect(await a.stop(SIGKILL) != nil)
                let b = try await ServeProcess(
                    harness: harness, server: server, stub: stub, extra: Self.node("node-b", location), name: "serve-b",
                    serve: lease, arguments: ["--workers", "1"])
                let finished = try await poll(
                    until: { try await store.job(id).map { !$0.state.isActive } ?? false }, timeout: .seconds(300))
                #expect(finished, "\(b.log.suffix(2000))")
                let last = try #require(try await store.job(id))
                #expect(last.state == .passed && last.attempt == 2 && last.node == "node-b", "\(last)")
                #expect(last.runID != first.runID, "run again, under a new run id")
                // Told on the pull request (that comment, the job's first, is then edited into the result).
                let told = try await store.replies(job: id).filter { $0.body?.contains("attempt 2 of 2") == true }
                #expect(told.map(\.state) == [.sent], "the pull request told its job was queued again")
                #expect(b.log.contains("took over the running jobs of a silent node"))
                #expect(await b.stop() == 0)
                // The dead run's app was reaped by the next run's janitor; the new run left nothing.
                for runID in [first.runID, last.runID].compactMap({ $0 }) {
                    guard let results = try? await store.results(runID: runID) else { continue }
                    #expect(try await harness.leftovers([results.appDomain]).isEmpty, "\(runID)")
                }
            }
        }

        @Test(
            "an engine's step: `ccci run web --job-id J --store URL` on another node takes the queued job, runs it there and ends it with its replies in the store — once, and only with the job's own parameters"
        )
        func engineStep() async throws {
            let cluster = try await PostgresCluster.shared()
            let location = cluster.location(database: try await cluster.createDatabase())
            let harness = try RunHarness()
            let web = try await harness.add("web")
            var config = try harness.config()
            config.store = .postgres(location)
            config.node = "bridge"
            let store = try await Store.open(config)
            let head = try #require(web.head)
            let job = try await store.transaction { queue in
                try queue.insert(
                    Job(
                        recipe: "web", repository: "recipes/web", pr: 1, headSHA: head, stages: "install",
                        requester: "alice", commentID: nil))
            }
            let id = try #require(job?.number)
            // The step's node: its own name, the store given on the command line.
            let url =
                "postgres://\(location.user)@\(location.host):\(location.port)/\(location.database)?sslmode=disable"
            let step: [String: String?] = ["CCCI_NODE": "node-b", "CCCI_STORE_PASSWORD_FILE": location.passwordFile]
            func run(pr: Int, job: Int64) async throws -> CommandResult {
                try await harness.ccci(
                    [
                        "run", "web", "--pr", "\(pr)", "--ref", head, "--stages", "install", "--job-id", "\(job)",
                        "--store", url,
                    ], extra: step)
            }

            let mismatched = try await run(pr: 2, job: id)
            #expect(mismatched.status == 2 && mismatched.errorOutput.contains("not web#2"), "\(mismatched.errorOutput)")
            let missing = try await run(pr: 1, job: id + 1000)
            #expect(missing.status == 2 && missing.errorOutput.contains("has no job \(id + 1000)"))
            #expect(try await store.job(id)?.state == .queued, "a refused step leaves the job queued")

            // The step runs; another node's pages follow its log from the store while it runs.
            let output = harness.home.url.appendingPathComponent("step.out")
            let process = try await harness.start(
                ["run", "web", "--pr", "1", "--ref", head, "--stages", "install", "--job-id", "\(id)", "--store", url],
                output: output, extra: step.compactMapValues { $0 })
            var elsewhere = config
            elsewhere.home = harness.home.url.appendingPathComponent("node-c")
            let pages = Store.artifacts(elsewhere, store: store)
            let followed = try await poll(
                until: {
                    guard let job = try await store.job(id), job.state == .running, let runID = job.runID,
                        let live = await pages.read("run.log.live", of: runID),
                        let log = await pages.log(of: runID, from: 0)
                    else { return false }
                    return String(decoding: live, as: UTF8.self).contains("install")
                        && String(decoding: log, as: UTF8.self).contains("install")
                }, timeout: .seconds(120))
            #expect(followed, "another node's pages follow the running step's log")
            let exited = try await poll(until: { !process.isRunning }, timeout: .seconds(300))
            #expect(
                exited && process.terminationStatus == 0,
                "\((try? String(contentsOf: output, encoding: .utf8))?.suffix(2000) ?? "")")
            let done = try #require(try await store.job(id))
            let runID = try #require(done.runID)
            let results = try #require(try await store.results(runID: runID))
            #expect(done.state == .passed && done.node == "node-b" && done.exitCode == 0, "\(done)")
            #expect(done.level == results.level && results.outcome == .pass)
            let replies = try await store.replies(job: id)
            #expect(replies.contains { $0.kind == .status && $0.body == nil && $0.statusState == "pending" })
            #expect(
                replies.contains { $0.kind == .jobComment && $0.body?.contains(runID) == true },
                "the result comment links the run: \(replies.map { $0.body ?? "" })")
            #expect(await pages.has("junit.xml", of: runID), "the run's files kept")
            #expect(await pages.read("run.log.live", of: runID) == nil, "the finished log replaced the live copy")
            #expect(try await harness.leftovers([results.appDomain]).isEmpty)

            let again = try await run(pr: 1, job: id)
            #expect(again.status == 2 && again.errorOutput.contains("the job is passed (node node-b), not queued"))
            #expect(try await store.job(id)?.runID == runID, "a second step changes nothing")
        }
    }
}
