import CCCICore
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What only a store on a server shows: several nodes claiming from one queue, two nodes
/// migrating at once, and the ways a node can be pointed at the wrong server — each a clear error
/// naming the URL without its secret, with nothing written. On a real PostgreSQL cluster.
@Suite struct PostgresStoreTests {
    @Test(
        "two nodes, two workers each, claim 200 queued jobs at once: each job claimed exactly once, by the node it records, never two of one pull request at a time"
    )
    func claimedOnce() async throws {
        let fixture = try await StoreKind.postgres.fixture()
        let nodes = [try await fixture.open(node: "node-a"), try await fixture.open(node: "node-b")]
        // 50 pull requests of 4 recipes, 4 heads each: a pull request's jobs must run one at a time.
        var queued: [Int64] = []
        for index in 0..<200 {
            let job = try await nodes[0].enqueue(
                "recipe\(index % 4)", pr: index % 50, head: Array("0123456789abcdef")[index / 50])
            queued.append(job.number)
        }
        let ledger = ClaimLedger()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in nodes.enumerated() {
                let node = index == 0 ? "node-a" : "node-b"
                for _ in 0..<2 {
                    group.addTask {
                        var idle = 0
                        while idle < 20 {
                            guard let job = try await store.claimNext() else {
                                // Jobs held back behind their pull request's running one.
                                idle += 1
                                try await Task.sleep(for: .milliseconds(20))
                                continue
                            }
                            idle = 0
                            let key = "\(job.repository)#\(job.pr)"
                            ledger.state.withLock { ledger in
                                if ledger.claims[job.number] != nil { ledger.duplicates.append(job.number) }
                                ledger.claims[job.number] =
                                    job.node == node ? node : "\(node) (recorded \(job.node ?? "none"))"
                                if !ledger.running.insert(key).inserted { ledger.overlaps.append(key) }
                            }
                            try await Task.sleep(for: .milliseconds(Int.random(in: 0...3)))
                            ledger.state.withLock { _ = $0.running.remove(key) }
                            try await store.updateJob(job.number) { job, _ in job.state = .passed }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = ledger.state.withLock { $0 }
        #expect(final.duplicates.isEmpty, "claimed twice: \(final.duplicates)")
        #expect(final.overlaps.isEmpty, "two jobs of one pull request at once: \(final.overlaps)")
        #expect(Set(final.claims.keys) == Set(queued), "every job claimed")
        #expect(final.claims.values.allSatisfy { $0 == "node-a" || $0 == "node-b" }, "each records its claimer")
        #expect(Set(final.claims.values) == ["node-a", "node-b"], "both nodes claimed")
        #expect(try await nodes[1].jobCount(in: .passed) == 200)
    }

    @Test(
        "a finished run's files kept in the shared store are served on another node's pages; a node's own run directory comes first"
    )
    func runFiles() async throws {
        let fixture = try await StoreKind.postgres.fixture()
        let a = try await fixture.open(node: "node-a")
        #expect(a.keepsRunFiles)
        let runID = "20260101T000000Z-web-abc123"
        let log = Data("line one\nline two\n".utf8)
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF])
        try await a.keep(files: ["run.log": log, "results.json": Data("{}".utf8), "screenshot.png": png], of: runID)

        let b = try await fixture.open(node: "node-b")
        let elsewhere = try fixture.config(node: "node-b")
        let pages = Store.artifacts(elsewhere, store: b)
        #expect(await pages.hasRun(runID))
        #expect(await pages.read("screenshot.png", of: runID) == png, "bytes kept exactly")
        #expect(await pages.has("results.json", of: runID))
        #expect(await !pages.has("junit.xml", of: runID))
        #expect(await pages.log(of: runID, from: 9) == Data("line two\n".utf8))
        #expect(await pages.log(of: runID, from: log.count) == nil, "nothing past the end")
        #expect(await !pages.hasRun("20260101T000000Z-web-ffffff"))
        #expect(await !pages.hasRun("../etc"))

        // A run that runs on this node is read from its directory (its log still growing).
        let directory = elsewhere.runsDirectory.appendingPathComponent(runID)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("live\n".utf8).write(to: directory.appendingPathComponent("run.log"))
        #expect(await pages.log(of: runID, from: 0) == Data("live\n".utf8))
    }

    @Test(
        "the generation a node answers from memory moves with every node's writes: its own at once, another's by its notification"
    )
    func generationFollowsEveryNode() async throws {
        let fixture = try await StoreKind.postgres.fixture()
        let a = try await fixture.open(node: "node-a")
        let b = try await fixture.open(node: "node-b")
        let start = StoreContractTests.start
        func run(_ index: Int) -> RunResults {
            StoreContractTests.results(
                runID: "r\(index)", recipe: "web", outcome: .pass,
                startedAt: start.addingTimeInterval(Double(index)))
        }
        // Both nodes read once (listening starts), then wait until they answer without a read.
        var before = try await b.generation()
        _ = try await a.generation()
        try await a.record(run(1))
        let own = try await a.generation()
        #expect(own > before, "a node reads its own write at once")
        // Node b learns it from the notification, without being told by this test.
        let deadline = ContinuousClock.now + .seconds(10)
        var seen = try await b.generation()
        while seen < own, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            seen = try await b.generation()
        }
        #expect(seen == own, "node b saw node a's run")
        before = seen
        // A canonical moves it too, on both nodes.
        #expect(try await b.swapCanonical(expected: nil, with: StoreContractTests.canonical("web", version: "1.0.0")))
        let promoted = try await b.generation()
        #expect(promoted > before)
        seen = try await a.generation()
        while seen < promoted, ContinuousClock.now < deadline + .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
            seen = try await a.generation()
        }
        #expect(seen == promoted)
    }

