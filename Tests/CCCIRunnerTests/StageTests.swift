import CCCICore
import CCCIRunner
import Testing

/// `--stages`: names in any order and case, each once, always run in ladder order.
@Suite struct StageParsingTests {
    @Test(
        "valid lists parse into ladder order",
        arguments: [
            ("install", [Tier.install]),
            ("upgrade,install", [.install, .upgrade]),
            (" Custom , BACKUP ,restore", [.backup, .restore, .custom]),
            ("install,install,,upgrade", [.install, .upgrade]),
        ])
    func valid(text: String, stages: [Tier]) throws {
        #expect(try RunOptions.parseStages(text).get() == stages)
    }

    @Test("an unknown stage names itself and suggests the closest")
    func unknown() {
        guard case .failure(let error) = RunOptions.parseStages("install,upgarde") else {
            Issue.record("a typo must not parse")
            return
        }
        #expect(error.name == "upgarde")
        #expect(error.description.contains("did you mean `upgrade`?"))
    }

    @Test("an empty list is an error, not 'run nothing'", arguments: ["", ",", " , "])
    func empty(text: String) {
        #expect(throws: StageError.self) { try RunOptions.parseStages(text).get() }
    }
}
