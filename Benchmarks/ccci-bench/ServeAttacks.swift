import ArgumentParser
import AsyncHTTPClient
import CCCICore
import CCCIServer
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `ccci serve` under attack: a real `ccci serve` process (the binary next to this one) against
/// the forge stub on loopback, every class of the attack issue tried in turn, one row each —
/// HTTP statuses, jobs queued, replies sent, whether the server crashed, its descriptors and
/// resident memory before and after, and what each case had to show. The last case stops a
/// server with 200 open streams and a real run of `web` on the lab (SIGTERM).
///
/// Not a test: it prints what happened, and exits 1 when a case did not show what it should.
struct ServeAttacks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-attacks", abstract: "Attack a real ccci serve and print what it did (needs the lab).")

    @Option(help: "Races of !testme against a push.")
    var races = 100

    @Option(help: "Streams opened in the stream floods.")
    var streams = 2000

    func run() async throws {
        let table = AttackTable()
        let harness = try RunHarness()
        let web = try await harness.add("web")
        let head = try require(web.head, "the web fixture has no PR head")
        let server = try ServerHarness(recipes: [])
        let races = self.races
        let flood = self.streams
        try await ForgeStub.with { stub in
            stub.setPullRequest("recipes/web", 1, head: head)
            stub.grant("alice", "write", on: "recipes/web")
            stub.grant("mallory", "read", on: "recipes/web")
            stub.grant("mallory", "owner", on: "evil/web")
            // Phase 1: a server that only accepts and queues (--workers 0).
            let serve = try await ServeProcess(
                harness: harness, server: server, stub: stub, allowlist: [], arguments: ["--workers", "0"])
            let attack = Attack(
                table: table, serve: serve, stub: stub, server: server, harness: harness,
                store: try await Store.open(harness.config()), head: head)
            try await attack.streams(flood: flood)
            try await attack.replays()
            try await attack.repositories()
            try await attack.races(races)
            try await attack.queue()
            try await attack.forgeOutage()
            try await attack.runFiles()
            try await attack.markdown()
            try await attack.names()
            try await attack.smaller()
            let stopped = await serve.stop()
            guard stopped == 0 else {
                throw ValidationError("the attacked server stopped with \(String(describing: stopped))")
            }
            try await Attack.secretFiles(table: table, harness: harness, server: server, stub: stub)
        }
        // Phase 2: a fresh node whose worker runs a real job, stopped with 200 streams open.
        try await Attack.shutdown(table: table)
        table.print()
        if table.failures > 0 { throw ExitCode.failure }
    }
}

/// The table of cases.
final class AttackTable: @unchecked Sendable {
    struct Row {
        var number: Int
        var kind: String
        var name: String
        var statuses: String
        var jobs: Int
        var replies: Int
        var crash: Bool
        var descriptors: (Int, Int)
        var resident: (Int, Int)
        var shown: [String]
        var failed: [String]
    }

    private let lock = NSLock()
    private var rows: [Row] = []

    var failures: Int { lock.withLock { rows.reduce(0) { $0 + $1.failed.count } } }

    func add(_ row: Row) {
        var row = row
        lock.withLock {
            row.number = rows.count + 1
            rows.append(row)
        }
        let mark = row.failed.isEmpty ? "ok" : "FAILED: \(row.failed.joined(separator: "; "))"
        FileHandle.standardError.write(Data("  [\(row.kind)] \(row.name): \(mark)\n".utf8))
    }

    func print() {
        let rows = lock.withLock { self.rows }
        Swift.print(
            "#  class      case                                                     HTTP statuses                     jobs  replies crash fds before→after  RSS KiB before→after  shown"
        )
        for row in rows {
            let shown =
                row.failed.isEmpty ? row.shown.joined(separator: "; ") : "FAILED: " + row.failed.joined(separator: "; ")
            Swift.print(
                String(
                    format: "%-2d %-10@ %-56@ %-33@ %4d  %7d %-5@ %5d→%-5d        %7d→%-7d         %@", row.number,
                    row.kind, String(row.name.prefix(56)), String(row.statuses.prefix(33)), row.jobs, row.replies,
                    row.crash ? "YES" : "no", row.descriptors.0, row.descriptors.1, row.resident.0, row.resident.1,
                    shown))
        }
        let crashes = rows.filter(\.crash).count
        Swift.print("\(rows.count) cases, \(crashes) crashes, \(failures) expectations not met")
    }
}

