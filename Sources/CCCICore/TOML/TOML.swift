import Foundation

/// A TOML 1.0 reader for `ccci.toml` and the node configuration.
///
/// cc-ci reads pack files that come from pull requests, so the reader must turn *every* input
/// into either a document or an error with a line and column — never a crash. It is written in
/// Swift for that reason (the C++ parser wrapped by TOMLKit asserts on some malformed input, which
/// aborts the whole process), with bounded nesting and input size, and is checked against
/// Python's `tomllib` by `scripts/fuzz`.
///
/// Values come back as ``JSONValue``: integers as `.int`, floats as `.double`, date-times as
/// their text (`.string`), tables as `.object`, arrays (and arrays of tables) as `.array`.
public enum TOML {
    /// Inputs longer than this are refused (a pack file is a few hundred bytes).
    public static let maximumLength = 1 << 20
    /// Arrays and inline tables may nest this deep.
    public static let maximumDepth = 32
    /// A dotted key or table header may have this many parts.
    public static let maximumKeyParts = 16

    /// Parses a whole document.
    public static func parse(_ text: String) throws(TOMLError) -> TOMLDocument {
        guard text.utf8.count <= maximumLength else {
            throw TOMLError(line: 1, column: 1, message: "the file is larger than 1 MiB")
        }
        var parser = TOMLParser(Array(text.unicodeScalars))
        return try parser.document()
    }
}

/// A parsed document: its values, and the line each top-level key was written on.
public struct TOMLDocument: Sendable {
    public let value: JSONValue
    /// Line (1-based) of each key set at the top level, or of the table header that opened it.
    public let lines: [String: Int]
}

/// Where and why a TOML document is malformed.
public struct TOMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A table under construction, with what TOML's rules need to know about how it was made.
private final class TableNode {
    enum Origin {
        /// Created as a parent by a `[a.b]` header; may still be defined by its own header once.
        case implicit
        /// Defined by its own `[header]`.
        case header
        /// Created by a dotted key (`a.b = 1`); a header may not define it later.
        case dotted
        /// An inline table `{ … }`, closed once written.
        case inline
        /// An element of an array of tables.
        case arrayElement
    }

    var origin: Origin
    var keys: [String] = []
    var values: [String: Entry] = [:]

    init(origin: Origin) {
        self.origin = origin
    }

    enum Entry {
        case value(JSONValue)
        case table(TableNode)
        /// An array of tables (`[[name]]`); appended to by later headers.
        case tableArray([TableNode])
    }

    func set(_ key: String, _ entry: Entry) {
        if values[key] == nil { keys.append(key) }
        values[key] = entry
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [:]
        for key in keys {
            switch values[key]! {
            case .value(let value): object[key] = value
            case .table(let table): object[key] = table.json
            case .tableArray(let tables): object[key] = .array(tables.map(\.json))
            }
        }
        return .object(object)
    }
}

private struct TOMLParser {
    let scalars: [Unicode.Scalar]
    var index = 0
    var line = 1
    var lineStart = 0
    var depth = 0

    let root = TableNode(origin: .header)
    /// The table key/value lines currently go into.
    var current: TableNode
    var topLevelLines: [String: Int] = [:]
    /// The top-level key the current table header starts with (for ``TOMLDocument/lines``).
    var currentTopKey: String?

    init(_ scalars: [Unicode.Scalar]) {
        self.scalars = scalars
        current = root
    }

    // MARK: - Errors and cursor

    func error(_ message: String) -> TOMLError {
        TOMLError(line: line, column: index - lineStart + 1, message: message)
    }

