import ArgumentParser
import CCCICore
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation

/// What a CI engine costs (SPEC F-ENGINE): `jobs` `!testme` requests for `web` (one pull request
/// each) with the same total capacity, 2 — one node's own workers (the lab), then two extra nodes
/// of capacity 1 each through Buildbot. On one 2-core machine the nodes share the CPU, so the
/// makespan ratio measures the engine's cost, not a speed-up. Prints the makespan, the dispatch
/// overhead per job (webhook accepted → `ccci run` started, less any wait for a free slot) and
/// the machine's CPU use.
struct EngineMakespan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine", abstract: "Measure the makespan and dispatch overhead: local workers vs Buildbot.")

    @Option(help: "Jobs (pull requests of web) per configuration.")
    var jobs = 8

    @Option(help: "Stages each run runs (default: all).")
    var stages: String?

    func run() async throws {
        let cluster = try await PostgresCluster.shared()
        print("dispatcher                 nodes  capacity  jobs  makespan   dispatch p50  dispatch max  CPU busy")
        let local = try await measure("local workers", nodes: 1, engine: false, cluster: cluster)
        let buildbot = try await measure("buildbot", nodes: 2, engine: true, cluster: cluster)
        print(String(format: "makespan ratio buildbot / local: %.2f (target ≤ 1.10)", buildbot / local))
    }

    /// One configuration's makespan in seconds (and its printed line).
    func measure(_ name: String, nodes count: Int, engine: Bool, cluster: PostgresCluster) async throws -> Double {
        let database = try await cluster.createDatabase()
        let harness = try RunHarness()
        let web = try await harness.add("web")
        guard let head = web.head else { throw ValidationError("the web fixture has no PR head") }
        let server = try ServerHarness(recipes: [])
        var config = try harness.config()
        config.store = .postgres(cluster.location(database: database))
        config.node = "bridge"
        let store = try await Store.open(config)
        let url: @Sendable (String) -> String = { host in
            "postgres://postgres@\(host):\(cluster.port)/\(database)?sslmode=disable"
        }
        var master: BuildbotMaster?
        var serveSettings = ""
        var arguments = ["--workers", "2"]
        if engine {
            let nodes = try await ExtraNode.up(count)
            let started = try await BuildbotMaster(nodes: nodes.map { ($0.name, 1) })
            master = started
            for node in nodes {
                try await started.startWorker(
                    on: node,
                    environment: [
                        "CCCI_STORE": url(node.hostAddress), "CCCI_STORE_PASSWORD_FILE": cluster.passwordFile.path,
                        "CCCI_CATALOGUE_DIR": harness.catalogue.path, "CCCI_CI_DOMAIN": harness.ciDomain,
                    ])
            }
            serveSettings = "\n[dispatch]\nengine = \"buildbot\"\nurl = \"\(started.url)\"\n"
            arguments = ["--workers", "0"]
        }
        let (settings, serveArguments) = (serveSettings, arguments)
        let stopped = master
        do {
            let makespan = try await run(
                harness: harness, server: server, store: store, head: head, url: url, cluster: cluster,
                settings: settings, arguments: serveArguments, name: name, nodes: engine ? count : 1)
            await stopped?.stop()
            return makespan
        } catch {
            await stopped?.stop()
            throw error
        }
    }

    func run(
        harness: RunHarness, server: ServerHarness, store: any NodeStore, head: String,
        url: @escaping @Sendable (String) -> String, cluster: PostgresCluster, settings: String, arguments: [String],
        name: String, nodes count: Int
    ) async throws -> Double {
        let jobs = self.jobs
        let stages = self.stages
        return try await ForgeStub.with { stub in
            for pr in 1...jobs { stub.setPullRequest("recipes/web", pr, head: head) }
            stub.grant("alice", "write", on: "recipes/web")
            let serve = try await ServeProcess(
                harness: harness, server: server, stub: stub,
                extra: [
                    "CCCI_NODE": "bridge", "CCCI_STORE": url("127.0.0.1"),
                    "CCCI_STORE_PASSWORD_FILE": cluster.passwordFile.path,
                ], serve: settings, arguments: arguments)
            let cpuBefore = Self.machineCPU()
            for pr in 1...jobs {
                let body = try WebhookFixture.comment(
                    "!testme" + (stages.map { " --stages \($0)" } ?? ""), pr: pr, commentID: 100 + pr)
                let headers = WebhookFixture.headers(event: "issue_comment", body: body, secret: server.secret)
                let status = try await WebhookFixture.post(body, headers: headers, to: serve.hookURL).status
                guard status == 202 else { throw ValidationError("!testme on #\(pr) answered \(status)") }
            }
            let done = try await poll(
                until: {
                    let all = try await store.jobs()
                    return all.count == jobs && all.allSatisfy { !$0.state.isActive }
                }, timeout: .seconds(3600))
            let cpuAfter = Self.machineCPU()
            _ = await serve.stop()
            let all = try await store.jobs()
            guard done, all.allSatisfy({ $0.state == .passed }) else {
                throw ValidationError(
                    "not every job passed: \(all.map { "\($0.number) \($0.state.rawValue) \($0.note ?? "")" })")
            }
            let first = all.map(\.queuedAt).min() ?? Date()
            let last = all.compactMap(\.finishedAt).max() ?? Date()
            let makespan = last.timeIntervalSince(first)
            // Each job's wait beyond its slot: from when it was queued, or when the job before it on
            // the same node ended (its slot freed), to its run's start.
            let overheads = all.compactMap { job -> Double? in
                guard let started = job.startedAt else { return nil }
                let freed = all.filter { $0.node == job.node && ($0.finishedAt ?? .distantFuture) <= started }
                    .compactMap(\.finishedAt).max()
                return started.timeIntervalSince(max(job.queuedAt, freed ?? job.queuedAt))
            }.sorted()
            let busy = (cpuAfter.busy - cpuBefore.busy) / max(1, cpuAfter.total - cpuBefore.total)
            print(
                String(
                    format: "%@ %5d %9d %5d %8.1f s %11.2f s %12.2f s %8.0f %%",
                    name.padding(toLength: 26, withPad: " ", startingAt: 0), count, 2, jobs, makespan,
                    overheads.isEmpty ? .nan : overheads[overheads.count / 2], overheads.last ?? .nan, busy * 100))
            return makespan
        }
    }

    /// The machine's CPU time so far (all cores, in clock ticks): busy and in all.
    static func machineCPU() -> (busy: Double, total: Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return (0, 0) }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return (0, 0) }
        let idle = fields[3] + fields[4]
        let total = fields.reduce(0, +)
        return (total - idle, total)
    }
}
