import CCCICore
import CCCIServer
import CCCIStore
import CCCITestSupport
import Foundation
import Testing

/// The server's queue policy on every store (the store's own rules are `StoreContractTests`).
@Suite struct QueueTests {
    @Test(
        "a job the server stopped is queued again once, with a reply; the second time it ends interrupted",
        arguments: StoreKind.allCases)
    func interruption(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let links = Links(base: "http://ci.test/")
        let job = try await store.enqueue("web", pr: 1, head: "a")
        _ = try await store.claimNext()
        let requeued = try #require(
            try await store.updateJob(job.number) { job, queue in
                try JobPolicy.interrupt(&job, reason: "the server stopped", in: queue, links: links)
            })
        #expect(requeued.state == .queued && requeued.attempt == 2)
        let replies = try await store.replies(job: job.number)
        #expect(replies.map(\.kind) == [.comment, .status])
        #expect(replies[0].body?.contains("attempt 2 of 2") == true)
        #expect(replies[1].statusState == "pending")
        #expect(try await store.claimNext()?.id == job.id, "it keeps its place at the head of the queue")
        let ended = try #require(
            try await store.updateJob(job.number) { job, queue in
                try JobPolicy.interrupt(&job, reason: "the server stopped", in: queue, links: links)
            })
        #expect(ended.state == .interrupted && ended.finishedAt != nil)
        let last = try await store.replies(job: job.number).suffix(2)
        #expect(last.map(\.kind) == [.jobComment, .status])
        #expect(last.last?.statusState == "error")
        #expect(try await store.claimNext() == nil)
    }

    @Test(
        "a quick run's verdict replies while its job runs (comment and status); not for a job cancelled meanwhile or another run's",
        arguments: StoreKind.allCases)
    func verdictBeforeTheEnd(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open()
        let links = Links(base: "http://ci.test/")
        let job = try await store.enqueue("web", pr: 1, head: "a")
        let running = try #require(try await store.claimNext())
        let runID = try #require(running.runID)
        func results(_ runID: String) -> RunResults {
            let ladder = LevelLadder.evaluate(statuses: [.upgrade: .pass], declaredNA: [], customTestsExecuted: 0)
            var results = RunResults(
                runID: runID, recipe: "web", ref: nil, pr: 1, headCommit: String(repeating: "a", count: 40),
                headVersion: nil, baseVersion: "1.2.0+1.36.1", driver: "native", mode: "quick",
                appDomain: "web.warm.ci.test", upgradeAppDomain: nil, startedAt: Date(), finishedAt: Date(),
                outcome: .pass, exitCode: 0, tiers: ["upgrade": TierResult(status: .pass, durationSeconds: 1)],
                ladder: ladder, deployCount: 0,
                manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]), flags: [],
                artifacts: Artifacts(runDirectory: "/tmp/x"), ccciVersion: "test")
            results.giveBack = GiveBack(state: .pending)
            return results
        }
        let before = try await store.replies(job: job.number).count
        // Another run's verdict (a job taken over meanwhile) says nothing.
        let other = results("20260101T000000Z-web-zzzzzz")
        let own = results(runID)
        _ = try await store.updateJob(job.number) { job, queue in
            try JobPolicy.verdict(job, results: other, in: queue, links: links)
        }
        #expect(try await store.replies(job: job.number).count == before)
        _ = try await store.updateJob(job.number) { job, queue in
            try JobPolicy.verdict(job, results: own, in: queue, links: links)
        }
        let replies = try await store.replies(job: job.number).suffix(2)
        #expect(replies.map(\.kind) == [.jobComment, .status])
        #expect(replies.first?.body?.contains("_The canonical is being given back._") == true)
        #expect(replies.last?.statusState == "success")
        #expect(try await store.job(job.number)?.state == .running, "the job itself has not ended")
        // A push cancelled it meanwhile: its end says superseded, the verdict nothing.
        let count = try await store.replies(job: job.number).count
        _ = try await store.updateJob(job.number) { job, queue in
            job.cancelReason = "superseded by a push"
            try JobPolicy.verdict(job, results: own, in: queue, links: links)
        }
        #expect(try await store.replies(job: job.number).count == count)
    }

    @Test(
        "a node whose lease ran out: another node's server takes over its running job — queued again once, its pull request told — and renews its own lease",
        arguments: StoreKind.shared)
    func silentNode(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let dead = try await fixture.open(node: "node-x")
        let alive = try await fixture.open(node: "node-b")
        let links = Links(base: "http://ci.test/")
        let start = Date().addingTimeInterval(-3600)
        let job = try await dead.enqueue("web", pr: 1, head: "a")
        _ = try await dead.claimNextJob(now: start) { _ in "r1" }
        let workers = Wakeup()
        let replies = Wakeup()
        let (wokeWorkers, wokeReplies) = (workers.generation, replies.generation)
        let lease = NodeLease(
            store: alive, node: "node-b", lease: .seconds(600), links: links, workers: workers, replies: replies,
            logger: TestEnvironment.logger)
        await lease.check(now: start.addingTimeInterval(300))
        #expect(try await alive.job(job.number)?.state == .running, "not silent long enough yet")
        await lease.check(now: Date())
        let taken = try #require(try await alive.job(job.number))
        #expect(taken.state == .queued && taken.attempt == 2, "\(taken)")
        #expect(taken.note?.contains("its node node-x was silent for over 10m") == true, "\(taken.note ?? "")")
        #expect(try await alive.replies(job: job.number).map(\.kind) == [.comment, .status])
        #expect(workers.generation > wokeWorkers && replies.generation > wokeReplies, "workers and replies woken")
        // Taken over once: a second look changes nothing.
        await lease.check(now: Date())
        #expect(try await alive.job(job.number)?.attempt == 2)
        #expect(try await alive.claimNext()?.node == "node-b", "claimed again by a live node")
    }
}
