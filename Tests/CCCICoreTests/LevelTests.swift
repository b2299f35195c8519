import CCCICore
import Testing

@Suite struct LevelLadderRules {
    /// Statuses with every given tier passing.
    func passing(_ tiers: [Tier]) -> [Tier: TierStatus] {
        Dictionary(uniqueKeysWithValues: tiers.map { ($0, TierStatus.pass) })
    }

    let typical: [Tier] = [.install, .upgrade, .backup, .restore, .custom]

    @Test("every tier passing with a functional test executed reaches L5")
    func allPass() {
        let ladder = LevelLadder.evaluate(statuses: passing(Tier.allCases), declaredNA: [], customTestsExecuted: 1)
        #expect(ladder.level == 5)
        #expect(ladder.rungs.map(\.state) == [.reached, .reached, .reached, .reached, .reached])
        #expect(ladder.rungs.map(\.level) == [1, 2, 3, 4, 5])
    }

    @Test("L5 needs both lint and screenshot to pass")
    func level5NeedsBoth() {
        var statuses = passing(Tier.allCases)
        statuses[.screenshot] = .fail
        #expect(LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1).level == 4)
        statuses = passing(Tier.allCases)
        statuses[.lint] = nil
        #expect(LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1).level == 4)
    }

    @Test("L5 is never free: lint and screenshot declared N/A (or reported N/A) do not reach it")
    func level5Earned() {
        var statuses = passing(typical)
        statuses[.lint] = .na
        statuses[.screenshot] = .na
        let ladder = LevelLadder.evaluate(
            statuses: statuses, declaredNA: [.lint, .screenshot], customTestsExecuted: 1)
        #expect(ladder.level == 4)
        #expect(ladder.rungs.last?.state == .missed)
        #expect(ladder.version == "ladder/2")
    }

    @Test("a typical run (install, upgrade, backup, restore, custom pass, ≥1 test) is L4")
    func typicalRun() {
        let ladder = LevelLadder.evaluate(statuses: passing(typical), declaredNA: [], customTestsExecuted: 3)
        #expect(ladder.level == 4)
        #expect(ladder.rungs.last?.state == .missed)
    }

    @Test("a custom tier that passes with zero tests executed does not reach L4")
    func zeroTests() {
        let ladder = LevelLadder.evaluate(statuses: passing(Tier.allCases), declaredNA: [], customTestsExecuted: 0)
        #expect(ladder.level == 3)
        #expect(ladder.rungs[3].state == .missed)
    }

    @Test("L3 needs both backup and restore")
    func backupAndRestore() {
        var statuses = passing(typical)
        statuses[.restore] = .fail
        #expect(LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1).level == 2)
        statuses = passing(typical)
        statuses[.backup] = .skip
        #expect(LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1).level == 2)
    }

    @Test("a gap breaks the ladder: a failed upgrade gives L1 even though later tiers pass")
    func gap() {
        var statuses = passing(Tier.allCases)
        statuses[.upgrade] = .fail
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1)
        #expect(ladder.level == 1)
        #expect(ladder.rungs[1].state == .missed)
        #expect(ladder.rungs.dropFirst(2).allSatisfy { $0.state != .reached }, "nothing above a gap is reached")
    }

    @Test("an upgrade declared N/A in meta is shown N/A and the ladder continues")
    func declaredNA() {
        var statuses = passing(typical)
        statuses[.upgrade] = .na
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [.upgrade], customTestsExecuted: 1)
        #expect(ladder.level == 4)
        #expect(ladder.rungs[1].state == .na)
        #expect(ladder.rungs[2].state == .reached)
    }

    @Test("an N/A the meta did not declare breaks the ladder")
    func undeclaredNA() {
        var statuses = passing(typical)
        statuses[.upgrade] = .na
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1)
        #expect(ladder.level == 1)
        #expect(ladder.rungs[1].state == .missed)
    }

    @Test("a declared N/A tier that actually fails still breaks the ladder")
    func declaredButFailed() {
        var statuses = passing(typical)
        statuses[.backup] = .fail
        statuses[.restore] = .fail
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [.backup, .restore], customTestsExecuted: 1)
        #expect(ladder.level == 2)
        #expect(ladder.rungs[2].state == .missed)
    }

    @Test("backup and restore declared N/A let a recipe without backups reach L4")
    func backupNA() {
        var statuses = passing(typical)
        statuses[.backup] = .na
        statuses[.restore] = .na
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [.backup, .restore], customTestsExecuted: 2)
        #expect(ladder.level == 4)
        #expect(ladder.rungs[2].state == .na)
    }

    @Test("a failed install is L0, and so is a run with no results at all")
    func installFails() {
        var statuses = passing(Tier.allCases)
        statuses[.install] = .fail
        let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 5)
        #expect(ladder.level == 0)
        #expect(ladder.rungs.allSatisfy { $0.state != .reached })
        #expect(LevelLadder.evaluate(statuses: [:], declaredNA: [], customTestsExecuted: 0).level == 0)
    }

    @Test("install alone is L1")
    func installOnly() {
        #expect(LevelLadder.evaluate(statuses: [.install: .pass], declaredNA: [], customTestsExecuted: 0).level == 1)
    }

    @Test("the ladder version is recorded with every evaluation")
    func version() {
        let ladder = LevelLadder.evaluate(statuses: [:], declaredNA: [], customTestsExecuted: 0)
        #expect(ladder.version == LevelLadder.version)
        #expect(!LevelLadder.version.isEmpty)
    }

    @Test("the rungs are the spec's: install, upgrade, backup+restore, functional tests, lint+screenshot")
    func rungs() {
        #expect(
            LevelLadder.rungs.map(\.tiers) == [
                [.install], [.upgrade], [.backup, .restore], [.custom], [.lint, .screenshot],
            ]
        )
        #expect(LevelLadder.rungs.map(\.level) == [1, 2, 3, 4, 5])
    }
}
