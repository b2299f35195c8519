import CCCICore
import CCCIStore
import CCCITestSupport
import Foundation
import Testing

/// What every store must do, written once against the protocols (``RunHistory``,
/// ``CanonicalStore``, ``JobQueueStore``, ``NodeStore``) and run against every implementation
/// (``StoreKind``). A new store passes this suite before anything else uses it.
@Suite struct StoreContractTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A finished run's results document (one install tier).
    static func results(runID: String, recipe: String, outcome: RunOutcome, startedAt: Date) -> RunResults {
        let decision = RunVerdict.decide(
            concluded: [.install: TierResult(status: outcome == .pass ? .pass : .fail, durationSeconds: 2)],
            requested: [.install], stop: nil, residueClean: true, declaredNA: [:], customTestsExecuted: 0)
        return RunResults(
            runID: runID, recipe: recipe, ref: nil, pr: nil, headCommit: String(repeating: "c", count: 40),
            headVersion: "1.0.0+1", baseVersion: nil, driver: "native", mode: "cold",
            appDomain: "\(recipe)-000000.ci.test", upgradeAppDomain: nil, startedAt: startedAt,
            finishedAt: startedAt.addingTimeInterval(30), outcome: decision.outcome,
            exitCode: decision.outcome.exitCode,
            tiers: Dictionary(uniqueKeysWithValues: decision.tiers.map { ($0.key.rawValue, $0.value) }),
            ladder: decision.ladder, deployCount: 1,
            manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]), flags: [],
            artifacts: Artifacts(runDirectory: "/tmp/\(runID)"), ccciVersion: "test")
    }

    static func canonical(_ recipe: String, version: String, run: String = "r1") -> CanonicalRecord {
        CanonicalRecord(
            recipe: recipe, version: version, commit: String(repeating: "a", count: 40),
            domain: "\(recipe).warm.ci.ccci.test", volumes: ["\(recipe)_warm_content"], volumeBytes: 4096, runID: run,
            promotedAt: start)
    }

    // MARK: - History

    @Test(
        "a recorded run reads back whole, and the history lists runs newest first per recipe",
        arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let first = Self.results(runID: "r1", recipe: "web", outcome: .pass, startedAt: Self.start)
        let second = Self.results(runID: "r2", recipe: "web", outcome: .fail, startedAt: Self.start + 60)
        let other = Self.results(runID: "r3", recipe: "oneshot", outcome: .pass, startedAt: Self.start)
        for results in [first, second, other] { try await store.record(results) }

        let readBack = try #require(try await store.results(runID: "r2"))
        #expect(try readBack.encoded() == second.encoded())
        #expect(try await store.results(runID: "nope") == nil)

        let web = try await store.runs(recipe: "web", limit: 10)
        #expect(web.map(\.runID) == ["r2", "r1"])
        #expect(web.first == RunSummary(second), "a listed run is its document's summary")
        #expect(try await store.runs(recipe: nil, limit: 10).count == 3)
        #expect(try await store.runs(recipe: "web", limit: 1).map(\.runID) == ["r2"])
    }

    @Test(
        "recording the same run again replaces it (a janitor's verdict for a killed run)", arguments: StoreKind.allCases
    )
    func rerecord(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        try await store.record(Self.results(runID: "r1", recipe: "web", outcome: .pass, startedAt: Self.start))
        try await store.record(Self.results(runID: "r1", recipe: "web", outcome: .fail, startedAt: Self.start))
        #expect(try await store.runs(recipe: "web", limit: 10).count == 1)
        #expect(try await store.results(runID: "r1")?.outcome == .fail)
    }

    @Test(
        "the matrix keeps each recipe's newest cold run and trend; a batch records at once; every write moves the generation",
        arguments: StoreKind.allCases)
    func matrixAndGeneration(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let empty = try await store.generation()
        #expect(try await store.recipeMatrix().isEmpty)
        try await store.record(
            contentsOf: (0..<3).map {
                Self.results(
                    runID: "w\($0)", recipe: "web", outcome: $0 == 1 ? .fail : .pass, startedAt: Self.start + Double($0)
                )
            } + [Self.results(runID: "a0", recipe: "appdb", outcome: .pass, startedAt: Self.start)])
        let recorded = try await store.generation()
        #expect(recorded > empty)
        let matrix = try await store.recipeMatrix()
        #expect(matrix.map(\.recipe) == ["appdb", "web"])
        #expect(matrix[1].latest.runID == "w2" && matrix[1].trend.count == 3)
        #expect(matrix[1].latest.tiers["install"] == .pass)
        #expect(try await store.recipeStatus("web") == matrix[1])
        #expect(try await store.recipeStatus("nothing") == nil)

        var quick = Self.results(runID: "q0", recipe: "web", outcome: .pass, startedAt: Self.start + 3600)
        quick.mode = "quick"
        try await store.record(quick)
        #expect(try await store.recipeStatus("web")?.latest.runID == "w2", "a quick run does not replace the cold one")
        #expect(try await store.runs(recipe: "web", limit: 10).count == 4, "the quick run is in the history")

        let beforeCanonical = try await store.generation()
        #expect(try await store.swapCanonical(expected: nil, with: Self.canonical("web", version: "1.0.0")))
        #expect(try await store.generation() > beforeCanonical, "a promotion moves it too")
    }

    // MARK: - Canonicals and sweeps

    @Test("a canonical is swapped only from what the promotion started from", arguments: StoreKind.allCases)
    func compareAndSwap(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let first = Self.canonical("web", version: "1.2.0+1.0.0")
        #expect(try await store.swapCanonical(expected: nil, with: first))
        #expect(try await store.canonical("web") == first)
        var second = first
        second.version = "1.3.0+1.0.0"
        second.commit = String(repeating: "b", count: 40)
        #expect(try await store.swapCanonical(expected: nil, with: second) == false, "it is no longer absent")
        #expect(try await store.swapCanonical(expected: first, with: second))
        #expect(try await store.swapCanonical(expected: first, with: first) == false, "it is no longer the first")
        try await store.markCanonical("web", status: "broken", volumeBytes: 8192)
        let marked = try await store.canonical("web")
        #expect(marked?.status == "broken" && marked?.volumeBytes == 8192)
        #expect(try await store.dropCanonical("web"))
        #expect(try await store.dropCanonical("web") == false)
        #expect(try await store.canonicals().isEmpty)
    }

    @Test("each node keeps its own canonicals in a shared store", arguments: StoreKind.shared)
    func canonicalsPerNode(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let a = try await fixture.open(node: "node-a")
        let b = try await fixture.open(node: "node-b")
        #expect(try await a.swapCanonical(expected: nil, with: Self.canonical("web", version: "1.0.0")))
        #expect(try await b.canonical("web") == nil, "node-b runs no warm web")
        #expect(try await b.swapCanonical(expected: nil, with: Self.canonical("web", version: "2.0.0")))
        try await b.markCanonical("web", status: "broken")
        #expect(try await a.canonical("web")?.version == "1.0.0")
        #expect(try await a.canonical("web")?.status == "healthy", "b's mark never reaches a's canonical")
        #expect(try await b.dropCanonical("web"))
        #expect(try await a.canonicals().map(\.version) == ["1.0.0"])
    }

    @Test("sweeps are kept and read back newest first", arguments: StoreKind.allCases)
    func sweeps(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        for index in 0..<3 {
            try await store.record(
                sweep: SweepRecord(
                    id: "s\(index)", startedAt: Self.start + Double(index * 60),
                    finishedAt: Self.start + Double(index * 60 + 30), dryRun: index == 1, reportJSON: "{}"))
        }
        let newest = try await store.sweeps(limit: 2)
        #expect(newest.map(\.id) == ["s2", "s1"] && newest[1].dryRun)
    }

    // MARK: - The queue

    @Test(
        "workers claim oldest first, but never two jobs of one pull request, and a recipe with fewer runs goes first",
        arguments: StoreKind.allCases)
    func claimOrder(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let web1 = try await store.enqueue("web", pr: 1, head: "a")
        let web2 = try await store.enqueue("web", pr: 2, head: "b")
        let appdb = try await store.enqueue("appdb", pr: 1, head: "c")
        let web1Again = try await store.enqueue("web", pr: 1, head: "d")
        let first = try #require(try await store.claimNext())
        #expect(first.id == web1.id && first.state == .running && first.runID != nil && first.startedAt != nil)
        // web has a running job, appdb none: appdb's job goes before web's older one.
        #expect(try await store.claimNext()?.id == appdb.id)
        #expect(try await store.claimNext()?.id == web2.id)
        // web#1 is running: its second job waits.
        #expect(try await store.claimNext() == nil)
        try await store.updateJob(web1.number) { job, _ in job.state = .passed }
        #expect(try await store.claimNext()?.id == web1Again.id)
        #expect(try await store.jobCount(in: .running) == 3)
        #expect(try await store.jobCount(in: .passed) == 1)
        #expect(
            try await store.jobs(in: [.queued, .running], limit: 2, offset: 1).map(\.id) == [appdb.id, web1Again.id])
        #expect(try await store.job(runID: first.runID!)?.id == web1.id)
    }

    @Test(
        "a recipe with one running job goes before a recipe with two, however old the other's queued jobs",
        arguments: StoreKind.allCases)
    func claimOrderByRunningCount(kind: StoreKind) async throws {
        let store = try await kind.fixture().open()
        for pr in 1...3 { _ = try await store.enqueue("web", pr: pr, head: "a") }
        _ = try await store.enqueue("appdb", pr: 1, head: "b")
        _ = try await store.enqueue("appdb", pr: 2, head: "c")
        var claimed: [String] = []
        while let job = try await store.claimNext() { claimed.append("\(job.recipe)#\(job.pr)") }
        // web#1 (none runs), appdb#1 (web runs one), web#2 (one each, web's is older), appdb#2
        // (appdb runs one, web two), then web#3 (only web is left).
        #expect(claimed == ["web#1", "appdb#1", "web#2", "appdb#2", "web#3"])
    }

    @Test(
        "a claimed job records the node that claimed it; a node's recovery sees its own jobs only",
        arguments: StoreKind.shared)
    func jobsOfANode(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let a = try await fixture.open(node: "node-a")
        let b = try await fixture.open(node: "node-b")
        let first = try await a.enqueue("web", pr: 1, head: "a")
        let second = try await b.enqueue("appdb", pr: 2, head: "b")
        #expect(first.node == nil, "a queued job belongs to no node yet")
        let byA = try #require(try await a.claimNext())
        let byB = try #require(try await b.claimNext())
        #expect(byA.id == first.id && byA.node == "node-a")
        #expect(byB.id == second.id && byB.node == "node-b")
        #expect(try await a.jobsOfThisNode(in: [.running]).map(\.id) == [first.id])
        #expect(try await b.jobsOfThisNode(in: [.running]).map(\.id) == [second.id])
        #expect(try await a.jobs(in: [.running]).count == 2, "the queue itself is one")
    }

    @Test(
        "a node silent for longer than its lease has its running jobs taken over, each once and by one node; a node that renews keeps them; no node takes its own",
        arguments: StoreKind.shared)
    func leases(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let a = try await fixture.open(node: "node-a")
        let b = try await fixture.open(node: "node-b")
        let c = try await fixture.open(node: "node-c")
        let t0 = Self.start
        _ = try await a.enqueue("web", pr: 1, head: "a")
        _ = try await a.enqueue("web", pr: 2, head: "b")
        let first = try #require(try await a.claimNextJob(now: t0) { _ in "r1" })
        let second = try #require(try await a.claimNextJob(now: t0) { _ in "r2" })
        let requeue: @Sendable (inout Job, any JobQueueTransaction) throws -> Void = { job, _ in
            job.state = .queued
            job.attempt += 1
        }
        // The claim renewed node-a's lease at t0: not silent since before t0.
        #expect(try await b.takeOverJobs(ofNodesSilentSince: t0, now: t0, requeue).isEmpty)
        try await a.renewLease(now: t0 + 100)
        #expect(try await b.takeOverJobs(ofNodesSilentSince: t0 + 50, now: t0 + 120, requeue).isEmpty, "renewed")
        // Silent since t0 + 100: two nodes look at once; each job is taken over once.
        async let byB = b.takeOverJobs(ofNodesSilentSince: t0 + 700, now: t0 + 700, requeue)
        async let byC = c.takeOverJobs(ofNodesSilentSince: t0 + 700, now: t0 + 700, requeue)
        let (takenByB, takenByC) = try await (byB, byC)
        #expect(
            (takenByB + takenByC).map(\.id).sorted { ($0 ?? 0) < ($1 ?? 0) } == [first.id, second.id],
            "each taken over once: \(takenByB.map(\.id)) by node-b, \(takenByC.map(\.id)) by node-c")
        #expect((takenByB + takenByC).allSatisfy { $0.node == "node-a" && $0.attempt == 2 && $0.state == .queued })
        #expect(try await a.jobs(in: [.running]).isEmpty)
        // A node never takes over its own jobs, however long ago it renewed.
        let mine = try #require(try await b.claimNextJob(now: t0 + 800) { _ in "r3" })
        #expect(try await b.takeOverJobs(ofNodesSilentSince: t0 + 10_000, now: t0 + 10_000, requeue).isEmpty)
        #expect(
            try await c.takeOverJobs(ofNodesSilentSince: t0 + 10_000, now: t0 + 10_000, requeue).map(\.id) == [mine.id])
    }

    @Test(
        "the queue position counts queued jobs up to this one; an active job is found by (repository in any case, recipe, PR, head)",
        arguments: StoreKind.allCases)
    func positionsAndCoalescing(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let first = try await store.enqueue("web", pr: 1, head: "a")
        let second = try await store.enqueue("web", pr: 2, head: "b")
        let positions = try await store.transaction { queue in
            [try queue.position(of: first), try queue.position(of: second)]
        }
        #expect(positions == [1, 2])
        let found = try await store.transaction { queue in
            try queue.activeJob(
                repository: "Recipes/Web", recipe: "web", pr: 2, headSHA: String(repeating: "b", count: 40),
                quick: false)?.id
        }
        #expect(found == second.id)
        let stranger = try await store.transaction { queue in
            try queue.activeJobs(repository: "evil/web", recipe: "web", pr: 2).map(\.id)
        }
        #expect(stranger == [], "another owner's repository named like the recipe never reaches its jobs")
        try await store.updateJob(second.number) { job, _ in job.state = .failed }
        let gone = try await store.transaction { queue in
            try queue.activeJob(
                repository: "Recipes/Web", recipe: "web", pr: 2, headSHA: String(repeating: "b", count: 40),
                quick: false)?.id
        }
        #expect(gone == .some(nil), "a finished job no longer coalesces")
    }

    @Test(
        "a delivery id is acted on once; what a transaction's body throws leaves nothing", arguments: StoreKind.allCases
    )
    func deliveries(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let first = try await store.transaction(delivery: "d-1") { _ in "acted" }
        let second = try await store.transaction(delivery: "d-1") { _ in "acted" }
        #expect(first == "acted" && second == nil)
        #expect(try await store.hasDelivery("d-1"))
        #expect(try await !store.hasDelivery("d-2"))

        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await store.transaction(delivery: "d-3") { queue in
                _ = try queue.insert(
                    Job(
                        recipe: "web", repository: "recipes/web", pr: 9, headSHA: "e", stages: nil, requester: "bob",
                        commentID: nil))
                throw Refused()
            }
        }
        #expect(try await !store.hasDelivery("d-3"), "the delivery is not recorded either")
        #expect(try await store.jobs().isEmpty)
        #expect(try await store.pruneQueueHistory(before: Date() + 60) == 1, "d-1 is forgotten")
        #expect(try await !store.hasDelivery("d-1"))
    }

    @Test(
        "a delivered job comment becomes the job's comment; an undelivered reply is noted on the job",
        arguments: StoreKind.allCases)
    func replyBookkeeping(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let job = try await store.enqueue("web", pr: 1, head: "a")
        _ = try await store.transaction { queue in
            try queue.add(.comment("ack", on: 1, in: "recipes/web", job: job.id, kind: .jobComment))
            try queue.add(
                .status(
                    "pending", description: "queued", targetURL: nil, sha: job.headSHA, issue: 1, in: "recipes/web",
                    job: job.id))
        }
        #expect(try await store.pendingReplyCount() == 2)
        let ack = try #require(try await store.nextPendingReply())
        try await store.finishReply(ack.id!, delivered: true, attempts: 1, error: nil, commentID: 77)
        #expect(try await store.job(job.number)?.replyCommentID == 77)
        let status = try #require(try await store.nextPendingReply())
        #expect(status.kind == .status)
        try await store.finishReply(
            status.id!, delivered: false, attempts: 4, error: "the forge answered 503", commentID: nil)
        #expect(try await store.nextPendingReply() == nil)
        #expect(try await store.job(job.number)?.replyError == "commit status not delivered: the forge answered 503")
        #expect(try await store.replies(job: job.number).map(\.state) == [.sent, .failed])
    }

    @Test(
        "a postponed reply waits out its backoff and says so on its job; an older status of a commit is superseded by a newer",
        arguments: StoreKind.allCases)
    func postponeAndSupersede(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let job = try await store.enqueue("web", pr: 1, head: "a")
        @Sendable func status(_ state: String) -> Reply {
            .status(
                state, description: state, targetURL: nil, sha: job.headSHA, issue: 1, in: "recipes/web", job: job.id)
        }
        _ = try await store.transaction { queue in try queue.add(status("pending")) }
        let first = try #require(try await store.nextPendingReply())
        let now = Date()
        try await store.postponeReply(first.id!, error: "connection refused", next: now + 30, now: now)
        #expect(try await store.nextPendingReply(now: now) == nil)
        #expect(try await store.nextPendingReply(now: now + 31)?.id == first.id)
        #expect(try await store.nextReplyAttempt().map { abs($0.timeIntervalSince(now + 30)) < 0.01 } == true)
        #expect(try await store.job(job.number)?.replyError?.hasPrefix(Reply.waitingPrefix) == true)
        #expect(try await store.supersedeIfOutdated(first.id!) == false, "nothing newer yet")
        _ = try await store.transaction { queue in try queue.add(status("success")) }
        #expect(try await store.supersedeIfOutdated(first.id!))
        #expect(try await store.replies(job: job.number).map(\.state) == [.superseded, .pending])
        let newer = try #require(try await store.nextPendingReply(now: now + 31))
        try await store.finishReply(newer.id!, delivered: true, attempts: 1, error: nil, commentID: nil)
        #expect(try await store.job(job.number)?.replyError == nil, "what waited got through")
    }

    @Test(
        "a !testme comment is recorded once by (repository, comment id); waiting ones come due in order; refusals and heads are kept",
        arguments: StoreKind.allCases)
    func intake(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let now = Date()
        @Sendable func request(
            _ comment: Int64, author: String = "bob", outcome: TestmeRequest.Outcome, due: Date?
        )
            -> TestmeRequest
        {
            var request = TestmeRequest(
                repository: "Recipes/Web", commentID: comment, issue: 3, author: author, recipe: "web", stages: nil,
                quick: false, commentUpdatedAt: now, receivedAt: now + Double(comment), outcome: outcome)
            request.nextAttemptAt = due
            return request
        }
        _ = try await store.transaction { queue in
            try queue.save(request(2, outcome: .waiting, due: now + 10))
            try queue.save(request(1, outcome: .waiting, due: now - 10))
            try queue.save(request(3, author: "mallory", outcome: .refused, due: nil))
            try queue.save(PullHead(repository: "Recipes/Web", pr: 3, head: "abc", pushedAt: now, updatedAt: now))
        }
        #expect(try await store.testmeRequest(repository: "recipes/web", commentID: 2)?.recipe == "web")
        #expect(try await store.testmeRequest(repository: "recipes/web", commentID: 9) == nil)
        #expect(try await store.dueTestmeRequests(now: now, limit: 20).map(\.commentID) == [1])
        #expect(try await store.dueTestmeRequests(now: now + 11, limit: 20).map(\.commentID) == [1, 2])
        #expect(try await store.dueTestmeRequests(now: now + 11, limit: 1).map(\.commentID) == [1])
        #expect(try await store.nextTestmeAttempt().map { abs($0.timeIntervalSince(now - 10)) < 0.01 } == true)
        let seen = try await store.transaction { queue in
            (
                try queue.wasRefused(repository: "RECIPES/WEB", issue: 3, author: "mallory"),
                try queue.wasRefused(repository: "recipes/web", issue: 3, author: "bob"),
                try queue.pullHead(repository: "recipes/web", pr: 3)?.head,
                try queue.testmeRequest(repository: "recipes/web", commentID: 1)?.outcome
            )
        }
        #expect(seen?.0 == true && seen?.1 == false && seen?.2 == "abc" && seen?.3 == .waiting)
        _ = try await store.transaction { queue in
            var done = try #require(try queue.testmeRequest(repository: "recipes/web", commentID: 1))
            done.outcome = .queued
            try queue.save(done)
        }
        #expect(try await store.dueTestmeRequests(now: now + 11, limit: 20).map(\.commentID) == [2], "saved over")
    }

    @Test("a writable store proves it can be written", arguments: StoreKind.allCases)
    func probe(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        try await store.probeWrite(within: .seconds(5))
        #expect(!store.location.isEmpty)
    }
}
