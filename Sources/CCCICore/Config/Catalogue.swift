import Foundation

extension NodeConfig {
    /// The recipes cloned in the catalogue directory (`<catalogue_dir>/<recipe>/.git`).
    public var catalogueClones: Set<String> {
        let directory = catalogueDirectory
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return Set(
            entries.filter {
                FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0)/.git").path)
            }
        )
    }

    /// The recipes this node can run by name: the catalogue directory's clones and the config's
    /// `catalogue` table, sorted.
    public var catalogueRecipes: [String] {
        catalogueClones.union(catalogueURLs.keys).sorted()
    }
}
