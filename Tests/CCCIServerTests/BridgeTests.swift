import CCCIServer
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import HummingbirdTesting
import Logging
import Testing

/// The `!testme` bridge (SPEC F-BRIDGE) through the real router, the real store (SQLite on disk)
/// and a stub forge over loopback HTTP. No workers: accepted jobs stay queued.
@Suite(.timeLimit(.minutes(2)))
struct BridgeTests {
    @Test(
        "an accepted !testme: 202, one job at the forge's head, an acknowledgement with its place and a pending status")
    func accepted() async throws {
        try await InProcessServer.with { server async throws in
            // The payload's head is not asked for: the forge's is what gets tested.
            let response = try await server.post(WebhookFixture.comment("!testme --stages install,upgrade"))
            #expect(response.status == .accepted)
            let jobs = try await server.jobs()
            #expect(jobs.count == 1)
            let job = try #require(jobs.first)
            #expect(job.state == .queued && job.recipe == "web" && job.pr == 1 && job.repository == "recipes/web")
            #expect(job.headSHA == InProcessServer.head)
            #expect(job.stages == "install,upgrade")
            #expect(job.requester == "alice" && job.commentID == 101)
            #expect(try await server.repliesSettled())
            let comment = try #require(server.stub.comments(on: "recipes/web", 1).first)
            #expect(comment.body.contains("position 1 in the queue"))
            #expect(comment.body.contains("http://ci.test/jobs/\(job.number)"))
            let status = try #require(server.stub.statuses.first)
            #expect(status.state == "pending" && status.context == "cc-ci" && status.sha == InProcessServer.head)
            #expect(status.targetURL == "http://ci.test/jobs/\(job.number)")
            #expect(try await server.store.job(job.number)?.replyCommentID == comment.id)
            // The job page shows it.
            let page = try await server.client.execute(uri: "/jobs/\(job.number)", method: .get)
            #expect(String(buffer: page.body).contains("\"state\" : \"queued\""))
            // Every call carried the token; no secret shows anywhere.
            let authorized = server.stub.calls.allSatisfy(\.authorized)
            #expect(authorized)
            let everything =
                server.harness.logs.text + server.stub.calls.map { "\($0.body)" }.joined()
                + server.stub.comments.map(\.body).joined()
            #expect(!everything.contains(server.harness.secret) && !everything.contains(server.stub.token))
        }
    }