/// A `#require` for the harness: the value, or an error naming what was missing.
func `require`<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw ValidationError(what) }
    return value
}

/// One phase of attacks against one server process.
struct Attack: Sendable {
    let table: AttackTable
    let serve: ServeProcess
    let stub: ForgeStub
    let server: ServerHarness
    let harness: RunHarness
    let store: any NodeStore
    let head: String

    var pid: Int32 { serve.process.processIdentifier }
    var port: Int { Int(serve.baseURL.split(separator: ":").last ?? "") ?? 0 }

    /// What a case sees and says.
    final class Case: @unchecked Sendable {
        var statuses: [Int: Int] = [:]
        var shown: [String] = []
        var failed: [String] = []

        func status(_ code: Int) { statuses[code, default: 0] += 1 }

        func expect(_ condition: Bool, _ what: String) {
            if condition { shown.append(what) } else { failed.append(what) }
        }

        func note(_ text: String) { shown.append(text) }

        var statusText: String {
            statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
        }
    }

    /// Runs one case and adds its row: the server's descriptors and memory around it, the jobs
    /// and replies it caused, and whether the server is still alive and sane after it.
    func run(_ kind: String, _ name: String, settle: Bool = true, _ body: (Case) async throws -> Void) async throws {
        let descriptors = ProcessUsage.descriptors(pid)
        let resident = ProcessUsage.residentKiB(pid)
        let jobs = try await store.jobs().count
        let replies = stub.comments.count + stub.statuses.count
        let result = Case()
        do {
            try await body(result)
        } catch {
            result.failed.append("the case threw: \(error)")
        }
        if settle {
            // Streams let go, replies delivered.
            _ = try? await poll(
                until: { try await store.replies().allSatisfy { $0.state != .pending } }, timeout: .seconds(20))
        }
        let crashed =
            !serve.process.isRunning || serve.log.contains("Fatal error") || serve.log.contains("Program crashed")
        table.add(
            AttackTable.Row(
                number: 0, kind: kind, name: name, statuses: result.statusText,
                jobs: try await store.jobs().count - jobs,
                replies: stub.comments.count + stub.statuses.count - replies, crash: crashed,
                descriptors: (descriptors, ProcessUsage.descriptors(pid)),
                resident: (resident, ProcessUsage.residentKiB(pid)), shown: result.shown, failed: result.failed))
    }

    func post(
        _ body: [UInt8], event: String = "issue_comment", delivery: String? = UUID().uuidString
    ) async throws
        -> (status: Int, text: String)
    {
        var headers = WebhookFixture.headers(event: event, body: body, secret: server.secret)
        if let delivery { headers["X-Gitea-Delivery"] = delivery } else { headers["X-Gitea-Delivery"] = nil }
        return try await WebhookFixture.post(body, headers: headers, to: serve.hookURL)
    }

    func get(_ path: String) async throws -> (status: Int, text: String) {
        try await WebhookFixture.get(serve.baseURL + path)
    }

    /// A run directory with a log, and (when `state` is given) a job whose current run it is.
    func makeRun(_ id: String, job state: JobState?, live: Bool = false) async throws {
        let config = try harness.config()
        let directory = config.runsDirectory.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "a line\n".write(to: directory.appendingPathComponent("run.log"), atomically: true, encoding: .utf8)
        if live {
            try FileManager.default.createDirectory(at: config.liveRunsDirectory, withIntermediateDirectories: true)
            try "{}".write(
                to: config.liveRunsDirectory.appendingPathComponent("\(id).json"), atomically: true, encoding: .utf8)
        }
        guard let state else { return }
        _ = try await store.transaction { queue in
            var job = try queue.insert(
                Job(
                    recipe: "web", repository: "recipes/web", pr: 900, headSHA: String(repeating: "9", count: 40),
                    stages: nil, requester: "alice", commentID: nil))
            job.state = state
            job.runID = id
            try queue.update(job)
        }
    }

