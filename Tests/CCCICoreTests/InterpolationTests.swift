import CCCICore
import Testing

@Suite struct ComposeInterpolation {
    let environment = ["SET": "value", "EMPTY": "", "STACK_NAME": "app_ci_test", "DEFAULT": "fallback"]

    func interpolate(_ text: String) throws(ComposeError) -> String {
        try Interpolation.interpolate(text, environment: environment, location: "compose.yml: services.app")
    }

    @Test("$VAR and ${VAR} are replaced; an unset variable becomes empty")
    func plainReferences() throws {
        #expect(try interpolate("a $SET b") == "a value b")
        #expect(try interpolate("${SET}x") == "valuex")
        #expect(try interpolate("$SET.x") == "value.x")
        #expect(try interpolate("[$UNSET]") == "[]")
        #expect(try interpolate("[${UNSET}]") == "[]")
        #expect(try interpolate("${STACK_NAME}_db_password_v1") == "app_ci_test_db_password_v1")
        #expect(try interpolate("no references") == "no references")
    }

    @Test("${VAR:-default} uses the default when the variable is unset or empty")
    func colonDash() throws {
        #expect(try interpolate("${SET:-d}") == "value")
        #expect(try interpolate("${EMPTY:-d}") == "d")
        #expect(try interpolate("${UNSET:-d}") == "d")
        #expect(try interpolate("${UNSET:-}") == "")
        #expect(try interpolate("${UNSET:-with spaces and :colons}") == "with spaces and :colons")
    }

    @Test("${VAR-default} uses the default only when the variable is unset")
    func dash() throws {
        #expect(try interpolate("${SET-d}") == "value")
        #expect(try interpolate("${EMPTY-d}") == "")
        #expect(try interpolate("${UNSET-d}") == "d")
    }

    @Test("${VAR:+alt} gives alt only when the variable is set and non-empty")
    func colonPlus() throws {
        #expect(try interpolate("${SET:+alt}") == "alt")
        #expect(try interpolate("${EMPTY:+alt}") == "")
        #expect(try interpolate("${UNSET:+alt}") == "")
    }

    @Test("${VAR+alt} gives alt whenever the variable is set, even empty")
    func plus() throws {
        #expect(try interpolate("${SET+alt}") == "alt")
        #expect(try interpolate("${EMPTY+alt}") == "alt")
        #expect(try interpolate("${UNSET+alt}") == "")
    }

    @Test("${VAR:?message} fails when the variable is unset or empty, carrying the message")
    func colonQuestion() throws {
        #expect(try interpolate("${SET:?need it}") == "value")
        #expect(
            throws: ComposeError.requiredVariable(
                location: "compose.yml: services.app", name: "EMPTY", message: "need it")
        ) {
            try interpolate("${EMPTY:?need it}")
        }
        #expect(
            throws: ComposeError.requiredVariable(location: "compose.yml: services.app", name: "UNSET", message: "")
        ) {
            try interpolate("${UNSET:?}")
        }
        let error = ComposeError.requiredVariable(location: "compose.yml: x", name: "UNSET", message: "need it")
        #expect(error.description.contains("UNSET"))
        #expect(error.description.contains("need it"))
        #expect(error.description.contains("compose.yml: x"))
    }

    @Test("${VAR?message} fails only when the variable is unset")
    func question() throws {
        #expect(try interpolate("${SET?m}") == "value")
        #expect(try interpolate("[${EMPTY?m}]") == "[]")
        #expect(
            throws: ComposeError.requiredVariable(location: "compose.yml: services.app", name: "UNSET", message: "m")
        ) {
            try interpolate("${UNSET?m}")
        }
    }

    @Test("$$ is a literal dollar and does not start a reference")
    func doubleDollar() throws {
        #expect(try interpolate("cost $$5") == "cost $5")
        #expect(try interpolate("$${SET}") == "${SET}")
        #expect(try interpolate("$$SET") == "$SET")
        #expect(try interpolate("$$$SET") == "$value")
    }

    @Test("a dollar not followed by a name is kept, also at the end")
    func loneDollar() throws {
        #expect(try interpolate("price: 5$") == "price: 5$")
        #expect(try interpolate("$ 5") == "$ 5")
    }

    @Test("defaults nest: ${A:-${B:-c}} and references inside defaults are interpolated")
    func nested() throws {
        #expect(try interpolate("${UNSET:-${ALSO_UNSET:-c}}") == "c")
        #expect(try interpolate("${UNSET:-${SET}}") == "value")
        #expect(try interpolate("${UNSET:-$SET/x}") == "value/x")
        #expect(try interpolate("${UNSET:-$$}") == "$")
    }

    @Test(
        "an invalid ${ reference is an error naming the location and text",
        arguments: [
            "${", "${SET", "${}", "${1ABC}", "${SET!x}", "${-x}", "a ${SET:-${B} b",
        ])
    func invalid(text: String) {
        #expect(throws: ComposeError.invalidInterpolation(location: "compose.yml: services.app", text: text)) {
            try interpolate(text)
        }
    }

    @Test("the invalid-interpolation message says how to write a reference")
    func invalidMessage() {
        let description = ComposeError.invalidInterpolation(location: "compose.yml: image", text: "${").description
        #expect(description.contains("compose.yml: image"))
        #expect(description.contains("$$"))
    }

    @Test("references: each variable with its operator; $$ is no reference; defaults' inner references are not listed")
    func references() throws {
        let found = try Interpolation.references(
            in: "$$HOME ${STACK_NAME}_$DOMAIN ${A:-${B}} ${C:?set C} ${D-x} ${E:+y} $", location: "compose.yml")
        #expect(found.map(\.name) == ["STACK_NAME", "DOMAIN", "A", "C", "D", "E"])
        #expect(found.map(\.operator) == [nil, nil, ":-", ":?", "-", ":+"])
        #expect(found.map(\.needsValue) == [true, true, false, true, false, false])
        #expect(found.filter(\.isRequired).map(\.name) == ["C"])
        #expect(try Interpolation.references(in: "no variables", location: "x").isEmpty)
    }

    @Test(
        "references: invalid text is the same error interpolation gives", arguments: ["${", "${}", "${1A}", "${A!x}"])
    func invalidReferences(text: String) {
        #expect(throws: ComposeError.invalidInterpolation(location: "compose.yml", text: text)) {
            try Interpolation.references(in: text, location: "compose.yml")
        }
    }
}
