import CCCICore
import CCCIGit
import CCCILab
import CCCIServer
import CCCISystem
import CCCITestSupport
import CCCIWarm
import Foundation
import Logging
import Testing

extension Integration {
    /// Faithful mirror sync (SPEC F-MIRROR) with real git repositories — local bare repositories
    /// stand in for the upstream and the mirror — and the forge stub for the mirror's pull requests.
    @Suite struct Mirror {
        let home: TemporaryDirectory
        let git = Git(runner: ProcessRunner())
        let identity = [
            "GIT_AUTHOR_NAME": "someone", "GIT_AUTHOR_EMAIL": "s@ccci.test", "GIT_COMMITTER_NAME": "someone",
            "GIT_COMMITTER_EMAIL": "s@ccci.test",
        ]

        init() throws {
            home = try TemporaryDirectory("ccci-mirror")
        }

        /// `upstream.git` (web's history), `mirror.git` (behind it, with a commit and a branch of
        /// its own), and a work tree to make pull request heads in. Returns the upstream head.
        func repositories() async throws -> (upstream: URL, mirror: URL, work: URL, head: String) {
            let source = try await FixtureRecipes(root: TestEnvironment.fixturesRoot).materialize(
                "web", at: home.appending("source"))
            let upstream = home.appending("upstream.git")
            let mirror = home.appending("mirror.git")
            try await git.run(["clone", "--quiet", "--bare", source.path.path, upstream.path], in: nil)
            let work = home.appending("work")
            try await git.run(["clone", "--quiet", upstream.path, work.path], in: nil)
            // The mirror: behind upstream (at 1.1.0), plus a commit and a branch of its own.
            try await git.run(["checkout", "--quiet", "-B", "main", "1.1.0+1.35.0"], in: work)
            try "ours\n".write(to: work.appendingPathComponent("OURS.md"), atomically: true, encoding: .utf8)
            try await git.run(["add", "OURS.md"], in: work)
            try await git.run(["commit", "--quiet", "--no-gpg-sign", "-m", "ours"], in: work, environment: identity)
            try await git.run(["init", "--quiet", "--bare", mirror.path], in: nil)
            // …and a tag upstream does not have, which must go: the mirror's tags are upstream's.
            try await git.run(["tag", "9.9.9+ours"], in: work)
            try await git.run(
                ["push", "--quiet", mirror.path, "main:main", "main:feature", "1.0.0+1.35.0", "9.9.9+ours"], in: work)
            let head = try await git.commit(of: "refs/heads/main", in: upstream)
            return (upstream, mirror, work, head)
        }

        func refs(_ repository: URL) async throws -> [String: String] {
            var refs: [String: String] = [:]
            for line in try await git.run(["for-each-ref", "--format=%(refname) %(objectname)"], in: repository)
                .split(separator: "\n")
            {
                let parts = line.split(separator: " ")
                refs[String(parts[0])] = String(parts[1])
            }
            return refs
        }