    /// Opens `count` streams on run `id`, `perAddress` from each loopback address; returns the
    /// accepted ones and counts every answer.
    func openStreams(
        _ id: String, count: Int, perAddress: Int, base: String, into result: Case
    ) throws
        -> [RawConnection]
    {
        var open: [RawConnection] = []
        for index in 0..<count {
            let connection = try RawConnection(port: port, from: "\(base).\(1 + index / perAddress)")
            let head = try connection.openStream("/runs/\(id)/events")
            let code = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
            result.status(code)
            if code == 200 { open.append(connection) } else { connection.close() }
        }
        return open
    }

    // MARK: - 1. Streams

    func streams(flood: Int) async throws {
        let ended = "20260101T000000Z-web-ended1"
        try await makeRun(ended, job: .failed)
        try await run("streams", "500 streams on a run that ended without results") { result in
            let clock = ContinuousClock()
            let start = clock.now
            let open = try openStreams(ended, count: 500, perAddress: 10, base: "127.0.2", into: result)
            result.expect(open.count == 256 && result.statuses[429] == 244, "256 open (the cap), 244 refused 429")
            // Each hears why, and its response ends (the chunked body's last chunk).
            let endedAll = open.allSatisfy {
                let text = $0.read(until: "\r\n0\r\n\r\n")
                return text.contains("event: end\ndata: the run ended without results")
                    && text.hasSuffix("\r\n0\r\n\r\n")
            }
            result.expect(endedAll, "each heard 'end: the run ended without results' and its response ended")
            result.note("all ended within \(DurationText.format(clock.now - start))")
            let held = ProcessUsage.descriptors(pid)
            for connection in open { connection.close() }
            let back = try await poll(
                until: { ProcessUsage.descriptors(pid) <= held - 250 }, timeout: .seconds(10))
            result.expect(back, "their connections released once the clients closed them")
        }
        let live = "20260101T000000Z-web-live01"
        try await makeRun(live, job: nil, live: true)
        try await run("streams", "\(flood) streams from one address on a live run, then gone") { result in
            let open = try openStreams(live, count: flood, perAddress: flood, base: "127.0.3", into: result)
            result.expect(open.count == 16, "16 open (the per-address cap), the rest 429")
            for connection in open { connection.close() }
            let back = try await poll(until: { await streamCount() == 0 }, timeout: .seconds(5))
            result.expect(back, "the server let go of every stream once its client left")
        }
        let baseline = ProcessUsage.descriptors(pid)
        try await run("streams", "\(flood) streams from \(flood / 16) addresses on a live run, then gone") { result in
            let open = try openStreams(live, count: flood, perAddress: 16, base: "127.0.4", into: result)
            result.expect(open.count == 256, "256 open (the server's cap), the rest 429")
            let held = ProcessUsage.descriptors(pid)
            result.note("\(held) descriptors while held")
            for connection in open { connection.close() }
            let back = try await poll(
                until: {
                    let streams = await streamCount()
                    return ProcessUsage.descriptors(pid) <= baseline + 2 && streams == 0
                }, timeout: .seconds(10))
            result.expect(back, "descriptors back to \(baseline) (+2) once the clients left")
            let ticks = ProcessUsage.cpuTicks(pid)
            try await Task.sleep(for: .seconds(5))
            let busy = Double(ProcessUsage.cpuTicks(pid) - ticks) / Double(sysconf(Int32(_SC_CLK_TCK))) / 5 * 100
            result.expect(busy < 3, String(format: "%.1f %% CPU in the 5 s after", busy))
        }
    }

