/// A compose file cc-ci cannot read.
public enum ComposeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case invalidYAML(file: String, reason: String)
    case notAMapping(file: String, key: String)
    case invalidInterpolation(location: String, text: String)
    case requiredVariable(location: String, name: String, message: String)
    case missingFile(file: String, recipe: String)
    case noServices(files: [String])
    /// A path in the recipe (a compose file, a config or secret `file:`) that leaves it.
    case unsafePath(ContainmentError)
    case tooLarge(file: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "cannot read compose file \(file): \(reason)"
        case .invalidYAML(let file, let reason):
            return "compose file \(file) is not valid YAML: \(reason)"
        case .notAMapping(let file, let key):
            return "compose file \(file): `\(key)` must be a mapping"
        case .invalidInterpolation(let location, let text):
            return
                "\(location): invalid variable reference in '\(text)' — use ${NAME}, ${NAME:-default} or $$ for a literal $"
        case .requiredVariable(let location, let name, let message):
            return
                "\(location): variable \(name) is required\(message.isEmpty ? "" : " (\(message))") — set it in the app env"
        case .missingFile(let file, let recipe):
            return
                "recipe \(recipe): COMPOSE_FILE names \(file), which does not exist in the recipe — fix COMPOSE_FILE in .env.sample or add the file"
        case .noServices(let files):
            return "compose files \(files.joined(separator: ", ")) declare no services"
        case .unsafePath(let error):
            return error.description
        case .tooLarge(let file):
            return "compose file \(file) is larger than 1 MiB — a compose file is a few kilobytes"
        }
    }
}
