import CCCICore
import CCCIStore
import CCCITestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import CCCIServer

/// The queue's side of a CI engine, on a real store, with an engine that records what it is
/// handed (the engines' own calls are proven in `DispatcherContractTests` and, for Buildbot and
/// the Forgejo workflow, for real in `Integration.Engines`).
@Suite struct EngineDispatchTests {
    /// An engine that records each job it is handed and the node it was sent to.
    final class RecordingEngine: Dispatcher {
        var name: String { "recording" }
        let handed = Mutex<[(job: Int64, node: String?)]>([])
        let failing = Atomic(false)

        func dispatch(_ job: Job, on node: String?) async throws -> String {
            guard !failing.load(ordering: .relaxed) else {
                throw DispatchError(engine: name, operation: "dispatch", reason: "the engine is down")
            }
            handed.withLock { $0.append((job.number, node)) }
            return "h\(job.number)"
        }

        func cancel(_ job: Job, reason: String) async throws {}
    }

    @Test(
        "each queued job is handed over once, a pull request's next job only after its previous ended, a quick run to the node with a healthy canonical; an engine that fails leaves the job queued, saying so",
        arguments: StoreKind.shared)
    func handOver(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open(node: "bridge")
        let other = try await fixture.open(node: "node-b")
        #expect(
            try await other.swapCanonical(
                expected: nil,
                with: CanonicalRecord(
                    recipe: "web", version: "1.0.0+1", commit: "abc", domain: "web.warm.ci.test", volumes: [],
                    volumeBytes: 0, runID: "r0", promotedAt: Date())))
        func enqueue(_ recipe: String, pr: Int, quick: Bool = false) async throws -> Int64 {
            let job = try await store.transaction { queue in
                try queue.insert(
                    Job(
                        recipe: recipe, repository: "recipes/\(recipe)", pr: pr,
                        headSHA: String(repeating: "a", count: 40), stages: nil, requester: "alice", commentID: nil,
                        quick: quick))
            }
            return try #require(job?.number)
        }
        let first = try await enqueue("web", pr: 1)
        let behind = try await enqueue("web", pr: 1)
        let appdb = try await enqueue("appdb", pr: 2)
        let quick = try await enqueue("web", pr: 3, quick: true)
        let engine = RecordingEngine()
        let dispatch = EngineDispatch(
            store: store, engine: engine, links: Links(base: "http://ci.test"), wakeup: Wakeup(), replies: Wakeup(),
            logger: Logger(label: "test"))

        #expect(await dispatch.dispatchWaiting())
        #expect(engine.handed.withLock { $0.map(\.job) } == [first, appdb, quick])
        #expect(engine.handed.withLock { $0.map(\.node) } == [nil, nil, "node-b"])
        #expect(try await store.job(first)?.dispatchRef == "h\(first)")
        #expect(try await store.job(behind)?.dispatchedAt == nil, "behind its pull request's job")
        #expect(await dispatch.dispatchWaiting())
        #expect(engine.handed.withLock { $0.count } == 3, "nothing handed twice")

        try await store.updateJob(first) { job, _ in job.state = .passed }
        engine.failing.store(true, ordering: .relaxed)
        #expect(await dispatch.dispatchWaiting() == false)
        let waiting = try #require(try await store.job(behind))
        #expect(waiting.state == .queued && waiting.dispatchedAt == nil)
        #expect(waiting.note?.contains("recording did not take it") == true && waiting.note?.contains("down") == true)
        engine.failing.store(false, ordering: .relaxed)
        #expect(await dispatch.dispatchWaiting())
        #expect(engine.handed.withLock { $0.map(\.job) } == [first, appdb, quick, behind])
        #expect(try await store.job(behind)?.note == nil)
    }

    @Test(
        "an engine's step takes a job only with its head, stages and lane; a run whose job was taken over records nothing; an interrupted job that was cancelled ends cancelled, never queued again",
        arguments: StoreKind.shared)
    func takeAndEnd(kind: StoreKind) async throws {
        let fixture = try await kind.fixture()
        let store = try await fixture.open(node: "node-a")
        let head = String(repeating: "b", count: 40)
        let links = Links(base: "http://ci.test")
        let inserted = try await store.transaction { queue in
            try queue.insert(
                Job(
                    recipe: "web", repository: "recipes/web", pr: 1, headSHA: head, stages: "install",
                    requester: "alice", commentID: nil))
        }
        let id = try #require(inserted?.number)
        func take(ref: String?, stages: String?, quick: Bool = false, run: String) async throws -> EngineJob {
            try await EngineJob.take(
                id, store: store, node: "node-a", runID: run, recipe: "web", pr: 1, ref: ref, stages: stages,
                quick: quick, links: links)
        }
        for (ref, stages, quick) in [
            (nil, "install", false), ("", "install", false), (head, nil, false), (head, "install", true),
        ] {
            await #expect(
                throws: EngineJob.Refusal.self, "ref \(ref ?? "none"), stages \(stages ?? "none"), quick \(quick)"
            ) {
                _ = try await take(ref: ref, stages: stages, quick: quick, run: "r0")
            }
        }
        #expect(try await store.job(id)?.state == .queued)
        let first = try await take(ref: String(head.prefix(10)), stages: "install", run: "r1")
        #expect(first.job.state == .running && first.job.runID == "r1" && first.job.node == "node-a")

        // Taken over meanwhile (this node looked dead) and taken again by a second run.
        try await store.updateJob(id) { job, queue in
            try JobPolicy.interrupt(&job, reason: "node-a was silent", in: queue, links: links)
        }
        let second = try await take(ref: head, stages: "install", run: "r2")
        try await first.end(exitCode: 1, results: nil, lastError: nil)
        let meanwhile = try #require(try await store.job(id))
        #expect(meanwhile.state == .running && meanwhile.runID == "r2", "the first run's end changes nothing")

        // A push supersedes it, then its node dies before the run records the stop.
        try await store.updateJob(id) { job, _ in job.cancelReason = "a push made cccc the head" }
        try await store.updateJob(id) { job, queue in
            try JobPolicy.interrupt(&job, reason: "node-a was silent", in: queue, links: links)
        }
        let ended = try #require(try await store.job(id))
        #expect(ended.state == .cancelled && ended.attempt == 2 && ended.note == "a push made cccc the head")
        try await second.end(exitCode: 143, results: nil, lastError: nil)
        #expect(try await store.job(id)?.state == .cancelled, "ended once")
        withExtendedLifetime(fixture) {}
    }
}