    @Test("unsigned and forged deliveries: 401, nothing queued, no forge call, one log line each")
    func forgedAndUnsigned() async throws {
        try await InProcessServer.with { server async throws in
            let body = try WebhookFixture.comment("!testme")
            let unsigned = try await server.post(body, signature: .some(nil))
            let forged = try await server.post(
                body, signature: WebhookFixture.sign(body, secret: "not-the-secret"))
            let garbage = try await server.post(body, signature: "zz-not-hex")
            var tampered = body
            tampered[tampered.count / 2] ^= 0x01
            let changed = try await server.post(
                tampered, signature: WebhookFixture.sign(body, secret: server.harness.secret))
            for response in [unsigned, forged, garbage, changed] { #expect(response.status == .unauthorized) }
            #expect(try await server.jobs().isEmpty)
            #expect(try await server.store.replies().isEmpty)
            #expect(server.stub.calls.isEmpty)
            let rejected = server.harness.logs.lines.filter { $0.message == "webhook rejected" }
            #expect(rejected.count == 4)
            #expect(server.harness.logs.lines.count == rejected.count, "one line per rejected delivery, nothing else")
            #expect(rejected.allSatisfy { $0.level == .warning && $0.metadata["http.status"] == "401" })
        }
    }

    @Test("comments that are not for cc-ci are answered 204 and change nothing")
    func ignored() async throws {
        try await InProcessServer.with { server async throws in
            server.stub.setPullRequest("recipes/web", 2, head: InProcessServer.head, state: "closed")
            let cases: [[UInt8]] = [
                try WebhookFixture.comment("looks good to me"),
                try WebhookFixture.comment("please !testme"),
                try WebhookFixture.comment("!testmeplease"),
                try WebhookFixture.comment("!testme", isPull: false),
                try WebhookFixture.comment("!testme", state: "closed"),
                try WebhookFixture.comment("!testme", action: "edited"),
                try WebhookFixture.comment("!testme", action: "deleted"),
                try WebhookFixture.comment("!testme", repository: "recipes/not-enrolled"),
                // Open in the payload, closed at the forge: the forge wins.
                try WebhookFixture.comment("!testme", pr: 2),
            ]
            for body in cases {
                let response = try await server.post(body)
                #expect(response.status == .noContent, "\(String(decoding: body, as: UTF8.self).prefix(80))")
            }
            let push = try await server.post(
                try WebhookFixture.synchronized(head: InProcessServer.head), event: "pull_request")
            #expect(push.status == .noContent)
            let other = try await server.post(try WebhookFixture.comment("!testme"), event: "push")
            #expect(other.status == .noContent)
            #expect(try await server.jobs().isEmpty)
            #expect(try await server.store.replies().isEmpty)
            #expect(!server.stub.calls.contains { $0.method != "GET" }, "no comment, no status")
        }
    }

    @Test("with `owners` set, a repository of another owner is not enrolled even when its name is a recipe")
    func owners() async throws {
        try await InProcessServer.with(owners: ["Recipes"]) { server async throws in
            let stranger = try await server.post(WebhookFixture.comment("!testme", repository: "someone-else/web"))
            #expect(stranger.status == .noContent)
            #expect(server.stub.calls.isEmpty)
            let ours = try await server.post(WebhookFixture.comment("!testme", commentID: 102))
            #expect(ours.status == .accepted)
            #expect(try await server.jobs().map(\.repository) == ["recipes/web"])
        }
    }

    @Test("a commenter without write access gets a polite refusal and no run; the allowlist lets one in")
    func authorisation() async throws {
        try await InProcessServer.with(allowlist: ["Carol"]) { server async throws in
            server.stub.addUser("carol")
            let refused = try await server.post(WebhookFixture.comment("!testme", author: "mallory"))
            #expect(refused.status == .ok)
            let stranger = try await server.post(
                WebhookFixture.comment("!testme", author: "nobody-here", commentID: 102))
            #expect(stranger.status == .ok)
            #expect(try await server.jobs().isEmpty)
            #expect(try await server.repliesSettled())
            let replies = server.stub.comments(on: "recipes/web", 1)
            #expect(replies.count == 2)
            #expect(replies.allSatisfy { $0.body.contains("write access") })
            #expect(replies.first?.body.contains("@mallory") == true)
            #expect(server.stub.statuses.isEmpty)
            // carol has only read access on the forge, but is on the node's allowlist.
            let allowed = try await server.post(WebhookFixture.comment("!testme", author: "carol", commentID: 103))
            #expect(allowed.status == .accepted)
            #expect(try await server.jobs().map(\.requester) == ["carol"])
        }
    }

    @Test("a malformed !testme gets the usage and no run")
    func usage() async throws {
        try await InProcessServer.with { server async throws in
            for (index, body) in [
                "!testme --stages", "!testme --stages install,upgrde", "!testme --fast", "!testme --quick=yes",
            ].enumerated() {
                let response = try await server.post(WebhookFixture.comment(body, commentID: 300 + index))
                #expect(response.status == .ok, "\(body)")
            }
            #expect(try await server.jobs().isEmpty)
            #expect(try await server.repliesSettled())
            let replies = server.stub.comments(on: "recipes/web", 1).map(\.body)
            #expect(replies.count == 4)
            #expect(replies.allSatisfy { $0.contains("usage: `!testme") })
            #expect(replies[1].contains("did you mean `upgrade`?"))
            #expect(replies[2].contains("an option cc-ci does not know") && !replies[2].contains("--fast"))
            #expect(replies[3].contains("`--quick` takes no value"))
        }
    }

    @Test("a repeat !testme for a queued head is coalesced, and a delivery seen before is ignored")
    func coalescing() async throws {
        try await InProcessServer.with { server async throws in
            let first = try await server.post(WebhookFixture.comment("!testme"), delivery: "delivery-1")
            #expect(first.status == .accepted)
            let again = try await server.post(WebhookFixture.comment("!testme", commentID: 102), delivery: "delivery-2")
            #expect(again.status == .ok)
            #expect(String(buffer: again.body).contains("already queued as job"))
            let redelivered = try await server.post(
                WebhookFixture.comment("!testme", commentID: 102), delivery: "delivery-2")
            #expect(redelivered.status == .noContent)
            let jobs = try await server.jobs()
            #expect(jobs.count == 1)
            #expect(try await server.repliesSettled())
            let comments = server.stub.comments(on: "recipes/web", 1)
            #expect(comments.count == 2, "the acknowledgement and one pointer — nothing for the redelivery")
            #expect(
                comments[1].body.contains("already testing") && comments[1].body.contains("/jobs/\(jobs[0].number)"))
            // A new head is a new job.
            server.stub.setPullRequest("recipes/web", 1, head: String(repeating: "cd", count: 20))
            let newHead = try await server.post(
                WebhookFixture.comment("!testme", commentID: 104), delivery: "delivery-3")
            #expect(newHead.status == .accepted)
            #expect(try await server.jobs().count == 2)
        }
    }

