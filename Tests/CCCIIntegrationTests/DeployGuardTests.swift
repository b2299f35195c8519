import CCCICore
import CCCIDeploy
import CCCILab
import CCCIStore
import CCCISwarm
import CCCISystem
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
                let driver = try await DriverFactory.make(
                    config, logger: TestEnvironment.logger, ingress: LabIngress.forNode(config), sharing: engine)
                let coordinator = RunCoordinator(
                    options: RunOptions(recipe: "web", stages: [.install]), config: config, driver: driver,
                    reporter: Reporter(enabled: false), store: nil, lifetime: nil)
                try FileManager.default.createDirectory(at: coordinator.runDirectory, withIntermediateDirectories: true)
                let context = coordinator.context(journal: try RunJournal(directory: coordinator.runDirectory))
                let prepared = try await Preparation(context: context).prepare()
                let steps = TierSteps(context: context, prepared: prepared, dependencies: [:])
                let heard = Locked([Tier: [TierStatus]]())
                let head = HeadPath(steps: steps) { tier, verdict in
                    heard.withLock { $0[tier, default: []].append(verdict.status) }
                }
                // The head path, twice: the second must not deploy a second fresh app.
                let first = await head.run()
                #expect(first.tiers[.install]?.status == .pass)
                let secretsBefore = try await engine.secrets(labels: ["ccci.app=\(prepared.headDomain)"]).count
                let second = await head.run()
                let install = try #require(second.tiers[.install])
                #expect(install.status == .fail)
                #expect(install.reason?.contains("deploy guard") == true, "\(install.reason ?? "")")
                #expect(try await engine.secrets(labels: ["ccci.app=\(prepared.headDomain)"]).count == secretsBefore)
                #expect(heard.value[.install] == [.pass, .fail], "the sink hears each verdict as it concludes")
                #expect(await prepared.deployGuard.total == 2, "the guard counted both attempts")
                let decision = RunVerdict.decide(
                    concluded: second.tiers, requested: [.install], stop: nil, residueClean: true,
                    declaredNA: [:], customTestsExecuted: 0)
                #expect(decision.outcome == .fail)
                let removal = await Teardown(context: context).run(
                    [LockedDomain(domain: prepared.headDomain, label: "head app", dependency: nil)], keep: false)
                #expect(removal.clean)
                let left = try await harness.residue(prepared.headDomain.name, engine: engine)
                #expect(left.isEmpty, "\(left.summary)")
                try? FileManager.default.removeItem(at: coordinator.workspace)
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
