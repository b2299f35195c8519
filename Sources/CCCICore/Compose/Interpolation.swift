/// Compose-file variable interpolation, as `docker stack deploy` performs it: `$VAR`, `${VAR}`,
/// `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`,
/// `${VAR+alt}`, and `$$` for a literal dollar.
public enum Interpolation {
    /// Interpolates `text` from `environment`. `location` names where the text came from in errors.
    public static func interpolate(
        _ text: String, environment: [String: String], location: String
    ) throws(ComposeError) -> String {
        guard text.contains("$") else { return text }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$" else {
                output.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            guard next < text.endIndex else {
                output.append("$")
                break
            }
            if text[next] == "$" {
                output.append("$")
                index = text.index(after: next)
            } else if text[next] == "{" {
                guard let close = matchingBrace(in: text, from: next) else {
                    throw .invalidInterpolation(location: location, text: text)
                }
                let expression = String(text[text.index(after: next)..<close])
                output += try evaluate(expression, environment: environment, location: location, text: text)
                index = text.index(after: close)
            } else if isNameStart(text[next]) {
                var end = next
                while end < text.endIndex, isNameCharacter(text[end]) { end = text.index(after: end) }
                output += environment[String(text[next..<end])] ?? ""
                index = end
            } else {
                output.append("$")
                index = next
            }
        }
        return output
    }

    /// The variables `text` refers to, in order, as compose would read them: `$$` is a literal
    /// dollar, `$NAME` and `${NAME}` need a value, `${NAME:-default}` does not. References inside a
    /// default (`${A:-${B}}`) are not listed: they only matter when the outer one is unset.
    /// Throws ``ComposeError/invalidInterpolation(location:text:)`` where a deploy would.
    public static func references(in text: String, location: String) throws(ComposeError) -> [VariableReference] {
        guard text.contains("$") else { return [] }
        var references: [VariableReference] = []
        var index = text.startIndex
        while index < text.endIndex {
            guard text[index] == "$" else {
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            guard next < text.endIndex else { break }
            if text[next] == "$" {
                index = text.index(after: next)
            } else if text[next] == "{" {
                guard let close = matchingBrace(in: text, from: next) else {
                    throw .invalidInterpolation(location: location, text: text)
                }
                let expression = text[text.index(after: next)..<close]
                let nameEnd = expression.firstIndex { !isNameCharacter($0) } ?? expression.endIndex
                let name = String(expression[..<nameEnd])
                guard let first = name.first, isNameStart(first) else {
                    throw .invalidInterpolation(location: location, text: text)
                }
                let rest = expression[nameEnd...]
                let op = [":-", ":?", ":+", "-", "?", "+"].first { rest.hasPrefix($0) }
                guard op != nil || rest.isEmpty else { throw .invalidInterpolation(location: location, text: text) }
                references.append(VariableReference(name: name, operator: op))
                index = text.index(after: close)
            } else if isNameStart(text[next]) {
                var end = next
                while end < text.endIndex, isNameCharacter(text[end]) { end = text.index(after: end) }
                references.append(VariableReference(name: String(text[next..<end]), operator: nil))
                index = end
            } else {
                index = next
            }
        }
        return references
    }

    private static func evaluate(
        _ expression: String, environment: [String: String], location: String, text: String
    ) throws(ComposeError) -> String {
        var nameEnd = expression.startIndex
        while nameEnd < expression.endIndex, isNameCharacter(expression[nameEnd]) {
            nameEnd = expression.index(after: nameEnd)
        }
        let name = String(expression[..<nameEnd])
        guard !name.isEmpty, isNameStart(name.first!) else {
            throw .invalidInterpolation(location: location, text: text)
        }
        let rest = expression[nameEnd...]
        let value = environment[name]
        if rest.isEmpty { return value ?? "" }
        let operators = [":-", ":?", ":+", "-", "?", "+"]
        guard let op = operators.first(where: { rest.hasPrefix($0) }) else {
            throw .invalidInterpolation(location: location, text: text)
        }
        let argument = try interpolate(
            String(rest.dropFirst(op.count)), environment: environment, location: location)
        let unsetOrEmpty = value == nil || value!.isEmpty
        switch op {
        case ":-": return unsetOrEmpty ? argument : value!
        case "-": return value ?? argument
        case ":+": return unsetOrEmpty ? "" : argument
        case "+": return value == nil ? "" : argument
        case ":?":
            if unsetOrEmpty { throw .requiredVariable(location: location, name: name, message: argument) }
            return value!
        default:
            if value == nil { throw .requiredVariable(location: location, name: name, message: argument) }
            return value!
        }
    }

    private static func matchingBrace(in text: String, from open: String.Index) -> String.Index? {
        var depth = 0
        var index = open
        while index < text.endIndex {
            if text[index] == "{" { depth += 1 }
            if text[index] == "}" {
                depth -= 1
                if depth == 0 { return index }
            }
            index = text.index(after: index)
        }
        return nil
    }

    private static func isNameStart(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character == "_")
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "_")
    }
}

/// One variable a compose value refers to (``Interpolation/references(in:location:)``).
public struct VariableReference: Sendable, Hashable {
    public let name: String
    /// The operator after the name (`:-`, `-`, `:?`, `?`, `:+`, `+`); `nil` for `$NAME` and `${NAME}`.
    public let `operator`: String?

    public init(name: String, operator: String?) {
        self.name = name
        self.operator = `operator`
    }

    /// Whether the value needs the variable set: it has no default (`${NAME}`) or requires it (`${NAME:?msg}`).
    public var needsValue: Bool { `operator` == nil || isRequired }

    /// Whether a deploy fails when the variable is unset (`${NAME:?msg}`, `${NAME?msg}`).
    public var isRequired: Bool { `operator` == ":?" || `operator` == "?" }
}
