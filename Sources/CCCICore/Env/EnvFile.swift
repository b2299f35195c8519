import Foundation

/// A dotenv file as abra reads it (`.env.sample`, an app's `<domain>.env`).
///
/// Supports `KEY=value`, `export KEY=value`, single quotes (literal), double quotes (escapes and
/// expansion), unquoted values with trailing ` # comment`, and `$VAR` / `${VAR}` expansion from
/// keys defined earlier in the file. The comment after a value carries abra's modifiers
/// (`SECRET_DB_PASSWORD_VERSION=v1 # length=32`). Comment lines and blank lines are kept so an
/// edited file renders back with its layout intact.
public struct EnvFile: Sendable, Hashable {
    /// One `KEY=value` line.
    public struct Entry: Sendable, Hashable {
        public var key: String
        /// The value with quotes removed and `$VAR` references expanded.
        public var value: String
        /// `key=value` pairs from the trailing comment (`length=32`).
        public var modifiers: [String: String]
        /// The trailing comment text, without `#`.
        public var comment: String?
        /// 1-based line number in the source file (0 for entries added later).
        public var line: Int
    }

    /// A line of the file: an entry, or anything else kept verbatim.
    public enum Line: Sendable, Hashable {
        case entry(Entry)
        case verbatim(String)
    }

    public private(set) var lines: [Line]

    public init(lines: [Line] = []) {
        self.lines = lines
    }

    /// The entries in file order (a key set twice appears twice; the last one wins in ``values``).
    public var entries: [Entry] {
        lines.compactMap { if case .entry(let entry) = $0 { return entry } else { return nil } }
    }

    /// The effective key → value map (last assignment wins).
    public var values: [String: String] {
        var result: [String: String] = [:]
        for entry in entries { result[entry.key] = entry.value }
        return result
    }

    /// The last entry for `key`.
    public func entry(_ key: String) -> Entry? {
        entries.last { $0.key == key }
    }

    public subscript(key: String) -> String? {
        entry(key)?.value
    }

    /// Sets `key` to `value`: rewrites the last line assigning it, or appends a new line.
    public mutating func set(_ key: String, _ value: String) {
        if let index = lines.lastIndex(where: {
            if case .entry(let e) = $0 { return e.key == key } else { return false }
        }),
            case .entry(var entry) = lines[index]
        {
            entry.value = value
            lines[index] = .entry(entry)
        } else {
            lines.append(.entry(Entry(key: key, value: value, modifiers: [:], comment: nil, line: 0)))
        }
    }

    /// Renders the file back to text; values are double-quoted when they need to be.
    public func rendered() -> String {
        var output = ""
        for line in lines {
            switch line {
            case .verbatim(let text):
                output += text
            case .entry(let entry):
                output += "\(entry.key)=\(Self.quoted(entry.value))"
                if let comment = entry.comment { output += " #\(comment)" }
            }
            output += "\n"
        }
        return output
    }

    static func quoted(_ value: String) -> String {
        let multiline = value.contains { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        let needsQuotes = value.isEmpty ? false : (multiline || value.contains { " #\"'$\\`\t".contains($0) })
        guard needsQuotes else { return value }
        // Single quotes keep `$` literal, so a rendered value re-reads as the same value; a value
        // with line breaks needs double quotes and `\n` escapes to stay on one line.
        if !value.contains("'") && !multiline { return "'\(value)'" }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "$", with: "\\$")
            .replacingOccurrences(of: "\r\n", with: "\\n")
            .replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\n")
        return "\"\(escaped)\""
    }

    /// Parses dotenv text. `source` names the file in errors.
    public static func parse(_ text: String, source: String) throws(EnvError) -> EnvFile {
        var lines: [Line] = []
        var known: [String: String] = [:]
        // "\r\n" is one Character in Swift: split on both line endings.
        var rawLines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if rawLines.last?.isEmpty == true { rawLines.removeLast() }  // the file's final newline
        for (index, rawLine) in rawLines.enumerated() {
            let number = index + 1
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                lines.append(.verbatim(line))
                continue
            }
            var body = Substring(trimmed)
            if body.hasPrefix("export ") { body = body.dropFirst("export ".count).drop { $0 == " " } }
            guard let equals = body.firstIndex(of: "=") else {
                throw .malformedLine(source: source, line: number, text: line)
            }
            let key = body[..<equals].trimmingCharacters(in: .whitespaces)
            guard Self.isValidKey(key) else {
                throw .invalidKey(source: source, line: number, key: key)
            }
            let rest = body[body.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            let (value, comment) = try parseValue(rest, known: known, source: source, line: number)
            known[key] = value
            lines.append(
                .entry(
                    Entry(
                        key: key, value: value, modifiers: comment.map(Self.modifiers(in:)) ?? [:],
                        comment: comment, line: number)))
        }
        return EnvFile(lines: lines)
    }