    var atEnd: Bool { index >= scalars.count }
    var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            lineStart = index + 1
        }
        index += 1
    }

    func describe(_ scalar: Unicode.Scalar?) -> String {
        guard let scalar else { return "the end of the file" }
        switch scalar {
        case "\n": return "a line break"
        case "\r": return "a carriage return"
        case "\t": return "a tab"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                return "control character U+\(String(format: "%04X", scalar.value))"
            }
            return "'\(Character(scalar))'"
        }
    }

    mutating func skipWhitespace() {
        while let scalar = peek, scalar == " " || scalar == "\t" { advance() }
    }

    /// Whitespace, then an optional comment, then a line break or the end.
    mutating func endOfLine() throws(TOMLError) {
        skipWhitespace()
        if peek == "#" { try comment() }
        guard let scalar = peek else { return }
        if scalar == "\n" {
            advance()
            return
        }
        if scalar == "\r", peek(1) == "\n" {
            advance()
            advance()
            return
        }
        throw error("expected the end of the line, found \(describe(scalar))")
    }

    mutating func comment() throws(TOMLError) {
        advance()  // '#'
        while let scalar = peek, scalar != "\n" {
            if scalar == "\r" && peek(1) == "\n" { return }
            if isControl(scalar) && scalar != "\t" { throw error("\(describe(scalar)) is not allowed in a comment") }
            advance()
        }
    }

    func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F
    }

    // MARK: - Document

    mutating func document() throws(TOMLError) -> TOMLDocument {
        while !atEnd {
            skipWhitespace()
            guard let scalar = peek else { break }
            switch scalar {
            case "\n", "\r", "#":
                try endOfLine()
            case "[":
                try tableHeader()
            default:
                try keyValue(into: current, topLevel: current === root)
                try endOfLine()
            }
        }
        return TOMLDocument(value: root.json, lines: topLevelLines)
    }

    mutating func tableHeader() throws(TOMLError) {
        let headerLine = line
        advance()  // '['
        let isArray = peek == "["
        if isArray { advance() }
        skipWhitespace()
        let path = try key()
        skipWhitespace()
        guard peek == "]" else { throw error("expected ']' to close the table header, found \(describe(peek))") }
        advance()
        if isArray {
            guard peek == "]" else { throw error("expected ']]' to close the array-of-tables header") }
            advance()
        }
        if topLevelLines[path[0]] == nil { topLevelLines[path[0]] = headerLine }
        currentTopKey = path[0]
        // Walk to the parent, creating implicit tables.
        var table = root
        for (position, component) in path.dropLast().enumerated() {
            switch table.values[component] {
            case nil:
                let child = TableNode(origin: .implicit)
                table.set(component, .table(child))
                table = child
            case .table(let child):
                guard child.origin != .inline else {
                    throw error("`\(dotted(path.prefix(position + 1)))` is an inline table and cannot be extended")
                }
                table = child
            case .tableArray(let tables):
                table = tables[tables.count - 1]
            case .value:
                throw error("`\(dotted(path.prefix(position + 1)))` is already a value, not a table")
            }
        }
        let last = path[path.count - 1]
        if isArray {
            switch table.values[last] {
            case nil:
                let element = TableNode(origin: .arrayElement)
                table.set(last, .tableArray([element]))
                current = element
            case .tableArray(var tables):
                let element = TableNode(origin: .arrayElement)
                tables.append(element)
                table.set(last, .tableArray(tables))
                current = element
            default:
                throw error("`\(dotted(path))` is already defined and is not an array of tables")
            }
        } else {
            switch table.values[last] {
            case nil:
                let child = TableNode(origin: .header)
                table.set(last, .table(child))
                current = child
            case .table(let child) where child.origin == .implicit:
                child.origin = .header
                current = child
            default:
                throw error("table `\(dotted(path))` is defined more than once")
            }
        }
        try endOfLine()
    }

    func dotted<C: Collection>(_ path: C) -> String where C.Element == String {
        path.map { bareKeyAllowed($0) ? $0 : "\"\($0)\"" }.joined(separator: ".")
    }

    func bareKeyAllowed(_ key: String) -> Bool {
        !key.isEmpty && key.unicodeScalars.allSatisfy(isBareKeyScalar)
    }

    func isBareKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "-", "_": return true
        default: return false
        }
    }

    // MARK: - Keys and values

    /// A (possibly dotted) key.
    mutating func key() throws(TOMLError) -> [String] {
        var parts = [try simpleKey()]
        while true {
            let save = (index, line, lineStart)
            skipWhitespace()
            guard peek == "." else {
                (index, line, lineStart) = save
                return parts
            }
            advance()
            skipWhitespace()
            parts.append(try simpleKey())
            guard parts.count <= TOML.maximumKeyParts else { throw error("a key has more than 16 dotted parts") }
        }
    }

    mutating func simpleKey() throws(TOMLError) -> String {
        switch peek {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { throw error("a key cannot be a multi-line string") }
            return try basicString()
        case "'":
            if peek(1) == "'" && peek(2) == "'" { throw error("a key cannot be a multi-line string") }
            return try literalString()
        default:
            var key = ""
            while let scalar = peek, isBareKeyScalar(scalar) {
                key.unicodeScalars.append(scalar)
                advance()
            }
            guard !key.isEmpty else {
                throw error("expected a key (letters, digits, '-', '_' or a quoted string), found \(describe(peek))")
            }
            return key
        }
    }

    /// `key = value`, stored in `table` (dotted keys create sub-tables).
    mutating func keyValue(into table: TableNode, topLevel: Bool) throws(TOMLError) {
        let keyLine = line
        let path = try key()
        skipWhitespace()
        guard peek == "=" else { throw error("expected '=' after the key `\(dotted(path))`, found \(describe(peek))") }
        advance()
        skipWhitespace()
        let value = try self.value()
        var target = table
        for (position, component) in path.dropLast().enumerated() {
            switch target.values[component] {
            case nil:
                let child = TableNode(origin: .dotted)
                target.set(component, .table(child))
                target = child
            case .table(let child) where child.origin == .dotted || child.origin == .implicit:
                if child.origin == .implicit { child.origin = .dotted }
                target = child
            default:
                throw error("`\(dotted(path.prefix(position + 1)))` is already defined and cannot be extended here")
            }
        }
        let last = path[path.count - 1]
        guard target.values[last] == nil else { throw error("key `\(dotted(path))` is defined more than once") }
        target.set(last, value)
        if topLevel && topLevelLines[path[0]] == nil { topLevelLines[path[0]] = keyLine }
    }

    mutating func value() throws(TOMLError) -> TableNode.Entry {
        guard let scalar = peek else { throw error("expected a value, found the end of the file") }
        switch scalar {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return .value(.string(try multilineBasicString())) }
            return .value(.string(try basicString()))
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return .value(.string(try multilineLiteralString())) }
            return .value(.string(try literalString()))
        case "[":
            return .value(try array())
        case "{":
            return .table(try inlineTable())
        case "t", "f":
            return .value(.bool(try boolean()))
        default:
            return .value(try numberOrDate())
        }
    }

    mutating func boolean() throws(TOMLError) -> Bool {
        let word = bareWord()
        switch word {
        case "true": return true
        case "false": return false
        default: throw error("'\(word.prefix(30))' is not a value (strings need quotes)")
        }
    }

    /// Letters, digits and the punctuation numbers and dates use, up to a delimiter.
    mutating func bareWord() -> String {
        var word = ""
        while let scalar = peek {
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", "-", "+", ".", ":":
                word.unicodeScalars.append(scalar)
                advance()
            case " " where isDateTimeSeparator(word):
                // `1979-05-27 07:32:00` — a space may separate date and time.
                guard let next = peek(1), ("0"..."9").contains(next) else { return word }
                word.unicodeScalars.append("T")
                advance()
            default:
                return word
            }
        }
        return word
    }

    func isDateTimeSeparator(_ word: String) -> Bool {
        word.count == 10 && TOMLDates.isDate(word)
    }

    mutating func numberOrDate() throws(TOMLError) -> JSONValue {
        let start = (index, line, lineStart)
        let word = bareWord()
        guard !word.isEmpty else { throw error("expected a value, found \(describe(peek))") }
        if let number = TOMLNumbers.integer(word) { return .int(number) }
        if let number = TOMLNumbers.float(word) { return .double(number) }
        if TOMLDates.isDateTime(word) { return .string(word) }
        (index, line, lineStart) = start
        if TOMLNumbers.looksLikeInteger(word) { throw error("'\(word.prefix(30))' does not fit a 64-bit integer") }
        throw error("'\(word.prefix(30))' is not a value (strings need quotes)")
    }

    mutating func array() throws(TOMLError) -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        guard depth <= TOML.maximumDepth else { throw error("arrays and tables nest more than 32 deep") }
        advance()  // '['
        var items: [JSONValue] = []
        while true {
            try skipArrayWhitespace()
            if peek == "]" {
                advance()
                return .array(items)
            }
            switch try value() {
            case .value(let item): items.append(item)
            case .table(let table): items.append(table.json)
            case .tableArray: throw error("unexpected array of tables")
            }
            try skipArrayWhitespace()
            switch peek {
            case ",": advance()
            case "]":
                advance()
                return .array(items)
            default: throw error("expected ',' or ']' in the array, found \(describe(peek))")
            }
        }
    }

    /// Whitespace, line breaks and comments inside an array.
    mutating func skipArrayWhitespace() throws(TOMLError) {
        while let scalar = peek {
            switch scalar {
            case " ", "\t", "\n": advance()
            case "\r" where peek(1) == "\n":
                advance()
                advance()
            case "#": try comment()
            default: return
            }
        }
    }

    mutating func inlineTable() throws(TOMLError) -> TableNode {
        depth += 1
        defer { depth -= 1 }
        guard depth <= TOML.maximumDepth else { throw error("arrays and tables nest more than 32 deep") }
        advance()  // '{'
        let table = TableNode(origin: .dotted)
        skipWhitespace()
        if peek == "}" {
            advance()
            table.origin = .inline
            return table
        }
        while true {
            skipWhitespace()
            try keyValue(into: table, topLevel: false)
            skipWhitespace()
            switch peek {
            case ",": advance()
            case "}":
                advance()
                close(table)
                return table
            default: throw error("expected ',' or '}' in the inline table, found \(describe(peek))")
            }
        }
    }

    /// Marks an inline table and every table inside it closed.
    func close(_ table: TableNode) {
        table.origin = .inline
        for entry in table.values.values {
            if case .table(let child) = entry { close(child) }
        }
    }

    // MARK: - Strings

    mutating func basicString() throws(TOMLError) -> String {
        try singleLineString(quote: "\"", escapes: true)
    }

    mutating func literalString() throws(TOMLError) -> String {
        try singleLineString(quote: "'", escapes: false)
    }

    /// A one-line string delimited by `quote`; with `escapes` (basic strings) a `\` starts an
    /// escape, without (literal strings) it is a character like any other.
    mutating func singleLineString(quote: Unicode.Scalar, escapes: Bool) throws(TOMLError) -> String {
        advance()  // the opening quote
        var text = ""
        while true {
            guard let scalar = peek else { throw error("the string is not closed before the end of the file") }
            switch scalar {
            case quote:
                advance()
                return text
            case "\\" where escapes:
                text.unicodeScalars.append(try escape())
            case "\n", "\r":
                throw error("the string is not closed before the end of the line")
            default:
                if isControl(scalar) && scalar != "\t" { throw error("\(describe(scalar)) is not allowed in a string") }
                text.unicodeScalars.append(scalar)
                advance()
            }
        }
    }

    mutating func escape() throws(TOMLError) -> Unicode.Scalar {
        advance()  // '\'
        guard let scalar = peek else { throw error("the string is not closed before the end of the file") }
        advance()
        switch scalar {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u": return try unicodeEscape(digits: 4)
        case "U": return try unicodeEscape(digits: 8)
        default: throw error("'\\\(Character(scalar))' is not an escape sequence")
        }
    }

    mutating func unicodeEscape(digits: Int) throws(TOMLError) -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let scalar = peek, let digit = Character(scalar).hexDigitValue, scalar.isASCII else {
                throw error("a \\\(digits == 4 ? "u" : "U") escape needs \(digits) hex digits")
            }
            value = value * 16 + UInt32(digit)
            advance()
        }
        guard let result = Unicode.Scalar(value) else {
            throw error("U+\(String(format: "%X", value)) is not a Unicode scalar value")
        }
        return result
    }

    /// A line break right after the opening delimiter is not part of a multi-line string.
    mutating func trimOpeningNewline() {
        if peek == "\n" {
            advance()
        } else if peek == "\r", peek(1) == "\n" {
            advance()
            advance()
        }
    }

    mutating func multilineBasicString() throws(TOMLError) -> String {
        try multilineString(quote: "\"") { (parser: inout TOMLParser, text: inout String) throws(TOMLError) in
            // A line-ending backslash trims the break and the whitespace that follows; any
            // other backslash starts an escape.
            var probe = 1
            while let next = parser.peek(probe), next == " " || next == "\t" { probe += 1 }
            guard parser.peek(probe) == "\n" || (parser.peek(probe) == "\r" && parser.peek(probe + 1) == "\n") else {
                text.unicodeScalars.append(try parser.escape())
                return
            }
            for _ in 0..<probe { parser.advance() }
            while let next = parser.peek {
                if next == " " || next == "\t" || next == "\n" {
                    parser.advance()
                } else if next == "\r" && parser.peek(1) == "\n" {
                    parser.advance()
                    parser.advance()
                } else {
                    break
                }
            }
        }
    }

    mutating func multilineLiteralString() throws(TOMLError) -> String {
        try multilineString(quote: "'", backslash: nil)
    }

    /// A multi-line string delimited by three `quote`s. `backslash` handles a `\` (basic
    /// strings); without it a backslash is a character like any other (literal strings).
    mutating func multilineString(
        quote: Unicode.Scalar, backslash: ((inout TOMLParser, inout String) throws(TOMLError) -> Void)? = nil
    ) throws(TOMLError) -> String {
        for _ in 0..<3 { advance() }
        trimOpeningNewline()
        var text = ""
        while true {
            guard let scalar = peek else {
                throw error("the multi-line string is not closed before the end of the file")
            }
            switch scalar {
            case quote where peek(1) == quote && peek(2) == quote:
                // Up to two quotes may end the content right before the closing delimiter.
                var extra = 0
                while peek(3 + extra) == quote && extra < 2 { extra += 1 }
                for _ in 0..<extra { text.unicodeScalars.append(quote) }
                for _ in 0..<(3 + extra) { advance() }
                return text
            case "\\" where backslash != nil:
                try backslash!(&self, &text)
            case "\n":
                text.unicodeScalars.append(scalar)
                advance()
            case "\r":
                guard peek(1) == "\n" else { throw error("a lone carriage return is not allowed in a string") }
                text.unicodeScalars.append("\n")
                advance()
                advance()
            default:
                if isControl(scalar) && scalar != "\t" { throw error("\(describe(scalar)) is not allowed in a string") }
                text.unicodeScalars.append(scalar)
                advance()
            }
        }
    }
}