    @Test("a job queued or finished on one node wakes the others: the queue's changes are notified through the store")
    func queueChanges() async throws {
        let fixture = try await StoreKind.postgres.fixture()
        let a = try await fixture.open(node: "node-a")
        let b = try await fixture.open(node: "node-b")
        let changes = try #require(b.queueChanges(), "a shared store notifies its nodes")
        let heard = Counter()
        let listener = Task { for await _ in changes { heard.add() } }
        defer { listener.cancel() }
        /// Waits until node-b has heard more than `count` notifications (`false` after `timeout`).
        func hears(moreThan count: Int, within timeout: Duration) async throws -> Bool {
            try await poll(until: { heard.value > count }, timeout: timeout)
        }
        // Node-b listens once a write of node-a's (an empty queue transaction) reaches it.
        var listening = false
        for _ in 0..<50 where !listening {
            _ = try await a.transaction { _ in 0 }
            listening = try await hears(moreThan: 0, within: .milliseconds(200))
        }
        #expect(listening, "node-b hears node-a's queue transactions")
        try await Task.sleep(for: .milliseconds(300))
        let before = heard.value
        let job = try await a.enqueue("web", pr: 1, head: "a")
        #expect(try await hears(moreThan: before, within: .seconds(5)), "node-b heard node-a queue a job")
        let queued = heard.value
        try await a.updateJob(job.number) { job, _ in job.state = .cancelled }
        #expect(try await hears(moreThan: queued, within: .seconds(5)), "node-b heard node-a finish it")
    }

    @Test(
        "two nodes opening a new store at once migrate it once; a node of a newer cc-ci's store is refused, nothing written"
    )
    func migrations() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try await cluster.createDatabase()
        var config = try await StoreKind.sqliteFile.fixture().config(node: "node-a")
        config.store = .postgres(cluster.location(database: database))
        let opened = config
        async let first = Store.open(opened)
        async let second = Store.open(opened)
        let (a, b) = try await (first, second)
        try await a.record(
            StoreContractTests.results(runID: "r1", recipe: "web", outcome: .pass, startedAt: Date()))
        #expect(try await b.results(runID: "r1") != nil)
        let ledger = try await cluster.query("SELECT name FROM ccci_migration ORDER BY name", database: database)
        #expect(
            ledger == ["v1-store", "v2-run-files", "v3-generation-notify"], "each migration recorded once: \(ledger)")

        try await cluster.psql(
            "INSERT INTO ccci_migration (name, applied_at, node) VALUES ('v99-future', 0, 'node-z')",
            database: database)
        await #expect {
            _ = try await Store.open(opened)
        } throws: { error in
            "\(error)".contains("newer cc-ci") && "\(error)".contains("v99-future")
                && "\(error)".contains("postgres://postgres@127.0.0.1:\(cluster.port)/\(database)")
        }
        #expect(try await cluster.query("SELECT count(*) FROM run", database: database) == ["1"])
    }

    @Test(
        "a wrong password, an unreachable server, a loose password file, a database of something else: each a clear error naming the URL, never the password; nothing written"
    )
    func badInput() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try await cluster.createDatabase()
        let scratch = try TemporaryDirectory("ccci-pg-bad")
        var config = try await StoreKind.sqliteFile.fixture().config(node: "node-a")
        let url = "postgres://postgres@127.0.0.1:\(cluster.port)/\(database)"

        let wrong = scratch.appending("wrong-password")
        try "not-the-password-at-all\n".write(to: wrong, atomically: true, encoding: .utf8)
        chmod(wrong.path, 0o600)
        config.store = .postgres(cluster.location(database: database, passwordFile: wrong))
        let wrongPassword = config
        await #expect {
            _ = try await Store.open(wrongPassword)
        } throws: { error in
            let text = "\(error)"
            return text.contains(url) && text.contains("refused user postgres") && text.contains("store_password_file")
                && !text.contains("not-the-password-at-all")
        }

        try "not-the-password-at-all\n".write(to: wrong, atomically: true, encoding: .utf8)
        chmod(wrong.path, 0o644)
        await #expect {
            _ = try await Store.open(wrongPassword)
        } throws: { error in
            "\(error)".contains("store_password_file \(wrong.path)") && "\(error)".contains("chmod 600")
        }

        var closed = cluster.location(database: database)
        closed.port = try await Self.closedPort()
        config.store = .postgres(closed)
        let unreachable = config
        await #expect {
            _ = try await Store.open(unreachable)
        } throws: { error in
            "\(error)".contains("postgres://postgres@127.0.0.1:\(closed.port)/\(database)")
                && "\(error)".contains("cannot connect") && "\(error)".contains("is the server running")
        }

        try await cluster.psql("CREATE TABLE orders (id integer)", database: database)
        config.store = .postgres(cluster.location(database: database))
        let foreign = config
        await #expect {
            _ = try await Store.open(foreign)
        } throws: { error in
            "\(error)".contains(url) && "\(error)".contains("no cc-ci store")
        }
        #expect(
            try await cluster.query("SELECT to_regclass('ccci_migration') IS NULL", database: database) == ["t"],
            "nothing written to a database of something else")
    }

    /// A count several tasks add to.
    final class Counter: Sendable {
        private let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    /// What the workers of ``claimedOnce()`` saw.
    final class ClaimLedger: Sendable {
        struct State {
            var claims: [Int64: String] = [:]
            var duplicates: [Int64] = []
            var running: Set<String> = []
            var overlaps: [String] = []
        }
        let state = Mutex(State())
    }

    /// A loopback port nothing listens on.
    static func closedPort() async throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