        @Test(
            "the mirror's main becomes upstream's and gets every upstream tag; nothing of ours is pushed; only a no-op pull request is closed"
        )
        func faithful() async throws {
            let (upstream, mirror, work, head) = try await repositories()
            // Pull request 1 holds a change upstream already has (the upstream head itself); pull
            // request 2 a change of its own. The forge keeps their heads as refs/pull/<n>/head.
            try await git.run(["checkout", "--quiet", "-B", "change", head], in: work)
            try "a change\n".write(to: work.appendingPathComponent("CHANGE.md"), atomically: true, encoding: .utf8)
            try await git.run(["add", "CHANGE.md"], in: work)
            try await git.run(
                ["commit", "--quiet", "--no-gpg-sign", "-m", "a change"], in: work, environment: identity)
            let change = try await git.commit(of: "HEAD", in: work)
            try await git.run(
                [
                    "push", "--quiet", mirror.path, "\(head):refs/pull/1/head", "\(change):refs/pull/2/head",
                    "\(head):refs/pull/3/head",
                ], in: work)
            let before = try await refs(mirror)
            let upstreamRefs = try await refs(upstream)

            try await ForgeStub.with { stub in
                stub.setPullRequest("coop/web", 1, head: head)
                stub.setPullRequest("coop/web", 2, head: change)
                // Into another branch: not the sync's to judge, even though its head is upstream's.
                stub.setPullRequest("coop/web", 3, head: head, base: "stable")
                let forge = GiteaForge(
                    kind: .gitea, baseURL: stub.baseURL, token: SecretValue(stub.token), webhookSecret: nil,
                    logger: Logger(label: "test"))
                let report = try await MirrorSync(forge: forge).sync(
                    recipe: "web", mirror: MirrorConfig(upstream: upstream.path, repository: "coop/web"),
                    mirrorURL: mirror.path, secrets: SecretRegistry(), workspace: home.appending("scratch.git"))
                #expect(report.after == head)
                #expect(report.before == before["refs/heads/main"])
                #expect(report.closed == [1], "its merge changes nothing: its changes are upstream")
                #expect(report.leftOpen == [2, 3])
                let closing = stub.calls.filter { $0.method == "PATCH" }
                #expect(closing.map(\.path) == ["/repos/coop/web/pulls/1"])
                #expect(closing.first?.body["state"] == "closed")
                #expect(stub.comments(on: "coop/web", 1).first?.body.contains("would change nothing") == true)
                #expect(stub.comments(on: "coop/web", 2).isEmpty)
            }
            let after = try await refs(mirror)
            #expect(after["refs/heads/main"] == head, "mirror main := upstream main (ours is gone from it)")
            for (ref, object) in upstreamRefs where ref.hasPrefix("refs/tags/") {
                #expect(after[ref] == object, "\(ref) is upstream's")
            }
            // Nothing of our own: no new ref but upstream's main and tags; no tag but upstream's.
            let added = Set(after.keys).subtracting(before.keys).filter { !$0.hasPrefix("refs/tags/") }
            #expect(added.isEmpty, "\(added)")
            #expect(after["refs/tags/9.9.9+ours"] == nil, "a tag upstream does not have is pruned")
            #expect(
                Set(after.keys.filter { $0.hasPrefix("refs/tags/") })
                    == Set(upstreamRefs.keys.filter { $0.hasPrefix("refs/tags/") }))
            #expect(after["refs/heads/feature"] == before["refs/heads/feature"], "other branches are left alone")
            #expect(after["refs/pull/2/head"] == before["refs/pull/2/head"])
        }

        @Test("an upstream that cannot be fetched, or a token file others can read, fails the sync, saying so")
        func failures() async throws {
            let (_, mirror, _, _) = try await repositories()
            let before = try await refs(mirror)
            let sync = MirrorSync(forge: nil)
            await #expect {
                try await sync.sync(
                    recipe: "web", mirror: MirrorConfig(upstream: home.appending("nowhere.git").path),
                    mirrorURL: mirror.path,
                    secrets: SecretRegistry(), workspace: home.appending("scratch.git"))
            } throws: { error in
                "\(error)".contains("fetching main and the tags from the upstream")
            }
            let token = home.appending("token")
            try "s3cr3t-token\n".write(to: token, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: token.path)
            await #expect {
                try await sync.sync(
                    recipe: "web",
                    mirror: MirrorConfig(upstream: "https://forge.invalid/web.git", tokenFile: token.path),
                    mirrorURL: mirror.path, secrets: SecretRegistry(), workspace: home.appending("scratch.git"))
            } throws: { error in
                "\(error)".contains("may be read by any user") && !"\(error)".contains("s3cr3t")
            }
            #expect(try await refs(mirror) == before, "a failed sync pushes nothing")
        }

        @Test("the sweep stops a recipe whose mirror sync fails with SYNC-FAILED (exit 1), running nothing")
        func sweepSyncFailed() async throws {
            let harness = try RunHarness()
            let (_, mirror, _, _) = try await repositories()
            let config = harness.home.appending("config.toml")
            try """
            [catalogue]
            web = "file://\(mirror.path)"

            [mirror.web]
            upstream = "\(home.appending("nowhere.git").path)"
            """.write(to: config, atomically: true, encoding: .utf8)
            let result = try await harness.ccci(["sweep"], extra: ["CCCI_CONFIG": config.path])
            #expect(result.status == 1)
            #expect(result.output.contains("web: SYNC-FAILED"), "\(result.output)\(result.errorOutput)")
            #expect(result.output.contains("fetching main and the tags from the upstream"))
            #expect(harness.runIDs().isEmpty)
        }
    }
}
