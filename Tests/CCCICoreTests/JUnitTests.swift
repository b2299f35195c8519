import CCCICore
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A results document with the given tiers.
func sampleResults(
    recipe: String = "web", runSeconds: TimeInterval = 75.5, tiers: [String: TierResult]
) -> RunResults {
    let statuses = Dictionary(
        uniqueKeysWithValues: tiers.compactMap { name, result in Tier(rawValue: name).map { ($0, result.status) } })
    let started = Date(timeIntervalSince1970: 1_700_000_000)
    return RunResults(
        runID: "run-<1>&\"2\"", recipe: recipe, ref: "main", pr: 12, headCommit: "abc1234", headVersion: "1.1.0+2",
        baseVersion: "1.0.0+1", driver: "native", mode: "cold", appDomain: "web-29bfd8.ci.ccci.test",
        upgradeAppDomain: nil, startedAt: started, finishedAt: started.addingTimeInterval(runSeconds), outcome: .fail,
        exitCode: 1, tiers: tiers,
        ladder: LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1), deployCount: 2,
        manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]), flags: [],
        artifacts: Artifacts(runDirectory: "runs/1"), ccciVersion: "test")
}

@Suite struct JUnitReports {
    static let results = sampleResults(
        recipe: "web&co",
        tiers: [
            "install": TierResult(
                status: .pass, durationSeconds: 12.3456,
                checks: [
                    Check(name: "converged", status: .pass, durationSeconds: 10),
                    Check(name: "health <GET />", status: .pass, durationSeconds: 2.3456),
                ]),
            "upgrade": TierResult(
                status: .fail, durationSeconds: 5,
                checks: [
                    Check(
                        name: "converged", status: .fail, durationSeconds: 5,
                        message: "service app: 0/1 <\"task\" failed> & 'rolled back'\u{1}")
                ]),
            "backup": TierResult(status: .skip, durationSeconds: 0, reason: "upgrade failed"),
            "restore": TierResult(status: .na, durationSeconds: 0),
            "custom": TierResult(status: .fail, durationSeconds: 1),
        ])

    @Test("one testsuite per tier in tier order, with test, failure and skipped counts")
    func suites() throws {
        let xml = JUnit.render(Self.results)
        let names = xml.components(separatedBy: "<testsuite name=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(names == ["install", "upgrade", "backup", "restore", "custom"])
        #expect(xml.contains("<testsuite name=\"install\" tests=\"2\" failures=\"0\" skipped=\"0\""))
        #expect(xml.contains("<testsuite name=\"upgrade\" tests=\"1\" failures=\"1\" skipped=\"0\""))
        #expect(xml.contains("<testsuite name=\"backup\" tests=\"1\" failures=\"0\" skipped=\"1\""))
        #expect(xml.contains("<testsuite name=\"restore\" tests=\"1\" failures=\"0\" skipped=\"1\""))
        #expect(xml.contains("<testsuite name=\"custom\" tests=\"1\" failures=\"1\" skipped=\"0\""))
        #expect(xml.contains("tests=\"6\" failures=\"2\" skipped=\"2\""), "the totals sum the suites")
        #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"))
    }

    @Test("failed checks carry a failure element, skipped and N/A ones a skipped element with the reason")
    func failureAndSkipped() {
        let xml = JUnit.render(Self.results)
        #expect(
            xml.contains(
                "<failure message=\"service app: 0/1 &lt;&quot;task&quot; failed&gt; &amp; &#39;rolled back&#39;\">"))
        #expect(xml.contains("<skipped message=\"upgrade failed\"/>"))
        #expect(xml.contains("<skipped message=\"na\"/>"))
        #expect(xml.contains("name=\"health &lt;GET /&gt;\""))
        #expect(xml.contains("classname=\"web&amp;co.install\""))
    }

