import CCCICore
import CCCIServer
import CCCIStore
import CCCITestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The dashboard's pages and badges, served by a `ccci serve` built in this process over a real
/// SQLite store.
@Suite struct DashboardTests {
    static let hostile = "<img src=x onerror=alert(1)>"

    /// A finished run of `recipe`: every tier up to `level` passes; the next one fails with a
    /// reason that holds markup.
    static func results(
        _ recipe: String, level: Int, runID: String, startedAt: Date, pr: Int? = nil
    ) -> RunResults {
        var statuses: [Tier: TierStatus] = [:]
        var tiers: [String: TierResult] = [:]
        let order: [Tier] = [.install, .upgrade, .backup, .restore, .custom]
        let passing = [0, 1, 2, 4, 5, 5][min(level, 5)]
        for (index, tier) in order.enumerated() {
            let status: TierStatus = index < passing ? .pass : (index == passing ? .fail : .skip)
            statuses[tier] = status
            tiers[tier.rawValue] = TierResult(
                status: status, durationSeconds: 2.5,
                checks: [Check(name: "converge", status: status, durationSeconds: 1.25, message: "took \(hostile)")],
                reason: status == .fail ? "the app said \(hostile)" : nil)
        }
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1)
        var manifest = Manifest(
            meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: ["ADMIN_PASSWORD": "hunter2"])
        // A document written elsewhere may hold what the manifest's own redaction would catch.
        manifest.envOverrides["API_TOKEN"] = "s3cr3t-token"
        return RunResults(
            runID: runID, recipe: recipe, ref: nil, pr: pr, headCommit: String(repeating: "c", count: 40),
            headVersion: "1.3.0+\"><script>x</script>", baseVersion: "1.2.0", driver: "native", mode: "cold",
            appDomain: "\(recipe)-000000.ci.test", upgradeAppDomain: nil, startedAt: startedAt,
            finishedAt: startedAt.addingTimeInterval(42), outcome: ladder.level == 4 ? .pass : .fail,
            exitCode: ladder.level == 4 ? 0 : 1, tiers: tiers, ladder: ladder, deployCount: 2, manifest: manifest,
            flags: [], artifacts: Artifacts(runDirectory: "/tmp/\(runID)"), ccciVersion: "test")
    }

    func get(_ server: InProcessServer, _ path: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await server.client.execute(uri: path, method: .get, headers: headers, body: nil)
    }

    func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    @Test("interpolated values are escaped; only HTML built from literals is written as it is")
    func escaping() {
        let name = "<script>alert('x') & \"y\"</script>"
        let page: HTML = "<p title=\"\(name)\">\(name)</p>\(HTML("<b>bold</b>"))"
        #expect(
            page.rendered == "<p title=\"&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;\">"
                + "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</p><b>bold</b>")
    }

    @Test("the matrix lists each recipe's level, every tier's verdict as icon and word, the run's age and its trend")
    func matrix() async throws {
        try await InProcessServer.with { server in
            let now = Date()
            for (index, level) in [2, 3, 4].enumerated() {
                try await server.store.record(
                    Self.results(
                        "web", level: level, runID: "2026010\(index)T000000Z-web-aaaaa\(index)",
                        startedAt: now.addingTimeInterval(Double(index - 3) * 600)))
            }
            try await server.store.record(
                Self.results(
                    "appdb", level: 1, runID: "20260101T000000Z-appdb-bbbbbb", startedAt: now.addingTimeInterval(-7200))
            )
            let response = try await get(server, "/")
            #expect(response.status == .ok && response.headers[.contentType] == "text/html; charset=utf-8")
            let page = text(response)
            #expect(
                page.contains("<a href=\"/recipes/appdb\">appdb</a>")
                    && page.contains("<a href=\"/recipes/web\">web</a>"))
            #expect(page.range(of: "recipes/appdb")!.lowerBound < page.range(of: "recipes/web")!.lowerBound, "by name")
            #expect(page.contains("title=\"level 4\">L4</span>") && page.contains("title=\"level 1\">L1</span>"))
            #expect(page.contains("✓ pass") && page.contains("✗ fail") && page.contains("· none"))
            #expect(page.contains("aria-label=\"last levels: 2 3 4\""))
            #expect(page.contains("aria-label=\"last levels: 1\"") && page.contains("<circle"), "one run is a dot")
            #expect(page.contains("10 min ago") && page.contains("2 h ago"))
            #expect(page.contains("href=\"/runs/20260102T000000Z-web-aaaaa2\""))
            #expect(!page.contains("<script"), "no script on a page that follows nothing live")
            #expect(page.contains("title=\"no warm canonical\">—</span>"), "no canonical yet")

            // A promotion (another store handle, as a `ccci run` process) shows at once: it moves
            // the generation the page is cached by.
            let canonical = CanonicalRecord(
                recipe: "web", version: "1.2.0+1.36.1", commit: String(repeating: "a", count: 40),
                domain: "web.warm.ci.ccci.test", volumes: [], volumeBytes: 0, runID: "20260102T000000Z-web-aaaaa2",
                promotedAt: now)
            #expect(try await server.store.swapCanonical(expected: nil, with: canonical))
            let promoted = text(try await get(server, "/"))
            #expect(promoted.contains(">1.2.0+1.36.1</code>"), "the warm canonical's version")
            try await server.store.markCanonical("web", status: "broken")
            #expect(text(try await get(server, "/")).contains("1.2.0+1.36.1</code> <strong>(broken)</strong>"))
        }
    }

    @Test("a run page: header, ladder, tiers with steps and reasons, artifacts; values escaped, secrets redacted")
    func runPage() async throws {
        try await InProcessServer.with { server in
            let id = "20260101T000000Z-web-cccccc"
            var results = Self.results("web", level: 3, runID: id, startedAt: Date())
            let digest = "sha256:" + String(repeating: "d", count: 64)
            results.manifest.images = [
                DeployedImage(
                    app: "head", service: "app", image: "nginx:1.19.2\(Self.hostile)", digest: digest,
                    id: "sha256:" + String(repeating: "e", count: 64), source: "pulled from 127.0.0.1:5443",
                    sizeBytes: 23_480_630)
            ]
            try await server.store.record(results)
            let response = try await get(server, "/runs/\(id)")
            #expect(response.status == .ok)
            let page = text(response)
            #expect(page.contains("<h3 id=\"tier-custom\">custom · <span class=\"v fail\">✗ fail</span>"))
            #expect(page.contains("<strong>Why:</strong> the app said &lt;img src=x onerror=alert(1)&gt;"))
            #expect(page.contains("took &lt;img src=x onerror=alert(1)&gt;"))
            #expect(!page.contains(Self.hostile) && !page.contains("<script>x</script>"))
            #expect(page.contains("1.3.0+&quot;&gt;&lt;script&gt;x&lt;/script&gt;"))
            #expect(page.contains("L4</td><td>functional tests</td><td><span class=\"v fail\">✗ missed"))
            #expect(page.contains("href=\"/runs/\(id)/junit.xml\"") && page.contains("href=\"/runs/\(id)/log\""))
            #expect(!page.contains("hunter2") && !page.contains("s3cr3t-token"), "secret values never reach a page")
            #expect(page.contains("API_TOKEN") && page.contains("&lt;redacted&gt;"))
            // Which bits each service ran: the digest pulled, the image id, where from.
            #expect(page.contains("<section><h2>Images</h2>"))
            #expect(page.contains("<td>head</td><td>app</td><td><code>nginx:1.19.2&lt;img src=x"))
            #expect(page.contains("<code title=\"\(digest)\">sha256:dddddddddddd…</code>"))
            #expect(page.contains("<td>pulled from 127.0.0.1:5443</td>"))
            #expect(!page.contains("<dt>canonical</dt>"), "a cold run borrowed no canonical")
        }
    }

    @Test("a quick run's page says what became of the canonical it borrowed, its reason escaped")
    func quickRunPage() async throws {
        try await InProcessServer.with { server in
            let id = "20260101T000000Z-web-dddddd"
            var results = Self.results("web", level: 3, runID: id, startedAt: Date())
            results.mode = "quick"
            results.giveBack = GiveBack(state: .failed, reason: "restore said \(Self.hostile)", durationSeconds: 3)
            try await server.store.record(results)
            let page = text(try await get(server, "/runs/\(id)"))
            #expect(
                page.contains(
                    "<dt>canonical</dt><dd><span class=\"v fail\">not given back</span>: restore said &lt;img"))
            results.giveBack = GiveBack(state: .ok, durationSeconds: 10.25)
            try await server.store.record(results)
            #expect(text(try await get(server, "/runs/\(id)")).contains("<dt>canonical</dt><dd>given back in "))
        }
    }

    @Test("unknown recipes, runs and badges are 404 pages, never a crash; ids are checked before a path is formed")
    func notFound() async throws {
        try await InProcessServer.with { server in
            for path in [
                "/runs/20260101T000000Z-web-ffffff", "/runs/..%2F..%2Fetc", "/runs/%3Cscript%3E", "/recipes/nope",
                "/recipes/..", "/recipes/%3Cb%3E", "/badge/web/bogus.svg", "/badge/..%2Fx.svg", "/badge/web.png",
            ] {
                let response = try await get(server, path)
                #expect(response.status == .notFound, "\(path)")
                #expect(!text(response).contains("<script"), "\(path)")
            }
            let page = text(try await get(server, "/recipes/%3Cb%3E"))
            #expect(page.contains("Not found") && !page.contains("<b>"))
        }
    }

    @Test("badges: the level in shields colours, a tier's verdict, 'no runs' for a recipe without any; cached by ETag")
    func badges() async throws {
        try await InProcessServer.with { server in
            try await server.store.record(
                Self.results("web", level: 4, runID: "20260101T000000Z-web-dddddd", startedAt: Date()))
            let level = try await get(server, "/badge/web.svg")
            #expect(level.status == .ok && level.headers[.contentType] == "image/svg+xml")
            #expect(text(level).contains("aria-label=\"cc-ci: level 4\"") && text(level).contains("#97ca00"))
            #expect(level.headers[.cacheControl] == "public, max-age=60, must-revalidate")
            let etag = try #require(level.headers[.eTag])
            let again = try await get(server, "/badge/web.svg", headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified && again.body.readableBytes == 0)
            #expect(text(try await get(server, "/badge/web/install.svg")).contains("aria-label=\"install: pass\""))
            #expect(text(try await get(server, "/badge/web/lint.svg")).contains("aria-label=\"lint: no runs\""))
            let none = try await get(server, "/badge/appdb.svg")
            #expect(none.status == .ok && text(none).contains("aria-label=\"cc-ci: no runs\""))
        }
    }

    @Test(
        "the matrix and the badges, kept per store generation, follow a run another store handle records at once"
    )
    func renderedOncePerGeneration() async throws {
        try await InProcessServer.with { server in
            let start = Date(timeIntervalSince1970: 1_767_225_600)
            try await server.store.record(
                Self.results("web", level: 2, runID: "20260101T000000Z-web-aaaaaa", startedAt: start))
            let first = try await get(server, "/badge/web.svg")
            let firstMatrix = text(try await get(server, "/"))
            #expect(text(first).contains("level 2") && firstMatrix.contains("L2"))
            let generation = try await server.store.generation()
            #expect(try await server.store.generation() == generation, "reading does not move it")
            // `server.store` is a second handle on the server's database, as a `ccci run` process
            // is: its write moves the generation the server reads.
            try await server.store.record(
                Self.results("web", level: 4, runID: "20260101T010000Z-web-bbbbbb", startedAt: start + 3600))
            #expect(try await server.store.generation() > generation)
            let second = try await get(server, "/badge/web.svg")
            #expect(text(second).contains("level 4") && second.headers[.eTag] != first.headers[.eTag])
            let revalidated = try await get(
                server, "/badge/web.svg", headers: [.ifNoneMatch: first.headers[.eTag] ?? ""])
            #expect(revalidated.status == .ok, "the old ETag no longer matches")
            let matrix = text(try await get(server, "/"))
            #expect(matrix.contains("20260101T010000Z-web-bbbbbb") && !matrix.contains("20260101T000000Z-web-aaaaaa"))
            #expect(text(try await get(server, "/badge/web/backup.svg")).contains("aria-label=\"backup: pass\""))
        }
    }

    @Test(
        "a flaky tier: the matrix puts a flaky chip by the level, the run page says FLAKY, the recipe page shows each tier's flake rate over its newest runs"
    )
    func flakyTier() async throws {
        try await InProcessServer.with { server in
            for index in 0..<4 {
                var results = Self.results(
                    "web", level: 5, runID: "2026010\(index)T000000Z-web-fffff\(index)",
                    startedAt: Date().addingTimeInterval(Double(index) * 60))
                if index % 2 == 1 {
                    results.tiers["custom"]?.status = .flaky
                    results.tiers["custom"]?.reason = "failed, then passed on fresh apps — attempt 1: once.sh failed"
                }
                try await server.store.record(results)
            }
            let matrix = text(try await get(server, "/"))
            #expect(matrix.contains("<span class=\"chip\" title=\"flaky: custom\">flaky</span>"), "\(matrix)")
            let run = text(try await get(server, "/runs/20260103T000000Z-web-fffff3"))
            #expect(run.contains("<span class=\"v flaky\">≈ FLAKY</span>"))
            let recipe = text(try await get(server, "/recipes/web"))
            #expect(recipe.contains("Flake rate (newest 4 runs)"))
            #expect(
                recipe.contains("<tr><td>custom</td><td>2 of 4</td><td><span class=\"flaky\">50%</span></td></tr>"),
                "\(recipe)")
            #expect(recipe.contains("<tr><td>install</td><td>0 of 4</td><td>0%</td></tr>"))
        }
    }

    @Test(
        "memory: the run page shows each service's peak memory, CPU and image; the recipe page's trend flags a head that grew more than 25% over the last release that passed, and not one within it"
    )
    func memoryTrend() async throws {
        @Sendable func profiled(_ index: Int, version: String, mebibytes: Int64, pass: Bool = true) -> RunResults {
            var results = Self.results(
                "web", level: 4, runID: "2026010\(index)T000000Z-web-fffff\(index)",
                startedAt: Date().addingTimeInterval(Double(index) * 60))
            results.headVersion = version
            results.outcome = pass ? .pass : .fail
            results.resources = ResourceProfile(
                app: "web-000000.ci.test",
                services: [
                    "app": ServiceResources(
                        peakRSSBytes: mebibytes * 1_048_576, meanCPUPercent: 2.5, peakCPUPercent: 31.25,
                        imageBytes: 1_985_581, samples: 12)
                ])
            return results
        }
        try await InProcessServer.with { server in
            // 1.1.0 passed at 64 MiB; 1.2.0 failed at 60 MiB (never a baseline); the head doubles 1.1.0.
            try await server.store.record(profiled(1, version: "1.1.0+1.35.0", mebibytes: 64))
            try await server.store.record(profiled(2, version: "1.2.0+1.36.1", mebibytes: 60, pass: false))
            var head = profiled(3, version: "1.3.0+1.36.1", mebibytes: 128)
            head.tiers["upgrade"]?.from = [
                "1.2.0+1.36.1": UpgradeFromResult(status: .pass, durationSeconds: 15, app: "web-aaaaaa.ci.test"),
                "1.0.0+1.35.0": UpgradeFromResult(
                    status: .unavailable, durationSeconds: 3, reason: "deploy: \(Self.hostile)",
                    app: "web-bbbbbb.ci.test"),
            ]
            try await server.store.record(head)
            let run = text(try await get(server, "/runs/20260103T000000Z-web-fffff3"))
            #expect(run.contains("<th>upgrade from</th>"))
            #expect(
                run.contains(
                    "<tr><td><code>1.0.0+1.35.0</code></td><td><span class=\"v skip\">base could not be deployed</span></td>"
                ), "\(run)")
            #expect(run.range(of: "1.2.0+1.36.1</code>")!.lowerBound < run.range(of: "1.0.0+1.35.0</code>")!.lowerBound)
            #expect(!run.contains(Self.hostile))
            #expect(run.contains("<h2>Resources</h2>"))
            #expect(run.contains("<tr><td>app</td><td>128 MiB</td>"), "\(run)")
            #expect(run.contains("<td>2.5 %</td><td>31.2 %</td><td>1.9 MiB</td><td>12</td>"), "\(run)")
            let recipe = text(try await get(server, "/recipes/web"))
            #expect(recipe.contains("Peak memory (newest 3 runs)"))
            #expect(
                recipe.contains("⚠ memory: <code>app</code> peaked at 128 MiB in the newest run, 100% more than 64 MiB")
            )
            #expect(recipe.contains("<a href=\"/runs/20260101T000000Z-web-fffff1\">1.1.0+1.35.0</a>, the last release"))
            #expect(recipe.contains("<td class=\"v fail\">128 MiB</td>"))
            // A newer head within 25% of the last release that passed is not flagged.
            try await server.store.record(profiled(4, version: "1.4.0+1.36.1", mebibytes: 150))
            let calm = text(try await get(server, "/recipes/web"))
            #expect(!calm.contains("⚠ memory"), "150 MiB is 17% over the 128 MiB head that passed")
        }
        #expect(MemoryTrend.growth(in: []).isEmpty)
    }

    @Test("the flake rate counts a tier's verdicts over the newest 30 runs only; skipped and N/A runs are not counted")
    func flakeRateWindow() {
        func summary(_ custom: TierStatus) -> RunSummary {
            RunSummary(
                runID: "r", recipe: "web", headCommit: "c", headVersion: nil, outcome: .fail, exitCode: 1, level: 1,
                ladderVersion: LevelLadder.version, startedAt: Date(), durationSeconds: 1,
                tiers: ["custom": custom, "backup": .na], runDirectory: "/tmp")
        }
        let runs = Array(repeating: summary(.pass), count: 29) + [summary(.skip), summary(.flaky)]
        let rates = FlakeRate.of(runs)
        #expect(rates == [FlakeRate(tier: .custom, flaky: 0, ran: 29)], "the 31st run is outside the window")
        #expect(FlakeRate.of([summary(.flaky), summary(.fail), summary(.pass)]).first?.rate == 1.0 / 3.0)
    }

    @Test("a recipe's page charts level and duration over its history; the queue lists waiting jobs by position")
    func recipeAndQueue() async throws {
        try await InProcessServer.with { server in
            for index in 0..<3 {
                try await server.store.record(
                    Self.results(
                        "web", level: 2 + index, runID: "2026010\(index)T000000Z-web-eeeee\(index)",
                        startedAt: Date().addingTimeInterval(Double(index) * 60)))
            }
            let recipe = text(try await get(server, "/recipes/web"))
            #expect(recipe.contains("aria-label=\"level and duration of the last 3 runs\""))
            #expect(recipe.contains("<img src=\"/badge/web.svg\""))
            #expect(recipe.components(separatedBy: "<a href=\"/runs/").count == 4, "one row per run")
            let empty = text(try await get(server, "/queue"))
            #expect(empty.contains("Nothing is running or waiting."))
            try await server.post(WebhookFixture.comment("!testme"))
            let queue = text(try await get(server, "/queue"))
            #expect(queue.contains("0 running, 1 waiting."))
            #expect(queue.contains("<td>1</td><td><a href=\"/recipes/web\">web</a></td><td>recipes/web #1</td>"))
            #expect(queue.contains("<td>alice</td>"))
        }
    }

    @Test("a live run: its page shows the log so far, the event stream sends each new line and 'done' at the end")
    func liveRun() async throws {
        try await InProcessServer.with { server in
            let id = "20260101T000000Z-web-abcdef"
            let directory = server.harness.home.appending("runs/\(id)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let log = directory.appendingPathComponent("run.log")
            try "first line <b>\n".write(to: log, atomically: true, encoding: .utf8)
            let page = text(try await get(server, "/runs/\(id)"))
            #expect(page.contains("running") && page.contains("first line &lt;b&gt;"))
            #expect(page.contains("data-events=\"/runs/\(id)/events?from=\("first line <b>\n".utf8.count)\""))
            #expect(page.contains("new EventSource(log.dataset.events)"))
            #expect(page.contains("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>"))
            let writer = Task {
                try await Task.sleep(for: .milliseconds(600))
                let handle = try FileHandle(forWritingTo: log)
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("second line\nthird".utf8))
                try handle.write(contentsOf: Data(" line\n".utf8))
                try handle.close()
                try await Task.sleep(for: .milliseconds(600))
                try Data("{}".utf8).write(to: directory.appendingPathComponent("results.json"))
            }
            let events = try await get(server, "/runs/\(id)/events?from=\("first line <b>\n".utf8.count)")
            try await writer.value
            #expect(events.headers[.contentType] == "text/event-stream")
            #expect(text(events) == "data: second line\n\ndata: third line\n\nevent: done\ndata: finished\n\n")
        }
    }

    /// Posts to `/queue/<number>/cancel` with a form body and/or a bearer token.
    func cancel(
        _ server: InProcessServer, _ number: Int64, form: String? = nil, bearer: String? = nil
    ) async throws
        -> TestResponse
    {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        return try await server.client.execute(
            uri: "/queue/\(number)/cancel", method: .post, headers: headers, body: form.map { ByteBuffer(string: $0) })
    }

    @Test(
        "the queue's cancel needs the admin token: wrong or missing → 403 and the job stays; the right one cancels it and tells the PR; again → 409"
    )
    func cancelWithAdminToken() async throws {
        try await InProcessServer.with(adminToken: true) { server in
            #expect(try await server.post(WebhookFixture.comment("!testme")).status == .accepted)
            let job = try #require(try await server.jobs().first)
            let page = text(try await get(server, "/queue"))
            #expect(page.contains("<form method=\"post\" action=\"/queue/\(job.number)/cancel\">"))
            #expect(page.contains("<input type=\"password\" name=\"token\""))
            #expect(try await cancel(server, job.number, form: "token=wrong").status == .forbidden)
            #expect(try await cancel(server, job.number).status == .forbidden)
            #expect(try await cancel(server, job.number, bearer: "adm").status == .forbidden)
            #expect(try await server.jobs().first?.state == .queued, "a refused cancel changes nothing")
            // The form encodes the token (`/` and `+` are in it).
            let encoded = try #require(
                server.harness.adminToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let done = try await cancel(server, job.number, form: "other=1&token=\(encoded)")
            #expect(done.status == .ok && text(done).contains("is cancelled"))
            let cancelled = try #require(try await server.jobs().first)
            #expect(cancelled.state == .cancelled && cancelled.cancelReason == "an operator cancelled it")
            #expect(try await server.repliesSettled())
            #expect(server.stub.comments(on: "recipes/web", 1).first?.body.contains("an operator cancelled it") == true)
            #expect(server.stub.statuses.last?.state == "error")
            #expect(server.stub.statuses.last?.description == "cancelled by an operator")
            #expect(try await cancel(server, job.number, bearer: server.harness.adminToken).status == .conflict)
            #expect(try await cancel(server, 999, bearer: server.harness.adminToken).status == .notFound)
            #expect(!server.harness.logs.text.contains(server.harness.adminToken), "the token is never logged")
        }
    }

    @Test("a node without an admin token shows no cancel forms and refuses every cancel")
    func cancelIsOffWithoutToken() async throws {
        try await InProcessServer.with { server in
            #expect(try await server.post(WebhookFixture.comment("!testme")).status == .accepted)
            let job = try #require(try await server.jobs().first)
            #expect(!text(try await get(server, "/queue")).contains("<form"))
            let refused = try await cancel(server, job.number, form: "token=anything", bearer: "anything")
            #expect(refused.status == .forbidden && text(refused).contains("admin_token_file"))
            #expect(try await server.jobs().first?.state == .queued)
        }
    }
}