    @Test(
        "!testme --quick queues a quick job, said in the acknowledgement; a queued cold job covers it, not the reverse")
    func quickJobs() async throws {
        try await InProcessServer.with { server async throws in
            let quick = try await server.post(WebhookFixture.comment("!testme --quick"), delivery: "delivery-1")
            #expect(quick.status == .accepted)
            let first = try #require(try await server.jobs().first)
            #expect(first.quick && first.stages == nil)
            // A cold request for the same head is more than the quick job proves: a job of its own.
            let cold = try await server.post(WebhookFixture.comment("!testme", commentID: 102), delivery: "delivery-2")
            #expect(cold.status == .accepted)
            #expect(try await server.jobs().count == 2)
            // Another quick request is covered by the jobs already there.
            let again = try await server.post(
                WebhookFixture.comment("!testme --quick", commentID: 103), delivery: "delivery-3")
            #expect(again.status == .ok)
            #expect(try await server.jobs().count == 2)
            #expect(try await server.repliesSettled())
            let acknowledgement = try #require(server.stub.comments(on: "recipes/web", 1).first)
            #expect(acknowledgement.body.contains("quick lane (on the warm canonical)"))
        }
    }

    @Test("a push to the pull request cancels its queued job for the old head, with a reply and an error status")
    func superseded() async throws {
        try await InProcessServer.with { server async throws in
            #expect(try await server.post(WebhookFixture.comment("!testme")).status == .accepted)
            let newHead = String(repeating: "ef", count: 20)
            server.stub.setPullRequest("recipes/web", 1, head: newHead)
            let updated = server.stub.updatedAt("recipes/web", 1)
            let push = try await server.post(
                WebhookFixture.synchronized(head: newHead, updatedAt: updated), event: "pull_request")
            #expect(push.status == .ok)
            let job = try #require(try await server.jobs().first)
            #expect(job.state == .cancelled)
            #expect(job.cancelReason?.contains(String(newHead.prefix(10))) == true)
            #expect(try await server.repliesSettled())
            let comment = try #require(server.stub.comments(on: "recipes/web", 1).first)
            #expect(comment.edits == 1, "the acknowledgement is edited")
            #expect(comment.body.contains("stopped testing"))
            let last = try #require(server.stub.statuses.last)
            #expect(last.state == "error" && last.sha == InProcessServer.head)
            // The same push again (a replay, a redelivery) changes nothing; nor does a push that
            // does not change the head of a job.
            #expect(try await server.post(WebhookFixture.comment("!testme", commentID: 105)).status == .accepted)
            let replayed = try await server.post(
                WebhookFixture.synchronized(head: newHead, updatedAt: updated), event: "pull_request")
            #expect(replayed.status == .noContent)
            let jobs = try await server.jobs()
            #expect(jobs.map(\.headSHA) == [InProcessServer.head, newHead] && jobs[1].state == .queued)
            // A push from before the newest one the forge reported is stale: nothing stops.
            let stale = try await server.post(
                WebhookFixture.synchronized(head: InProcessServer.head, updatedAt: "2026-01-01T00:00:00Z"),
                event: "pull_request")
            let afterStale = try await server.jobs()
            #expect(stale.status == .noContent && afterStale[1].state == .queued)
        }
    }

