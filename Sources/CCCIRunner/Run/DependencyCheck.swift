import CCCICore
import Foundation

/// A recipe's `dependencies` as this node can deploy them: recipes of its catalogue
/// (``NodeConfig/catalogueRecipes``), none the recipe itself, no cycle.
struct DependencyCheck: Sendable {
    let config: NodeConfig

    /// Every dependency must be a catalogue recipe other than the recipe itself.
    func check(dependencies: [String], of recipe: String) throws(RunSetupError) {
        let known = config.catalogueRecipes
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

    /// A dependency cycle, found through the node's packs (`<packs>/<recipe>/ccci.toml`): the
    /// recipe's `dependencies`, theirs, and so on. Exit 2 naming the cycle (`a → b → a`).
    func checkCycles(of recipe: String, dependencies: [String]) throws(RunSetupError) {
        func dependenciesOf(_ name: String) -> [String] {
            if name == recipe { return dependencies }
            let pack = config.packsDirectory.appendingPathComponent(name)
            return (try? MetaLoader.load(packDirectories: [pack]))?.dependencies ?? []
        }
        var path: [String] = []
        var done: Set<String> = []
        func visit(_ name: String) -> [String]? {
            if let start = path.firstIndex(of: name) { return Array(path[start...]) + [name] }
            guard !done.contains(name) else { return nil }
            path.append(name)
            defer { path.removeLast() }
            for next in dependenciesOf(name) {
                if let cycle = visit(next) { return cycle }
            }
            done.insert(name)
            return nil
        }
        if let cycle = visit(recipe) {
            throw .recipe(
                "dependency cycle: \(cycle.joined(separator: " → ")) — a recipe cannot be deployed before itself; "
                    + "remove one of these from `dependencies`")
        }
    }
}
