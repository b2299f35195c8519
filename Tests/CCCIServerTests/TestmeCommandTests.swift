import CCCICore
import CCCIServer
import Testing

@Suite struct TestmeCommandTests {
    @Test("the first word of the first line decides whether a comment is a !testme")
    func recognition() {
        #expect(TestmeCommand.isCommand("!testme"))
        #expect(TestmeCommand.isCommand("  !testme --stages install\nthanks!"))
        #expect(TestmeCommand.isCommand("\n\n!testme"))
        #expect(!TestmeCommand.isCommand("!testmeplease"))
        #expect(!TestmeCommand.isCommand("please !testme"))
        #expect(!TestmeCommand.isCommand("LGTM\n!testme"))
        #expect(!TestmeCommand.isCommand("!TESTME"))
        #expect(!TestmeCommand.isCommand(""))
    }

    @Test("options: --stages in either spelling, in ladder order; anything else is an error that says what")
    func options() throws {
        #expect(try TestmeCommand.parse("!testme").get() == TestmeCommand())
        #expect(try TestmeCommand.parse("!testme --stages upgrade,install").get().stages == [.install, .upgrade])
        #expect(try TestmeCommand.parse("!testme --stages=backup,restore").get().stagesArgument == "backup,restore")
        #expect(try TestmeCommand.parse("!testme --stages install\nmore text").get().stages == [.install])
        func error(_ body: String) -> String {
            guard case .failure(let error) = TestmeCommand.parse(body) else { return "(parsed)" }
            return error.description
        }
        #expect(error("!testme --stages").contains("needs a list"))
        #expect(error("!testme --stages --quick").contains("needs a list"))
        #expect(error("!testme --stages instal").contains("did you mean `install`?"))
        #expect(error("!testme --stages install --stages upgrade").contains("twice"))
        #expect(error("!testme --quick --quick").contains("given twice"))
        #expect(error("!testme --quick=yes").contains("takes no value"))
        #expect(error("!testme --quick --stages install,custom").contains("`install` needs a cold run"))
        #expect(error("!testme now").contains("a word cc-ci does not know; the options are `--stages` and `--quick`"))
        #expect(error("!testme --stagse install").contains("did you mean `--stages`?"))
        #expect(error("!testme " + String(repeating: "x", count: 500)).count < 160, "a long word is not echoed")
        // Nothing the commenter wrote is echoed: no image, link or mention can ride on the reply.
        for hostile in [
            "!testme --stages ![x](http://evil.test/p.png)", "!testme @admin", "!testme [click](http://evil.test)",
            "!testme --stages install,<img/src=x>", "!testme --x=@everyone",
        ] {
            let text = error(hostile)
            #expect(text != "(parsed)", "\(hostile)")
            for fragment in ["evil", "@admin", "@everyone", "![", "](", "<img", "click"] {
                #expect(!text.contains(fragment), "\(hostile) → \(text)")
            }
        }
    }

    @Test("--quick asks for the quick lane, alone or with stages it can prove")
    func quick() throws {
        #expect(try TestmeCommand.parse("!testme --quick").get() == TestmeCommand(quick: true))
        #expect(
            try TestmeCommand.parse("!testme --stages upgrade,custom --quick").get()
                == TestmeCommand(stages: [.upgrade, .custom], quick: true))
        #expect(try TestmeCommand.parse("!testme").get().quick == false)
    }
}
