import CCCICore
import CCCIServer
import CCCIStore
import Foundation
import Testing

@Suite struct ReplyTextTests {
    let links = Links(base: "https://ci.example/")

    func job() -> Job {
        var job = Job(
            recipe: "web", repository: "recipes/web", pr: 3, headSHA: String(repeating: "a", count: 40),
            stages: nil, requester: "alice", commentID: 1)
        job.id = 12
        job.runID = "20260101T120000Z-web-abc123"
        return job
    }

    func results(level: Int, failing: Tier? = nil, screenshot: Bool = false) -> RunResults {
        var tiers: [String: TierResult] = [:]
        var statuses: [Tier: TierStatus] = [:]
        for tier in Tier.defaultStages {
            // Lint and the screenshot pass only for a level-5 run.
            let status: TierStatus = tier == failing ? .fail : (tier >= .lint && level < 5 ? .skip : .pass)
            statuses[tier] = status
            tiers[tier.rawValue] = TierResult(
                status: status, durationSeconds: 12.34, reason: tier == failing ? "marker | lost\nafter <restore>" : nil
            )
        }
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 2)
        return RunResults(
            runID: job().runID!, recipe: "web", ref: nil, pr: 3, headCommit: String(repeating: "a", count: 40),
            headVersion: "1.3.0+1.36.1", baseVersion: "1.2.0+1.36.1", driver: "native", mode: "cold",
            appDomain: "web-000000.ci.test", upgradeAppDomain: nil, startedAt: Date(), finishedAt: Date(),
            outcome: failing == nil ? .pass : .fail, exitCode: failing == nil ? 0 : 1, tiers: tiers, ladder: ladder,
            deployCount: 2, manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]),
            flags: [],
            artifacts: Artifacts(runDirectory: "/tmp/x", screenshot: screenshot ? "screenshot.png" : nil),
            ccciVersion: "test")
    }

    @Test(
        "the reply names a flaky tier and a pass that needed another backup; declared N/A shows its reason, a gap and a stale declaration are listed"
    )
    func flakyRetriedAndNA() {
        var run = results(level: 3)
        run.tiers["custom"]?.status = .flaky
        run.tiers["custom"]?.reason = "failed, then passed on fresh apps — attempt 1: once.sh failed"
        run.tiers["backup"]?.retry = TierRetry(
            attempt: 2, of: 3, failures: ["snapshot ab12 failed backup_verify: no dump"])
        run.tiers["upgrade"] = TierResult(
            status: .na, durationSeconds: 0, reason: "no release", na: TierNA(declared: "first release"))
        run.tiers["restore"]?.na = TierNA(
            stale: "`[na] restore` is declared, but it applies and ran (pass) — remove `restore` from `[na]`")
        run.outcome = .fail
        run.exitCode = 1
        let text = ReplyText.finished(job(), outcome: .of(exitCode: 1, results: run, lastError: nil), links: links)
        #expect(text.contains("| custom | ⚠️ flaky |"))
        #expect(text.contains("**Flaky:** `custom` failed, then passed when run again on fresh apps — not a pass"))
        #expect(text.contains("| backup | ✅ pass (retried) |"))
        #expect(text.contains("passed on attempt 2 of 3: attempt 1's snapshot ab12 failed backup\\_verify: no dump"))
        #expect(text.contains("| upgrade | ➖ na |") && text.contains("declared N/A: first release"))
        #expect(text.contains("- stale declaration: '\\[na\\] restore' is declared, but it applies and ran"), "\(text)")
        let (state, description) = ReplyText.finalStatus(
            job(), outcome: .of(exitCode: 1, results: run, lastError: nil))
        #expect(state == .failure && description.hasSuffix("— custom flaky"), "\(description)")
    }

    @Test(
        "several upgrade bases: a table of base → verdict → time, newest first, a base that could not deploy named as such; the head app's resources in one line"
    )
    func upgradeBasesAndResources() {
        var run = results(level: 1, failing: .upgrade)
        run.tiers["upgrade"]?.from = [
            "1.0.0+1.0": UpgradeFromResult(status: .fail, durationSeconds: 16.3, reason: "converge", app: "a"),
            "1.2.0+1.2": UpgradeFromResult(status: .pass, durationSeconds: 15, app: "b"),
            "1.1.0+1.1": UpgradeFromResult(status: .unavailable, durationSeconds: 4, reason: "deploy", app: "c"),
        ]
        run.resources = ResourceProfile(
            app: "web-000000.ci.test",
            services: [
                "db": ServiceResources(
                    peakRSSBytes: 212 * 1_048_576, meanCPUPercent: 3, peakCPUPercent: 40, imageBytes: nil, samples: 9),
                "app": ServiceResources(
                    peakRSSBytes: 41 * 1_048_576, meanCPUPercent: 1, peakCPUPercent: 9, imageBytes: 2_000_000,
                    samples: 9),
            ])
        let text = ReplyText.finished(job(), outcome: .of(exitCode: 1, results: run, lastError: nil), links: links)
        let table = [
            "| upgrade from | verdict | time |", "|---|---|---|", "| `1.2.0+1.2` | ✅ pass | 15.0 s |",
            "| `1.1.0+1.1` | ⏭️ base could not be deployed | 4.0 s |", "| `1.0.0+1.0` | ❌ fail | 16.3 s |",
        ].joined(separator: "\n")
        #expect(text.contains(table), "\(text)")
        #expect(text.contains("Resources of the head app: app: 41 MiB peak, db: 212 MiB peak"))
        // One base is the versions line's `base`: no table.
        run.tiers["upgrade"]?.from = ["1.2.0+1.2": UpgradeFromResult(status: .pass, durationSeconds: 15, app: "b")]
        #expect(
            !ReplyText.finished(job(), outcome: .of(exitCode: 1, results: run, lastError: nil), links: links)
                .contains("| upgrade from |"))
    }

    @Test(
        "a quick run's reply says what it proved and what it did not, suggests a cold run when volumes or secrets change, and follows the give-back"
    )
    func quickRun() {
        var quick = results(level: 0)
        quick.mode = "quick"
        quick.giveBack = GiveBack(state: .pending)
        var text = ReplyText.finished(job(), outcome: .of(verdict: quick), links: links)
        #expect(text.contains("**Quick lane**: this head was tried on the warm canonical `1.2.0+1.36.1`"))
        #expect(text.contains("It does **not** prove a fresh install"))
        #expect(!text.contains("`!testme` for a cold run"))
        #expect(text.contains("_The canonical is being given back._"))

        quick.flags = ["quick-changes-volumes-or-secrets"]
        quick.giveBack = GiveBack(state: .ok, durationSeconds: 10.2)
        text = ReplyText.finished(job(), outcome: .of(exitCode: 0, results: quick, lastError: nil), links: links)
        #expect(text.contains("This head changes the recipe's volumes or secrets"))
        #expect(text.contains("comment `!testme` for a cold run before merging"))
        #expect(text.contains("_The canonical was given back: `1.2.0+1.36.1` again, its data restored._"))

        quick.giveBack = GiveBack(state: .failed, reason: "restore failed: <no snapshot>")
        text = ReplyText.finished(job(), outcome: .of(exitCode: 0, results: quick, lastError: nil), links: links)
        #expect(text.contains("**The canonical could not be given back**: restore failed: &lt;no snapshot&gt;"))
        #expect(
            !ReplyText.finished(job(), outcome: .of(verdict: results(level: 4)), links: links).contains("Quick lane"))
    }

    @Test("the result: level, ladder, a tier table, head and base versions, links to run page, log and JUnit")
    func passed() {
        let outcome = JobOutcome.of(exitCode: 0, results: results(level: 4), lastError: nil)
        let text = ReplyText.finished(job(), outcome: outcome, links: links)
        #expect(text.contains("level 4 (passed)"))
        #expect(text.contains("L1 install ✅ → L2 upgrade ✅ → L3 backup + restore ✅ → L4 functional tests ✅"))
        #expect(text.contains("| install | ✅ pass | 12.3 s |  |"))
        #expect(text.contains("head `1.3.0+1.36.1` (`aaaaaaaaaa`) · base `1.2.0+1.36.1`"))
        #expect(text.contains("[run page](https://ci.example/runs/20260101T120000Z-web-abc123)"))
        #expect(text.contains("[log](https://ci.example/runs/20260101T120000Z-web-abc123/log)"))
        #expect(text.contains("[JUnit](https://ci.example/runs/20260101T120000Z-web-abc123/junit.xml)"))
        #expect(!text.contains("![screenshot"))
        let status = ReplyText.finalStatus(job(), outcome: outcome)
        #expect(status.0 == .success && status.1.hasPrefix("level 4"))
    }

    @Test(
        "a failed tier shows its reason on one table row, escaped; the status names the failed tier; a screenshot is shown"
    )
    func failed() {
        let outcome = JobOutcome.of(
            exitCode: 1, results: results(level: 2, failing: .restore, screenshot: true), lastError: nil)
        let text = ReplyText.finished(job(), outcome: outcome, links: links)
        #expect(text.contains("(failed)"))
        #expect(text.contains("| restore | ❌ fail | 12.3 s | marker \\| lost after &lt;restore&gt; |"))
        #expect(text.contains("![screenshot of web](https://ci.example/runs/20260101T120000Z-web-abc123/screenshot)"))
        let status = ReplyText.finalStatus(job(), outcome: outcome)
        #expect(status.0 == .failure && status.1 == "level 2 — restore failed")
    }

    @Test(
        "text from outside (a reason a recipe's test wrote) is inert: no image, link, emphasis, mention or issue reference survives"
    )
    func hostileReason() {
        let hostile =
            "![pixel](http://evil.test/p.png) [click](http://evil.test) @admin #12 !34 **bold** _it_ ~~x~~ `code` \\[x] <b>"
        let text = ReplyText.escape(hostile)
        for live in ["![", "](", "[click]", "@admin", "#12", "!34", "**", "<b>", "`"] {
            #expect(!text.contains(live), "\(live) survived in \(text)")
        }
        // Each character is still there for a reader: escaped, or followed by an invisible joiner.
        #expect(text.contains("\\[click\\]\\(http://evil.test\\)") && text.contains("@\u{2060}admin"))
        #expect(text.contains("#\u{2060}12") && text.contains("\\*\\*bold\\*\\*") && text.contains("&lt;b&gt;"))
        #expect(ReplyText.escape("a@b, c # d, e!") == "a@b, c # d, e!", "plain punctuation is left as it is")
        #expect(ReplyText.escape(String(repeating: "x", count: 900)).count == 501, "cut at 500, with an ellipsis")
    }

    @Test("a run that could not start says why, from ccci run's own error line")
    func couldNotRun() {
        let outcome = JobOutcome.of(exitCode: 2, results: nil, lastError: "'abc' is not a commit of recipe web")
        #expect(outcome.state == .failed)
        let text = ReplyText.finished(job(), outcome: outcome, links: links)
        #expect(text.contains("could not run"))
        #expect(text.contains("is not a commit of recipe web"))
        #expect(ReplyText.finalStatus(job(), outcome: outcome).0 == .error)
    }

    @Test("exit statuses map to job states: 0 passed, 1 and 2 and 142 failed, 143 cancelled")
    func exitStatuses() {
        #expect(JobOutcome.of(exitCode: 0, results: nil, lastError: nil).state == .passed)
        #expect(JobOutcome.of(exitCode: 1, results: nil, lastError: nil).state == .failed)
        #expect(JobOutcome.of(exitCode: 2, results: nil, lastError: nil).state == .failed)
        #expect(JobOutcome.of(exitCode: 142, results: nil, lastError: nil).note?.contains("deadline") == true)
        #expect(JobOutcome.of(exitCode: 143, results: nil, lastError: nil).state == .cancelled)
        #expect(JobOutcome.of(exitCode: 137, results: nil, lastError: nil).note?.contains("signal 9") == true)
    }
}