    @Test("the screenshot is attached to the screenshot tier's first test case, and nowhere without one")
    func screenshotAttachment() {
        var results = sampleResults(
            tiers: [
                "install": TierResult(status: .pass, durationSeconds: 1),
                "screenshot": TierResult(
                    status: .pass, durationSeconds: 2,
                    checks: [Check(name: "screenshot of /", status: .pass, durationSeconds: 2)]),
            ])
        #expect(!JUnit.render(results).contains("ATTACHMENT"))
        results.artifacts.screenshot = "screenshot.png"
        let xml = JUnit.render(results)
        #expect(
            xml.contains(
                "name=\"screenshot of /\" time=\"2.000\"><system-out>[[ATTACHMENT|runs/1/screenshot.png]]</system-out></testcase>"
            ))
        #expect(xml.components(separatedBy: "ATTACHMENT").count == 2, "once")
    }

    @Test("XML special characters are escaped and characters XML forbids are dropped")
    func escaping() {
        #expect(JUnit.escape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;")
        #expect(JUnit.escape("tab\tnew\nline") == "tab\tnew\nline")
        #expect(JUnit.escape("bell\u{7}nul\u{0}") == "bellnul")
        #expect(!JUnit.render(Self.results).contains("\u{1}"))
    }

    #if canImport(FoundationXML) || os(macOS)
    @Test("the report is well-formed XML that parses back to the same suites")
    func wellFormed() throws {
        let document = try XMLDocument(xmlString: JUnit.render(Self.results), options: [])
        let root = try #require(document.rootElement())
        #expect(root.name == "testsuites")
        let suites = root.elements(forName: "testsuite")
        #expect(
            suites.map { $0.attribute(forName: "name")?.stringValue } == [
                "install", "upgrade", "backup", "restore", "custom",
            ])
        let failure = try #require(suites[1].elements(forName: "testcase").first?.elements(forName: "failure").first)
        #expect(
            failure.attribute(forName: "message")?.stringValue == "service app: 0/1 <\"task\" failed> & 'rolled back'")
        #expect(root.attribute(forName: "name")?.stringValue == "ccci web&co run-<1>&\"2\"")
    }
    #endif
}

@Suite struct ResultsDocument {
    @Test("results.json uses the stable names schema, run_id, recipe, level and tiers with status and duration_s")
    func stableNames() throws {
        let results = sampleResults(tiers: [
            "install": TierResult(status: .pass, durationSeconds: 12.3456),
            "upgrade": TierResult(status: .fail, durationSeconds: 3, reason: "did not converge"),
            "backup": TierResult(status: .skip, durationSeconds: 0),
            "restore": TierResult(status: .na, durationSeconds: 0),
        ])
        let object = try #require(try JSONSerialization.jsonObject(with: results.encoded()) as? [String: Any])
        #expect(object["schema"] as? String == RunResults.schemaVersion)
        #expect(object["run_id"] as? String == "run-<1>&\"2\"")
        #expect(object["recipe"] as? String == "web")
        #expect(object["level"] as? Int == 1)
        let tiers = try #require(object["tiers"] as? [String: [String: Any]])
        #expect(Set(tiers.keys) == ["install", "upgrade", "backup", "restore"])
        #expect(tiers["install"]?["status"] as? String == "pass")
        #expect(tiers["upgrade"]?["status"] as? String == "fail")
        #expect(tiers["backup"]?["status"] as? String == "skip")
        #expect(tiers["restore"]?["status"] as? String == "na")
        #expect(tiers["install"]?["duration_s"] as? Double == 12.346, "durations are kept to the millisecond")
        #expect(tiers["upgrade"]?["duration_s"] as? Double == 3)
        #expect(tiers["upgrade"]?["reason"] as? String == "did not converge")
        let ladder = try #require(object["ladder"] as? [String: Any])
        #expect(ladder["version"] as? String == LevelLadder.version)
        #expect(object["duration_s"] as? Double == 75.5)
        #expect(object["runID"] == nil)
    }

    @Test("the schema names the version and results decode back to the same value")
    func roundTrip() throws {
        // Whole seconds: results.json timestamps are ISO-8601 without fractions.
        let results = sampleResults(runSeconds: 75, tiers: ["install": TierResult(status: .pass, durationSeconds: 1)])
        #expect(RunResults.schemaVersion.hasPrefix("ccci.results/"))
        let decoded = try JSONCoding.decoder.decode(RunResults.self, from: results.encoded())
        #expect(decoded == results)
    }

    @Test("the level in results is the ladder's level")
    func levelFromLadder() {
        let results = sampleResults(tiers: [
            "install": TierResult(status: .pass, durationSeconds: 1),
            "upgrade": TierResult(status: .pass, durationSeconds: 1),
        ])
        #expect(results.level == 2)
        #expect(results.level == results.ladder.level)
    }
}