    func streamCount() async -> Int {
        let metrics = (try? await get("/metrics").text) ?? ""
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("ccci_live_streams ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
    }

    // MARK: - 2. Replays

    func replays() async throws {
        let body = try WebhookFixture.comment("!testme", pr: 1, commentID: 4242)
        try await run("replay", "a signed !testme replayed 200× while its job waits") { result in
            result.status(try await post(body).status)
            for index in 0..<200 {
                result.status(try await post(body, delivery: index % 2 == 0 ? UUID().uuidString : nil).status)
            }
            result.expect(result.statuses[202] == 1 && result.statuses[204] == 200, "one 202, then 204")
            _ = try await poll(until: { stub.comments(on: "recipes/web", 1).count >= 1 }, timeout: .seconds(10))
            try await Task.sleep(for: .milliseconds(500))
            result.expect(
                stub.comments(on: "recipes/web", 1).count == 1, "one comment (the ack), no 'already testing' per replay"
            )
        }
        try await run("replay", "the same body replayed 200× after its job ended") { result in
            let job = try require(try await store.jobs().last, "no job")
            try await store.updateJob(job.number) { job, _ in job.state = .passed }
            for _ in 0..<200 { result.status(try await post(body).status) }
            let edited = try WebhookFixture.comment("!testme", pr: 1, commentID: 4242, action: "edited")
            result.status(try await post(edited).status)
            result.expect(result.statuses[204] == 201, "every replay and the edit 204")
        }
    }

    // MARK: - 3. Repositories

    func repositories() async throws {
        stub.setPullRequest("recipes/web", 2500, head: head)
        stub.setPullRequest("evil/web", 2500, head: String(repeating: "e", count: 40))
        try await run("repository", "evil/web #2500 asks, pushes, closes; coop's #2500 waits") { result in
            result.status(try await post(WebhookFixture.comment("!testme", pr: 2500, commentID: 2500)).status)
            let evil = try WebhookFixture.comment(
                "!testme", repository: "evil/web", pr: 2500, author: "mallory", commentID: 2501)
            result.status(try await post(evil).status)
            for action in ["synchronized", "closed"] {
                let body = try WebhookFixture.synchronized(
                    repository: "evil/web", pr: 2500, head: String(repeating: "f", count: 40),
                    updatedAt: "2099-01-01T00:00:00Z", action: action)
                result.status(try await post(body, event: "pull_request").status)
            }
            let job = try await store.jobs().last
            result.expect(
                job?.repository == "recipes/web" && job?.pr == 2500 && job?.state == .queued,
                "recipes/web#2500 still queued")
            result.expect(!stub.calls.contains { $0.path.contains("evil") }, "no forge call for evil/web")
        }
        try await run("repository", "pushes whose head is not a commit id (main, abc123)") { result in
            for bad in ["main", "abc123", String(repeating: "g", count: 40)] {
                let body = try WebhookFixture.synchronized(pr: 2500, head: bad, updatedAt: "2099-01-01T00:00:00Z")
                result.status(try await post(body, event: "pull_request").status)
            }
            result.expect(result.statuses[400] == 3, "400 each")
            result.expect(try await store.jobs().last?.state == .queued, "nothing cancelled")
        }
    }

    // MARK: - 4. Races

    func races(_ count: Int) async throws {
        try await run("race", "!testme racing a push (0–11 ms later), \(count)×") { result in
            stub.delay = .milliseconds(4)
            defer { stub.delay = nil }
            var random = SplitMix64(seed: 7)
            let old = head
            for race in 1...count {
                let pr = 3000 + race
                let new = String(format: "%040x", race)
                stub.setPullRequest("recipes/web", pr, head: old)
                let pause = Int(random.next() % 12)
                async let comment = post(WebhookFixture.comment("!testme", pr: pr, commentID: 30_000 + race))
                async let push: (status: Int, text: String) = {
                    try await Task.sleep(for: .milliseconds(pause))
                    stub.setPullRequest("recipes/web", pr, head: new)
                    return try await post(
                        WebhookFixture.synchronized(pr: pr, head: new, updatedAt: stub.updatedAt("recipes/web", pr)),
                        event: "pull_request")
                }()
                let (first, second) = try await (comment, push)
                result.status(first.status)
                result.status(second.status)
            }
            let jobs = try await store.jobs().filter { (3001...(3000 + count)).contains($0.pr) }
            let stale = jobs.filter { $0.state.isActive && $0.headSHA == old }
            result.expect(stale.isEmpty, "old heads left queued: \(stale.count)")
            result.note(
                "\(jobs.filter { $0.state == .cancelled }.count) old heads queued then stopped, "
                    + "\(jobs.filter(\.state.isActive).count) queued at the new head")
        }
    }

    // MARK: - 5. The queue

    func queue() async throws {
        try await run("queue", "2,055 more waiting: /queue, /api/v1/queue, cancel the 2,001st") { result in
            _ = try await store.transaction { queue in
                for index in 0..<2055 {
                    _ = try queue.insert(
                        Job(
                            recipe: "web", repository: "recipes/web", pr: 50_000 + index,
                            headSHA: String(format: "%040x", 50_000 + index), stages: nil, requester: "alice",
                            commentID: nil))
                }
            }
            let waiting = try await store.jobCount(in: .queued)
            let page = try await get("/queue")
            result.status(page.status)
            result.expect(page.text.contains("\(waiting) waiting."), "the page says \(waiting) waiting")
            let last = try await get("/queue?page=\((waiting + 99) / 100)")
            result.status(last.status)
            result.expect(last.text.contains("<tr><td>\(waiting)</td>"), "the last page lists position \(waiting)")
            let api = try await get("/api/v1/queue?offset=2000&limit=1000")
            result.status(api.status)
            let document = try JSONSerialization.jsonObject(with: Data(api.text.utf8)) as? [String: Any]
            let total = document?["total_queued"] as? Int
            let listed = (document?["queued"] as? [Any])?.count
            result.expect(
                total == waiting && listed == waiting - 2000,
                "the API says total_queued \(total ?? -1), \(listed ?? -1) on the page")
            let target = try require(try await store.jobs(in: [.queued]).dropFirst(2000).first, "no job 2001")
            let cancel = try await WebhookFixture.post(
                [], headers: ["Authorization": "Bearer \(server.adminToken)"],
                to: "\(serve.baseURL)/queue/\(target.number)/cancel")
            result.status(cancel.status)
            result.expect(cancel.status == 200, "job \(target.number) (position 2001) cancelled")
        }
    }

    // MARK: - 6. The forge away

    func forgeOutage() async throws {
        stub.setPullRequest("recipes/web", 6000, head: head)
        try await run("forge down", "the forge's port closed: !testme, then its replies") { result in
            await stub.stopListening()
            let clock = ContinuousClock()
            let start = clock.now
            let answer = try await post(WebhookFixture.comment("!testme", pr: 6000, commentID: 6000))
            let took = clock.now - start
            result.status(answer.status)
            result.expect(answer.status == 202 && took < .seconds(2), "202 in \(DurationText.format(took))")
            try await Task.sleep(for: .seconds(3))
            try await stub.startListening()
            let job = try await poll(
                until: { try await store.jobs().first { $0.pr == 6000 } }, timeout: .seconds(60))
            result.expect(job?.headSHA == head, "queued once the forge was back")
            let delivered = try await poll(
                until: {
                    stub.statuses.contains {
                        $0.description.hasPrefix("queued")
                            && $0.targetURL?.hasSuffix("/jobs/\(job?.number ?? 0)") == true
                    }
                },
                timeout: .seconds(60))
            result.expect(delivered, "its ack and pending status delivered")
        }
        try await run("forge down", "replies due while the forge is away; the final status wins") { result in
            let job = try require(try await store.jobs().first { $0.pr == 6000 }, "no job")
            await stub.stopListening()
            _ = try await store.transaction { queue in
                for (state, text) in [("pending", "running"), ("success", "level 5 — every requested tier passed")] {
                    try queue.add(
                        .status(
                            state, description: text, targetURL: nil, sha: job.headSHA, issue: 6000,
                            in: "recipes/web", job: job.id))
                }
            }
            // A webhook wakes the sender: it finds the forge away and keeps the replies.
            result.status(try await post(WebhookFixture.comment("!testme --bogus", pr: 6000, commentID: 6001)).status)
            try await Task.sleep(for: .seconds(2))
            let pending = try await store.pendingReplyCount()
            let failed = try await store.replies().filter { $0.state == .failed }.count
            result.expect(pending >= 2 && failed == 0, "\(pending) replies kept, none given up")
            try await stub.startListening()
            let done = try await poll(
                until: { try await store.pendingReplyCount() == 0 }, timeout: .seconds(60))
            result.expect(done, "every reply delivered after the forge came back")
            let last = stub.statuses.last { $0.sha == job.headSHA }
            result.expect(last?.state == "success", "the last status on the commit is success")
            result.expect(!stub.statuses.contains { $0.description == "running" }, "the older 'running' never sent")
        }
    }

    // MARK: - 7. Run files

    func runFiles() async throws {
        try await run("run files", "results, log, JUnit: symlinks to the admin token") { result in
            let config = try harness.config()
            let id = "20260101T000000Z-web-evil01"
            let directory = config.runsDirectory.appendingPathComponent(id)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let token = server.home.appending("etc/admin-token")
            for name in ["results.json", "run.log", "junit.xml"] {
                try FileManager.default.createSymbolicLink(
                    atPath: directory.appendingPathComponent(name).path, withDestinationPath: token.path)
            }
            var leaked = false
            for path in ["/runs/\(id)/results.json", "/runs/\(id)/log", "/runs/\(id)/junit.xml", "/runs/\(id)"] {
                let answer = try await get(path)
                result.status(answer.status)
                leaked = leaked || answer.text.contains(server.adminToken)
            }
            result.expect(!leaked, "the token was served nowhere")
        }
    }

    // MARK: - 8. Markdown

    func markdown() async throws {
        try await run("markdown", "!testme --stages ![x](http://evil.test/p.png) @admin") { result in
            let body = try WebhookFixture.comment(
                "!testme --stages ![x](http://evil.test/p.png) @admin [click](http://evil.test)", pr: 1,
                commentID: 8000)
            result.status(try await post(body).status)
            _ = try await poll(
                until: { stub.comments.contains { $0.body.contains("could not read") } }, timeout: .seconds(10))
            let reply = stub.comments.last { $0.body.contains("could not read") }?.body ?? ""
            result.expect(
                !reply.isEmpty && !["evil", "@admin", "![", "click"].contains { reply.contains($0) },
                "the usage echoes nothing the comment said")
        }
    }

    // MARK: - 10. Names

    func names() async throws {
        try await run("names", "NUL, newline, '..', three parts, a full name that lies") { result in
            let jobs = try await store.jobs().count
            for repository in ["../web", "recipes/we\nb", "recipes/we\u{0}b", "a/b/c", "recipes/web.git"] {
                result.status(try await post(WebhookFixture.comment("!testme", repository: repository)).status)
            }
            result.status(try await post(WebhookFixture.comment("!testme", author: "alice\nERROR forged")).status)
            result.expect(result.statuses[400] == 6, "400 each")
            result.expect(try await store.jobs().count == jobs, "nothing stored")
            result.expect(!serve.log.contains("ERROR forged") && !serve.log.contains("\u{0}"), "no raw line in the log")
        }
    }

    // MARK: - 11. Smaller

    func smaller() async throws {
        try await run("timeouts", "headers trickled; a connection that says nothing") { result in
            let clock = ContinuousClock()
            let start = clock.now
            let slow = try RawConnection(port: port)
            try slow.send("GET / HTTP/1.1\r\nHo")
            let closed = slow.isClosedByPeer(within: 20)
            result.expect(closed, "trickled headers closed after \(DurationText.format(clock.now - start))")
            let idle = try RawConnection(port: port)
            result.expect(idle.isClosedByPeer(within: 20), "a silent connection closed")
        }
        try await run("bodies", "200 parallel 1 MiB bodies, unsigned and forged") { result in
            let megabyte = String(repeating: "a", count: 1 << 20)
            for signature in [nil, String(repeating: "0", count: 64)] as [String?] {
                var connections: [RawConnection] = []
                for _ in 0..<100 {
                    let connection = try RawConnection(port: port)
                    var head = "POST /hooks/forge HTTP/1.1\r\nHost: x\r\nX-Gitea-Event: issue_comment\r\n"
                    if let signature { head += "X-Gitea-Signature: \(signature)\r\n" }
                    try connection.send(head + "Content-Length: \(megabyte.utf8.count)\r\n\r\n")
                    connections.append(connection)
                }
                // Every body in flight at once, 64 KiB at a time to each.
                let chunk = String(megabyte.prefix(64 << 10))
                for _ in 0..<16 {
                    for connection in connections { try? connection.send(chunk) }
                }
                for connection in connections {
                    let answer = connection.read()
                    result.status(Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0)
                    connection.close()
                }
            }
            result.expect(
                result.statuses[401] == 200 || (result.statuses[401] ?? 0) + (result.statuses[503] ?? 0) == 200,
                "401 (or 503 past 32 bodies in reading)")
        }
        try await run("health", "/healthz while another process holds the store's lock") { result in
            let holder = try LockHolder(database: harness.config().storePath!)
            let locked = try await get("/healthz")
            result.status(locked.status)
            holder.release()
            result.expect(
                locked.status == 503 && locked.text.contains("cannot be written"), "503: '\(locked.text.prefix(90))'")
            let ok = try await poll(until: { try await get("/healthz").status == 200 }, timeout: .seconds(20))
            result.status(200)
            result.expect(ok, "200 again once the lock was released")
        }
        try await run("http", "HEAD /api/v1/runs; the headers of /") { result in
            var head = HTTPClientRequest(url: serve.baseURL + "/api/v1/runs")
            head.method = .HEAD
            let answer = try await HTTPClient.shared.execute(head, timeout: .seconds(10))
            result.status(Int(answer.status.code))
            result.expect(answer.status.code == 200, "HEAD answered")
            let page = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: serve.baseURL + "/"), timeout: .seconds(10))
            _ = try await page.body.collect(upTo: 1 << 20)
            result.status(Int(page.status.code))
            result.expect(
                page.headers.first(name: "Content-Security-Policy")?.hasPrefix("default-src 'none'") == true
                    && page.headers.first(name: "X-Frame-Options") == "DENY"
                    && page.headers.first(name: "X-Content-Type-Options") == "nosniff",
                "CSP, X-Frame-Options, nosniff")
        }
        stub.setPullRequest("recipes/web", 7000, head: head)
        try await run("pull request", "closing a pull request with a queued job") { result in
            result.status(try await post(WebhookFixture.comment("!testme", pr: 7000, commentID: 7000)).status)
            let close = try WebhookFixture.synchronized(
                pr: 7000, head: head, updatedAt: "2099-01-01T00:00:00Z", action: "closed")
            result.status(try await post(close, event: "pull_request").status)
            let job = try await store.jobs().first { $0.pr == 7000 }
            result.expect(job?.state == .cancelled, "its job cancelled")
        }
        try await run("refusals", "a reader comments !testme 5 times on one pull request") { result in
            let before = stub.comments(on: "recipes/web", 1).count
            for id in 0..<5 {
                result.status(
                    try await post(WebhookFixture.comment("!testme", author: "mallory", commentID: 9000 + id)).status)
            }
            _ = try await poll(until: { stub.comments(on: "recipes/web", 1).count > before }, timeout: .seconds(10))
            try await Task.sleep(for: .milliseconds(500))
            result.expect(stub.comments(on: "recipes/web", 1).count == before + 1, "one refusal")
        }
    }

    // MARK: - 9. Secret files

    static func secretFiles(
        table: AttackTable, harness: RunHarness, server: ServerHarness, stub: ForgeStub
    )
        async throws
    {
        let config = try server.writeServeConfig(stub: stub)
        let secret = server.home.appending("etc/webhook-secret")
        let original = try String(contentsOf: secret, encoding: .utf8)
        let link = server.home.appending("etc/credential")
        let target = server.home.appending("etc/credential-target")
        try original.write(to: target, atomically: true, encoding: .utf8)
        chmod(target.path, 0o600)
        try? FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target.path)
        let text = try String(contentsOf: config, encoding: .utf8)
        let cases: [(String, (inout String) throws -> Void, Int32?)] = [
            ("the secret file mode 0640", { _ in chmod(secret.path, 0o640) }, 2),
            (
                "a 1-character secret",
                { _ in
                    try "x\n".write(to: secret, atomically: true, encoding: .utf8)
                    chmod(secret.path, 0o600)
                }, 2
            ),
            (
                "a symlink to a 0600 file",
                { text in text = text.replacingOccurrences(of: secret.path, with: link.path) }, nil
            ),
        ]
        for (name, change, expected) in cases {
            var changed = text
            try change(&changed)
            try changed.write(to: config, atomically: true, encoding: .utf8)
            let output = server.home.appending("secrets-\(UUID().uuidString.prefix(6)).log")
            let process = try await harness.start(
                ["serve", "--workers", "0"], output: output, extra: ["CCCI_CONFIG": config.path])
            let log = { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
            _ = try await poll(until: { log().contains("http.port=") || !process.isRunning }, timeout: .seconds(30))
            let started = process.isRunning
            if started { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
            let message = log().split(separator: "\n").last { $0.hasPrefix("error:") }.map(String.init) ?? ""
            var failed: [String] = []
            var shown: [String] = []
            if let expected {
                if started || process.terminationStatus != expected {
                    failed.append("exit \(process.terminationStatus): \(message)")
                }
                if message.contains(original.trimmingCharacters(in: .newlines)) {
                    failed.append("the secret was printed")
                }
                shown.append("refused, exit \(process.terminationStatus): \(message.prefix(110))")
            } else {
                if !started { failed.append("did not start: \(message)") }
                shown.append("started, then stopped by SIGTERM (exit \(process.terminationStatus))")
            }
            table.add(
                AttackTable.Row(
                    number: 0, kind: "secrets", name: name, statuses: "-", jobs: 0, replies: 0, crash: false,
                    descriptors: (0, 0), resident: (0, 0), shown: shown, failed: failed))
            try original.write(to: secret, atomically: true, encoding: .utf8)
            chmod(secret.path, 0o600)
        }
        try text.write(to: config, atomically: true, encoding: .utf8)
    }

    // MARK: - 1. SIGTERM

    static func shutdown(table: AttackTable) async throws {
        let harness = try RunHarness()
        let web = try await harness.add("web")
        let server = try ServerHarness(recipes: [])
        try await ForgeStub.with { stub in
            stub.setPullRequest("recipes/web", 1, head: try require(web.head, "the web fixture has no PR head"))
            stub.grant("alice", "write", on: "recipes/web")
            let serve = try await ServeProcess(
                harness: harness, server: server, stub: stub, allowlist: ["alice"], extra: ["CCCI_CAPACITY": "1"])
            let store = try await Store.open(harness.config())
            let attack = Attack(
                table: table, serve: serve, stub: stub, server: server, harness: harness, store: store,
                head: web.head ?? "")
            let pid = serve.process.processIdentifier
            let before = (ProcessUsage.descriptors(pid), ProcessUsage.residentKiB(pid))
            let result = Case()
            let body = try WebhookFixture.comment("!testme --stages install,upgrade,backup,restore,custom")
            result.status(try await attack.post(body).status)
            let job = try await poll(
                until: { try await store.jobs().first { $0.pid != nil && $0.runID != nil } }, timeout: .seconds(120))
            let runID = job?.runID ?? ""
            _ = await harness.waitForLog(containing: "[install] converge: started")
            let open = try attack.openStreams(runID, count: 200, perAddress: 8, base: "127.0.5", into: result)
            let during = (ProcessUsage.descriptors(pid), ProcessUsage.residentKiB(pid))
            let clock = ContinuousClock()
            let start = clock.now
            kill(pid, SIGTERM)
            let exit = await serve.waitForExit(timeout: .seconds(120))
            let took = clock.now - start
            result.expect(open.count == 200, "200 streams open, \(during.0) descriptors")
            result.expect(exit == 0, "the server exited \(exit.map(String.init) ?? "(not)")")
            result.expect(took < .seconds(15), "SIGTERM → exit in \(DurationText.format(took))")
            let results = try? JSONCoding.decoder.decode(
                RunResults.self,
                from: Data(
                    contentsOf: try harness.config().runsDirectory.appendingPathComponent("\(runID)/results.json")))
            result.expect(results?.exitCode == 143 && results?.outcome == .cancelled, "the run exited 143, cancelled")
            let residue = try await harness.leftovers(
                [results?.appDomain ?? "", results?.upgradeAppDomain ?? ""].filter { !$0.isEmpty })
            result.expect(residue.isEmpty, "its apps torn down, nothing left")
            result.expect(open.allSatisfy { $0.isClosedByPeer(within: 1) }, "every stream closed")
            let requeued = try await store.job(job?.number ?? 0)
            result.expect(requeued?.state == .queued && requeued?.attempt == 2, "the job queued again (attempt 2)")
            table.add(
                AttackTable.Row(
                    number: 0, kind: "shutdown",
                    name: "SIGTERM: 200 streams open, a run of web going (fds, RSS: before → with the streams)",
                    statuses: result.statusText, jobs: 1, replies: stub.comments.count + stub.statuses.count,
                    crash: serve.log.contains("Fatal error"), descriptors: (before.0, during.0),
                    resident: (before.1, during.1), shown: result.shown, failed: result.failed))
        }
    }
}