    /// Whether `key` is a variable name a dotenv file may assign (letters, digits, `_` and `.`,
    /// not starting with a digit).
    public static func isValidKey(_ key: String) -> Bool {
        guard let first = key.first, first.isLetter || first == "_" else { return false }
        return key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
    }

    /// `length=32 charset=special` → `["length": "32", "charset": "special"]`.
    static func modifiers(in comment: String) -> [String: String] {
        var result: [String: String] = [:]
        for token in comment.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            let parts = token.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    private static func parseValue(
        _ text: Substring, known: [String: String], source: String, line: Int
    ) throws(EnvError) -> (String, String?) {
        guard let first = text.first else { return ("", nil) }
        if first == "'" || first == "\"" {
            var value = ""
            var index = text.index(after: text.startIndex)
            var closed = false
            while index < text.endIndex {
                let character = text[index]
                if character == first {
                    closed = true
                    break
                }
                if first == "\"", character == "\\", text.index(after: index) < text.endIndex {
                    index = text.index(after: index)
                    switch text[index] {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "$": value.append("\u{0}")  // escaped dollar: kept literal through expansion
                    default: value.append(text[index])
                    }
                } else {
                    value.append(character)
                }
                index = text.index(after: index)
            }
            guard closed else { throw .unterminatedQuote(source: source, line: line) }
            let after = text[text.index(after: index)...].trimmingCharacters(in: .whitespaces)
            let comment = after.hasPrefix("#") ? String(after.dropFirst()) : nil
            if first == "'" { return (value, comment) }
            return (expand(value, known: known).replacingOccurrences(of: "\u{0}", with: "$"), comment)
        }
        var value = String(text)
        var comment: String?
        if let hash = value.range(of: " #") ?? value.range(of: "\t#") {
            comment = String(value[hash.upperBound...])
            value = String(value[..<hash.lowerBound])
        } else if value.hasPrefix("#") {
            comment = String(value.dropFirst())
            value = ""
        }
        return (expand(value.trimmingCharacters(in: .whitespaces), known: known), comment)
    }

    /// Expands `$VAR` and `${VAR}` from earlier keys. An undefined `$COMPOSE_FILE` stands for
    /// abra's default `compose.yml`, so `COMPOSE_FILE="$COMPOSE_FILE:compose.smtp.yml"` means
    /// what its author meant even when it is the first assignment.
    static func expand(_ value: String, known: [String: String]) -> String {
        guard value.contains("$") else { return value }
        var output = ""
        var index = value.startIndex
        while index < value.endIndex {
            let character = value[index]
            guard character == "$" else {
                output.append(character)
                index = value.index(after: index)
                continue
            }
            var nameStart = value.index(after: index)
            var braced = false
            if nameStart < value.endIndex, value[nameStart] == "{" {
                braced = true
                nameStart = value.index(after: nameStart)
            }
            var nameEnd = nameStart
            while nameEnd < value.endIndex, value[nameEnd].isASCII,
                value[nameEnd].isLetter || value[nameEnd].isNumber || value[nameEnd] == "_"
            {
                nameEnd = value.index(after: nameEnd)
            }
            let name = String(value[nameStart..<nameEnd])
            if name.isEmpty || (braced && (nameEnd == value.endIndex || value[nameEnd] != "}")) {
                output.append(character)
                index = value.index(after: index)
                continue
            }
            output += known[name] ?? (name == "COMPOSE_FILE" ? AppEnv.defaultComposeFile : "")
            index = braced ? value.index(after: nameEnd) : nameEnd
        }
        return output
    }
}

/// A dotenv file cc-ci cannot read.
public enum EnvError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedLine(source: String, line: Int, text: String)
    case invalidKey(source: String, line: Int, key: String)
    case unterminatedQuote(source: String, line: Int)

    public var description: String {
        switch self {
        case .malformedLine(let source, let line, let text):
            return "\(source):\(line): expected KEY=value, found '\(text)' — comment it out with '#' or add '='"
        case .invalidKey(let source, let line, let key):
            return
                "\(source):\(line): '\(key)' is not a valid variable name (letters, digits and '_', not starting with a digit)"
        case .unterminatedQuote(let source, let line):
            return "\(source):\(line): a quoted value is never closed — add the closing quote"
        }
    }
}
