import CCCICore
import CCCITestSupport
import Foundation
import Testing

/// Every shape of results document the code produces validates against the committed schema.
@Suite struct ResultsSchema {
    static func results(
        outcome: RunOutcome, tiers: [String: TierResult], meta: RecipeMeta = RecipeMeta(), pr: Int? = nil
    ) -> RunResults {
        let statuses = Dictionary(
            uniqueKeysWithValues: tiers.compactMap { key, value in Tier(rawValue: key).map { ($0, value.status) } })
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: Set(meta.naTiers), customTestsExecuted: 1)
        return RunResults(
            runID: "20261123T100339Z-web-hidcje", recipe: "web", ref: pr == nil ? nil : "8f3dc719", pr: pr,
            headCommit: String(repeating: "a", count: 40), headVersion: "1.3.0+1.36.1", baseVersion: nil,
            driver: "native",
            mode: "cold", appDomain: "web-8d0245.ci.ccci.test", upgradeAppDomain: nil,
            startedAt: Date(timeIntervalSince1970: 1_800_000_000),
            finishedAt: Date(timeIntervalSince1970: 1_800_000_027.5),
            outcome: outcome, exitCode: outcome.exitCode, tiers: tiers, ladder: ladder, deployCount: 1,
            manifest: Manifest(
                meta: meta, overlays: ["compose.ccci-dnsrr.yml"], customTests: ["recipe/functional/x.sh"],
                envOverrides: ["API_KEY": "secret", "SITE": "x"]),
            flags: outcome == .fail ? ["residue"] : [],
            artifacts: Artifacts(runDirectory: "/tmp/run", tierLogs: ["install": "tiers/install.log"]),
            ccciVersion: CCCIVersion.current)
    }

    @Test(
        "passing, failing, n/a and stopped runs all validate",
        arguments: [RunOutcome.pass, .fail, .cancelled, .deadline])
    func shapesValidate(outcome: RunOutcome) async throws {
        let tiers: [String: TierResult] = [
            "install": TierResult(
                status: .pass, durationSeconds: 3.1,
                checks: [Check(name: "converge", status: .pass, durationSeconds: 3)]),
            "upgrade": TierResult(status: .na, durationSeconds: 0, reason: "no release to upgrade from"),
            "backup": TierResult(
                status: outcome == .pass ? .pass : .fail, durationSeconds: 1,
                checks: [
                    Check(
                        name: "backup", status: outcome == .pass ? .pass : .fail, durationSeconds: 1,
                        message: outcome == .pass ? nil : "empty snapshot")
                ], reason: outcome == .pass ? nil : "backup: empty snapshot"),
            "restore": TierResult(status: .skip, durationSeconds: 0, reason: "the backup did not succeed"),
            "custom": TierResult(status: .pass, durationSeconds: 0.02),
        ]
        let document = try Self.results(outcome: outcome, tiers: tiers, pr: outcome == .pass ? 12 : nil).encoded()
        let errors = try await SchemaValidation.errors(of: document)
        #expect(errors.isEmpty, "\(errors)")
    }

    @Test("a promotion of each status validates; an unknown status does not")
    func promotionShapes() async throws {
        for status in [PromotionSummary.Status.promoted, .current, .notEligible, .failed] {
            var results = Self.results(
                outcome: .pass, tiers: ["install": TierResult(status: .pass, durationSeconds: 1)])
            results.promotion = PromotionSummary(
                status: status, version: "1.3.0+1.36.1", commit: String(repeating: "b", count: 40),
                domain: "web.warm.ci.ccci.test", reason: status == .promoted ? nil : "why")
            let errors = try await SchemaValidation.errors(of: try results.encoded())
            #expect(errors.isEmpty, "\(status): \(errors)")
        }
        var object = try JSONCoding.decoder.decode(
            [String: JSONValue].self,
            from: try Self.results(outcome: .pass, tiers: ["install": TierResult(status: .pass, durationSeconds: 1)])
                .encoded())
        object["promotion"] = ["status": "promoted (probably)"]
        let errors = try await SchemaValidation.errors(of: try JSONCoding.prettyEncoder.encode(object))
        #expect(!errors.isEmpty)
    }

    @Test("the schema rejects a document that breaks the stable names")
    func schemaRejects() async throws {
        var object = try JSONCoding.decoder.decode(
            [String: JSONValue].self,
            from: try Self.results(outcome: .pass, tiers: ["install": TierResult(status: .pass, durationSeconds: 1)])
                .encoded())
        object["tiers"] = ["install": ["status": "passed", "duration_s": 1, "checks": []]]
        let errors = try await SchemaValidation.errors(
            of: try JSONCoding.compactEncoder.encode(JSONValue.object(object)))
        #expect(!errors.isEmpty, "a tier status outside pass/fail/skip/na must be rejected")
        object.removeValue(forKey: "run_id")
        #expect(
            !(try await SchemaValidation.errors(of: try JSONCoding.compactEncoder.encode(JSONValue.object(object))))
                .isEmpty)
    }

    @Test("secret-looking env overrides are redacted in the stored manifest")
    func manifestRedacted() throws {
        let results = Self.results(outcome: .pass, tiers: [:])
        #expect(results.manifest.envOverrides["API_KEY"] == Redaction.mask)
        #expect(results.manifest.envOverrides["SITE"] == "x")
    }
}
