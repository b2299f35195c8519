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
        let fixture = try kind.fixture()
        let store = try fixture.open()
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
}