/// TOML's integer and float spellings.
enum TOMLNumbers {
    static func integer(_ word: String) -> Int? {
        var text = Substring(word)
        var radix = 10
        var negative = false
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            radix = text.hasPrefix("0x") ? 16 : text.hasPrefix("0o") ? 8 : 2
            text = text.dropFirst(2)
        } else {
            if text.first == "+" || text.first == "-" {
                negative = text.first == "-"
                text = text.dropFirst()
            }
            // No leading zeros in decimals ("0" itself is fine).
            if text.count > 1 && text.first == "0" { return nil }
        }
        guard let digits = digitsWithUnderscores(text, radix: radix) else { return nil }
        guard let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int(Int64.min) }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int(magnitude)
    }

    /// Whether `word` is an integer's spelling (used to say "too large" rather than "not a value").
    static func looksLikeInteger(_ word: String) -> Bool {
        var text = Substring(word)
        if text.first == "+" || text.first == "-" { text = text.dropFirst() }
        return !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "_") }
    }

    /// `text` without underscores, when each underscore sits between two digits of `radix`.
    static func digitsWithUnderscores(_ text: Substring, radix: Int) -> String? {
        guard !text.isEmpty else { return nil }
        var result = ""
        var previousWasDigit = false
        for character in text {
            if character == "_" {
                guard previousWasDigit else { return nil }
                previousWasDigit = false
                continue
            }
            guard character.isASCII, let digit = character.hexDigitValue, digit < radix else { return nil }
            result.append(character)
            previousWasDigit = true
        }
        return previousWasDigit ? result : nil
    }

    static func float(_ word: String) -> Double? {
        var text = Substring(word)
        var sign = 1.0
        if text.first == "+" || text.first == "-" {
            sign = text.first == "-" ? -1 : 1
            text = text.dropFirst()
        }
        if text == "inf" { return sign * .infinity }
        if text == "nan" { return .nan }
        // integer part, then a fraction and/or an exponent.
        let exponentIndex = text.firstIndex { $0 == "e" || $0 == "E" }
        let mantissa = exponentIndex.map { text[..<$0] } ?? text
        var exponent: Substring?
        if let exponentIndex { exponent = text[text.index(after: exponentIndex)...] }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let whole = parts[0]
        guard let wholeDigits = digitsWithUnderscores(whole, radix: 10) else { return nil }
        if wholeDigits.count > 1 && wholeDigits.first == "0" { return nil }
        var literal = wholeDigits
        if parts.count == 2 {
            guard let fraction = digitsWithUnderscores(parts[1], radix: 10) else { return nil }
            literal += "." + fraction
        }
        if var exponent {
            var exponentSign = ""
            if exponent.first == "+" || exponent.first == "-" {
                exponentSign = exponent.first == "-" ? "-" : ""
                exponent = exponent.dropFirst()
            }
            guard let digits = digitsWithUnderscores(exponent, radix: 10) else { return nil }
            literal += "e" + exponentSign + digits
        } else if parts.count < 2 {
            return nil  // an integer, not a float
        }
        guard let value = Double(literal) else { return nil }
        return sign * value
    }
}

