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
