import CCCICore
import CCCIStore
import Foundation
import Testing

/// The run history in an in-memory SQLite store (the same schema and migrations as on disk): what
/// a run records is what `ccci results` and the server read back.
@Suite struct InMemoryStoreTests {
    static func results(runID: String, recipe: String, outcome: RunOutcome, startedAt: Date) -> RunResults {
        let decision = RunVerdict.decide(
            concluded: [.install: TierResult(status: outcome == .pass ? .pass : .fail, durationSeconds: 2)],
            requested: [.install], stop: nil, residueClean: true, declaredNA: [], customTestsExecuted: 0)
        return RunResults(
            runID: runID, recipe: recipe, ref: nil, pr: nil, headCommit: String(repeating: "c", count: 40),
            headVersion: "1.0.0+1", baseVersion: nil, driver: "native", mode: "cold",
            appDomain: "\(recipe)-000000.ci.test", upgradeAppDomain: nil, startedAt: startedAt,
            finishedAt: startedAt.addingTimeInterval(30), outcome: decision.outcome,
            exitCode: decision.outcome.exitCode,
            tiers: Dictionary(uniqueKeysWithValues: decision.tiers.map { ($0.key.rawValue, $0.value) }),
            ladder: decision.ladder, deployCount: 1,
            manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]), flags: [],
            artifacts: Artifacts(runDirectory: "/tmp/\(runID)"), ccciVersion: "test")
    }

    @Test("a recorded run reads back whole, and the history lists runs newest first per recipe")
    func roundTrip() async throws {
        let store = try SQLiteStore()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = Self.results(runID: "r1", recipe: "web", outcome: .pass, startedAt: start)
        let second = Self.results(runID: "r2", recipe: "web", outcome: .fail, startedAt: start.addingTimeInterval(60))
        let other = Self.results(runID: "r3", recipe: "oneshot", outcome: .pass, startedAt: start)
        for results in [first, second, other] { try await store.record(results) }

        let readBack = try #require(try await store.results(runID: "r2"))
        #expect(try readBack.encoded() == second.encoded())
        #expect(try await store.results(runID: "nope") == nil)

        let web = try await store.runs(recipe: "web", limit: 10)
        #expect(web.map(\.runID) == ["r2", "r1"])
        #expect(try await store.runs(recipe: nil, limit: 10).count == 3)
        #expect(try await store.runs(recipe: "web", limit: 1).map(\.runID) == ["r2"])
    }

    @Test("recording the same run again replaces it (a janitor's verdict for a killed run)")
    func rerecord() async throws {
        let store = try SQLiteStore()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.record(Self.results(runID: "r1", recipe: "web", outcome: .pass, startedAt: start))
        try await store.record(Self.results(runID: "r1", recipe: "web", outcome: .fail, startedAt: start))
        #expect(try await store.runs(recipe: "web", limit: 10).count == 1)
        #expect(try await store.results(runID: "r1")?.outcome == .fail)
    }
}