/// TOML's date and time spellings (kept as text).
enum TOMLDates {
    static func digits(_ text: Substring, _ count: Int) -> Int? {
        guard text.count == count, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    static func isDate(_ text: String) -> Bool {
        isDate(Substring(text))
    }

    static func isDate(_ text: Substring) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = digits(parts[0], 4), let month = digits(parts[1], 2),
            let day = digits(parts[2], 2), (1...12).contains(month), day >= 1
        else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    static func isTime(_ text: Substring) -> Bool {
        var text = text
        if let dot = text.firstIndex(of: ".") {
            let fraction = text[text.index(after: dot)...]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            text = text[..<dot]
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let hour = digits(parts[0], 2), let minute = digits(parts[1], 2),
            let second = digits(parts[2], 2)
        else { return false }
        return hour <= 23 && minute <= 59 && second <= 60
    }

    static func isOffset(_ text: Substring) -> Bool {
        if text == "Z" || text == "z" { return true }
        guard text.first == "+" || text.first == "-" else { return false }
        let parts = text.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let hour = digits(parts[0], 2), let minute = digits(parts[1], 2) else { return false }
        return hour <= 23 && minute <= 59
    }

    /// A local date, a local time, a local date-time or an offset date-time.
    static func isDateTime(_ word: String) -> Bool {
        let text = Substring(word)
        if isDate(text) || isTime(text) { return true }
        guard let separator = text.firstIndex(where: { $0 == "T" || $0 == "t" }) else { return false }
        guard isDate(text[..<separator]) else { return false }
        var time = text[text.index(after: separator)...]
        if let zone = time.lastIndex(where: { $0 == "Z" || $0 == "z" || $0 == "+" || $0 == "-" }) {
            guard isOffset(time[zone...]) else { return false }
            time = time[..<zone]
        }
        return isTime(time)
    }
}