    @Test("a body over 1 MiB is 413, malformed JSON is 400, and neither queues anything")
    func badBodies() async throws {
        try await InProcessServer.with { server async throws in
            let huge = [UInt8](repeating: UInt8(ascii: "a"), count: (1 << 20) + 1)
            #expect(try await server.post(huge).status == .contentTooLarge)
            for text in ["{", "[]", "{\"action\": 1}", "null", "{\"action\":\"created\",\"issue\":{\"number\":\"1\"}}"]
            {
                #expect(try await server.post(Array(text.utf8)).status == .badRequest, "\(text)")
            }
            #expect(try await server.jobs().isEmpty)
        }
    }

    @Test(
        "a forge that is down keeps replies in the outbox: retried with backoff until delivered, an older status superseded by a newer one; a reply refused for good is failed and noted on the job"
    )
    func replyToADownForge() async throws {
        try await InProcessServer.with(allowlist: ["alice"]) { server async throws in
            #expect(try await server.post(WebhookFixture.comment("!testme")).status == .accepted)
            #expect(try await server.repliesSettled())
            let job = try #require(try await server.jobs().first)
            server.stub.failing = true
            let before = server.stub.calls.count
            _ = try await server.store.transaction { queue in
                try queue.add(.comment("a result", on: 1, in: "recipes/web", job: job.id, kind: .jobComment))
                for (state, description) in [("pending", "running"), ("success", "level 5")] {
                    try queue.add(
                        .status(
                            state, description: description, targetURL: nil, sha: job.headSHA, issue: 1,
                            in: "recipes/web", job: job.id))
                }
            }
            // A malformed !testme from an allowlisted user needs no forge call to be answered; its
            // usage reply wakes the sender.
            #expect(try await server.post(WebhookFixture.comment("!testme --bogus", commentID: 102)).status == .ok)
            let waiting = try await poll(
                until: { () -> Job? in
                    guard let current = try await server.store.job(job.number),
                        current.replyError?.hasPrefix(Reply.waitingPrefix) == true,
                        server.stub.calls.count - before >= 6
                    else { return nil }
                    return current
                }, timeout: .seconds(20))
            #expect(waiting?.replyError?.contains("503") == true, "the job says what waits, and why")
            #expect(try await server.store.replies().contains { $0.state == .pending && $0.attempts >= 1 })
            #expect(
                server.harness.logs.lines.contains { $0.message.hasPrefix("reply not delivered yet") },
                "each failed attempt is logged")
            // The forge is back: everything is delivered, oldest first, the older status never.
            let outage = server.stub.calls.count
            server.stub.failing = false
            #expect(try await server.repliesSettled())
            #expect(server.stub.comments(on: "recipes/web", 1).contains { $0.body == "a result" })
            let sent = server.stub.statuses.filter { $0.sha == job.headSHA }.map(\.description)
            #expect(sent.last == "level 5" && !sent.contains("running"), "\(sent)")
            let replies = try await server.store.replies(job: job.number)
            #expect(replies.filter { $0.state == .superseded }.map(\.statusDescription) == ["running"])
            #expect(try await server.store.job(job.number)?.replyError == nil, "nothing waits any more")
            #expect(server.stub.calls.count > outage)
            // A reply the forge refuses for good (422) is not retried: failed, logged, noted.
            server.stub.failure = 422
            _ = try await server.store.transaction { queue in
                try queue.add(.comment("refused", on: 1, in: "recipes/web", job: job.id))
            }
            #expect(try await server.post(WebhookFixture.comment("!testme --bogus", commentID: 103)).status == .ok)
            #expect(try await server.repliesSettled())
            let refused = try #require(try await server.store.replies(job: job.number).last)
            #expect(refused.state == .failed && refused.error?.contains("422") == true)
            #expect(try await server.store.job(job.number)?.replyError?.contains("not delivered") == true)
            #expect(try await server.store.job(job.number)?.state == .queued, "the job itself is untouched")
        }
    }
}
