import CCCICore
import Foundation

/// The recipes this node can run by name: the catalogue directory's repositories and the config's
/// `catalogue` table.
public struct Catalogue: Sendable {
    public let config: NodeConfig

    public init(config: NodeConfig) {
        self.config = config
    }

    public var names: [String] {
        var names = Set(config.catalogueURLs.keys)
        let directory = config.catalogueDirectory
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(entry)/.git").path) {
            names.insert(entry)
        }
        return names.sorted()
    }

    /// Every dependency must be a catalogue recipe other than the recipe itself.
    func check(dependencies: [String], of recipe: String) throws(RunSetupError) {
        let known = names
        for dependency in dependencies {
            if dependency == recipe {
                throw .recipe("recipe \(recipe) lists itself in `dependencies` — a recipe cannot depend on itself")
            }
            guard known.contains(dependency) else {
                var message = "dependency '\(dependency)' of \(recipe) is not a recipe of this node's catalogue"
                if let suggestion = Suggestion.closest(to: dependency, in: known) {
                    message += " — did you mean `\(suggestion)`?"
                } else {
                    message += " (known: \(known.joined(separator: ", ")))"
                }
                throw .recipe(message)
            }
        }
    }
}
