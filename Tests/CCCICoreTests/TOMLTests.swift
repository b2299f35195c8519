import CCCICore
import Foundation
import Testing

/// The TOML reader: TOML 1.0 as Python's `tomllib` reads it (the expectations below were checked
/// against it), and an error with a line and column — never a crash — for everything else.
@Suite struct TOMLReading {
    func parse(_ text: String) throws -> JSONValue {
        try TOML.parse(text).value
    }

    @Test("scalars: strings of four kinds, integers in four bases, floats, booleans, date-times")
    func scalars() throws {
        let value = try parse(
            #"""
            basic = "a\tb \"q\" \u00e9 \U0001F600"
            literal = 'C:\path\n'
            multi = """
            one \
              two
            three"""
            multi_literal = '''
            raw \n '''
            dec = 1_000
            neg = -17
            hex = 0xDEAD_beef
            oct = 0o755
            bin = 0b1010
            float = -3.5e-2
            exp = 1E5
            inf = -inf
            yes = true
            date = 1979-05-27
            time = 07:32:00.999
            local = 1979-05-27T07:32:00
            offset = 1979-05-27 07:32:00Z
            """#)
        #expect(value["basic"] == .string("a\tb \"q\" é 😀"))
        #expect(value["literal"] == .string("C:\\path\\n"))
        #expect(value["multi"] == .string("one two\nthree"))
        #expect(value["multi_literal"] == .string("raw \\n "))
        #expect(value["dec"] == .int(1000))
        #expect(value["neg"] == .int(-17))
        #expect(value["hex"] == .int(0xDEAD_BEEF))
        #expect(value["oct"] == .int(0o755))
        #expect(value["bin"] == .int(10))
        #expect(value["float"] == .double(-0.035))
        #expect(value["exp"] == .double(100_000))
        #expect(value["inf"] == .double(-.infinity))
        #expect(value["yes"] == .bool(true))
        #expect(value["date"] == .string("1979-05-27"))
        #expect(value["time"] == .string("07:32:00.999"))
        #expect(value["local"] == .string("1979-05-27T07:32:00"))
        #expect(value["offset"] == .string("1979-05-27T07:32:00Z"))
    }

    @Test("tables: headers, dotted keys, inline tables, arrays of tables, the top-level key lines")
    func tables() throws {
        let document = try TOML.parse(
            """
            title = "x"

            [ready_probe]
            path = "/api"
            a.b.c = 1

            [a.b.d]
            [[servers]]
            name = "one"
            [[servers]]
            name = "two"
            [servers.extra]
            x = [1, [2, 3], {k = "v"},]
            """)
        let value = document.value
        #expect(value["ready_probe"]?["path"] == "/api")
        #expect(value["ready_probe"]?["a"]?["b"]?["c"] == .int(1))
        #expect(value["a"]?["b"]?["d"] == .object([:]))
        #expect(value["servers"]?.arrayValue?.count == 2)
        #expect(value["servers"]?.arrayValue?[1]["extra"]?["x"]?.arrayValue?[1] == [2, 3])
        #expect(value["servers"]?.arrayValue?[1]["extra"]?["x"]?.arrayValue?[2]["k"] == "v")
        #expect(document.lines["title"] == 1)
        #expect(document.lines["ready_probe"] == 3)
        #expect(document.lines["servers"] == 8)
    }

    @Test("the tables TOML allows to be extended are extended; the rest are refused")
    func extension_() throws {
        // Dotted keys may extend a table a header created implicitly (tomllib agrees).
        #expect(try parse("[a.b.c]\n[a]\nb.d = 1\n")["a"]?["b"]?["d"] == .int(1))
        // A header may define a sub-table of a dotted-key table.
        #expect(try parse("a.b.c = 1\n[a.b.d]\n")["a"]?["b"]?["d"] == .object([:]))
        for invalid in [
            "a.b = 1\n[a]\n",  // a dotted-key table defined again by a header
            "[a]\n[a]\n",  // a table defined twice
            "a = {b=1}\n[a.c]\n",  // inline tables are closed
            "a = 1\na = 2\n",  // a key defined twice
            "a = [1]\n[[a]]\n",  // a static array is not an array of tables
            "[[a]]\n[a]\n",  // an array of tables is not a table
            "a = {b = 1, b = 2}\n",
        ] {
            #expect(throws: TOMLError.self, "\(invalid)") { try parse(invalid) }
        }
    }

    @Test(
        "malformed input is an error with a line and column, never a crash",
        arguments: [
            "[[[a]]]", "[a", "a = ", "a = \"unterminated", "a = 'x\n", "= 1", "a b = 1", "a = 01", "a = 1__0",
            "a = _1", "a = 1_", "a = 0x", "a = +0x10", "a = 1.", "a = .5", "a = 1e", "a = 9223372036854775808",
            "a = 1979-13-01", "a = 1979-02-30", "a = 24:00:00", "a = 07:32", "a = \"\\x41\"", "a = \"\\uD800\"",
            "a = \"\u{7F}\"", "a = 1 2", "a = [1 2]", "a = {b = 1", "a = tru", "a = \"\"\"x", "a = 1\r", "# \u{0}",
            "a = \"\"\"a\"\"\"\"\"\"", "\"\"\"k\"\"\" = 1", "[a.]", "[.a]", "a..b = 1", "a = [,]", "a = {,}",
        ])
    func malformed(text: String) {
        do {
            _ = try TOML.parse(text)
            Issue.record("accepted: \(text.debugDescription)")
        } catch {
            #expect(error.line >= 1 && error.column >= 1)
            #expect(!error.message.isEmpty)
        }
    }

    @Test("nesting deeper than the limit is refused, not a stack overflow")
    func deepNesting() {
        let deep = "a = " + String(repeating: "[", count: 100_000)
        #expect(throws: TOMLError.self) { try TOML.parse(deep) }
        let inline = "a = " + String(repeating: "{b = ", count: 10_000)
        #expect(throws: TOMLError.self) { try TOML.parse(inline) }
        let dotted = (0..<1000).map { "k\($0)" }.joined(separator: ".") + " = 1"
        #expect(throws: TOMLError.self) { try TOML.parse(dotted) }
    }

    @Test("an input larger than 1 MiB is refused")
    func size() {
        #expect(throws: TOMLError.self) { try TOML.parse(String(repeating: "# x\n", count: 300_000)) }
    }

    @Test("CRLF line endings are line endings")
    func crlf() throws {
        let value = try parse("a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n")
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .string("x\ny"))
    }
}
