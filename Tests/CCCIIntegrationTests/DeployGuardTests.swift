import CCCICore
import CCCIStore
import CCCISwarm
import CCCITestSupport
import Foundation
import Testing

@testable import CCCIRunner

extension Integration {
    /// The deploy-count guard: each app of a run is deployed fresh exactly once.
    @Suite struct DeployGuardRun {
        @Test("a second fresh deploy of the head app inside a run fails the run, and creates nothing")
        func secondFreshDeployFailsTheRun() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let config = try harness.config()
            try await TestEnvironment.withEngine { engine in
                let coordinator = RunCoordinator(
                    options: RunOptions(recipe: "web", stages: [.install]), config: config, engine: engine,
                    logger: TestEnvironment.logger, reporter: Reporter(enabled: false), store: nil, lifetime: nil)
                let journal = try RunJournal(directory: coordinator.runDirectory)
                let prepared = try await coordinator.prepare(journal: journal)
                let state = RunCoordinator.RunState()
                // The head path, twice: the second must not deploy a second fresh app.
                await coordinator.headPath(prepared, state: state)
                #expect(await state.tiers[.install]?.status == .pass)
                let secretsBefore = try await engine.secrets(labels: ["ccci.app=\(prepared.headDomain)"]).count
                await coordinator.headPath(prepared, state: state)
                let install = try #require(await state.tiers[.install])
                #expect(install.status == .fail)
                #expect(install.reason?.contains("deploy guard") == true, "\(install.reason ?? "")")
                #expect(try await engine.secrets(labels: ["ccci.app=\(prepared.headDomain)"]).count == secretsBefore)
                let results = await coordinator.finish(prepared, state: state, stop: nil)
                #expect(results.outcome == "fail")
                #expect(results.exitCode == 1)
                #expect(results.deployCount == 2, "the guard counted both attempts")
                let left = try await harness.residue(prepared.headDomain.name, engine: engine)
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test(
            "the guard itself: the first fresh deploy of a role passes, the second throws, other roles are independent")
        func guardCounts() async throws {
            let directory = try TemporaryDirectory("ccci-guard")
            let guardFile = directory.appending("deploys.json")
            let deployGuard = try DeployGuard(file: guardFile)
            let naming = try AppNaming(ciDomain: "guard.ccci.test")
            let a = naming.runAppDomain(recipe: "web", pr: 0, ref: "a")
            let b = naming.runAppDomain(recipe: "web", pr: 0, ref: "a", role: .upgrade)
            try await deployGuard.recordFreshDeploy(.head, domain: a)
            try await deployGuard.recordFreshDeploy(.upgrade, domain: b)
            await #expect(throws: DeployGuardError.self) { try await deployGuard.recordFreshDeploy(.head, domain: a) }
            let recorded = try JSONCoding.decoder.decode([String: Int].self, from: Data(contentsOf: guardFile))
            #expect(recorded == ["head": 2, "upgrade": 1])
        }
    }
}
