import CCCICore
import CCCIServer
import CCCIStore
import Foundation
import Testing

/// The durable queue's rules, on a real (in-memory) SQLite store.
@Suite struct QueueTests {
    func add(_ store: SQLiteStore, _ recipe: String, pr: Int, head: Character) async throws -> Job {
        let job = Job(
            recipe: recipe, repository: "recipes/\(recipe)", pr: pr, headSHA: String(repeating: head, count: 40),
            stages: nil, requester: "alice", commentID: nil)
        return try #require(try await store.transaction { queue in try queue.insert(job) } ?? nil)
    }

    func claim(_ store: SQLiteStore) async throws -> Job? {
        try await store.claimNextJob { _ in RunID.make(recipe: "x") }
    }

    @Test("workers claim oldest first, but never two jobs of one pull request, and a recipe with fewer runs goes first")
    func claimOrder() async throws {
        let store = try SQLiteStore()
        let web1 = try await add(store, "web", pr: 1, head: "a")
        let web2 = try await add(store, "web", pr: 2, head: "b")
        let appdb = try await add(store, "appdb", pr: 1, head: "c")
        let web1Again = try await add(store, "web", pr: 1, head: "d")
        let first = try #require(try await claim(store))
        #expect(first.id == web1.id && first.state == .running && first.runID != nil && first.startedAt != nil)
        // web has a running job, appdb none: appdb's job goes before web's older one.
        #expect(try await claim(store)?.id == appdb.id)
        #expect(try await claim(store)?.id == web2.id)
        // web#1 is running: its second job waits.
        #expect(try await claim(store) == nil)
        try await store.updateJob(web1.number) { job, _ in job.state = .passed }
        #expect(try await claim(store)?.id == web1Again.id)
    }

    @Test(
        "the queue position counts queued jobs up to this one; an active job is found by (repository in any case, recipe, PR, head)"
    )
    func positionsAndCoalescing() async throws {
        let store = try SQLiteStore()
        let first = try await add(store, "web", pr: 1, head: "a")
        let second = try await add(store, "web", pr: 2, head: "b")
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

    @Test("a delivery id is acted on once")
    func deliveries() async throws {
        let store = try SQLiteStore()
        let first = try await store.transaction(delivery: "d-1") { _ in "acted" }
        let second = try await store.transaction(delivery: "d-1") { _ in "acted" }
        #expect(first == "acted" && second == nil)
        #expect(try await store.hasDelivery("d-1"))
        #expect(try await !store.hasDelivery("d-2"))
    }

    @Test("a job the server stopped is queued again once, with a reply; the second time it ends interrupted")
    func interruption() async throws {
        let store = try SQLiteStore()
        let links = Links(base: "http://ci.test/")
        let job = try await add(store, "web", pr: 1, head: "a")
        _ = try await claim(store)
        let requeued = try #require(
            try await store.updateJob(job.number) { job, queue in
                try JobPolicy.interrupt(&job, reason: "the server stopped", in: queue, links: links)
            })
        #expect(requeued.state == .queued && requeued.attempt == 2)
        let replies = try await store.replies(job: job.number)
        #expect(replies.map(\.kind) == [.comment, .status])
        #expect(replies[0].body?.contains("attempt 2 of 2") == true)
        #expect(replies[1].statusState == "pending")
        #expect(try await claim(store)?.id == job.id, "it keeps its place at the head of the queue")
        let ended = try #require(
            try await store.updateJob(job.number) { job, queue in
                try JobPolicy.interrupt(&job, reason: "the server stopped", in: queue, links: links)
            })
        #expect(ended.state == .interrupted && ended.finishedAt != nil)
        let last = try await store.replies(job: job.number).suffix(2)
        #expect(last.map(\.kind) == [.jobComment, .status])
        #expect(last.last?.statusState == "error")
        #expect(try await claim(store) == nil)
    }

    @Test("a delivered job comment becomes the job's comment; an undelivered reply is noted on the job")
    func replyBookkeeping() async throws {
        let store = try SQLiteStore()
        let job = try await add(store, "web", pr: 1, head: "a")
        _ = try await store.transaction { queue in
            try queue.add(.comment("ack", on: 1, in: "recipes/web", job: job.id, kind: .jobComment))
            try queue.add(
                .status(
                    "pending", description: "queued", targetURL: nil, sha: job.headSHA, issue: 1, in: "recipes/web",
                    job: job.id))
        }
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
}
