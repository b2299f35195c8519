import CCCICore
import Foundation
import GRDB

/// A recipe as the dashboard's matrix shows it: its newest run and its recent levels.
public struct RecipeStatus: Sendable, Hashable, Codable {
    public let recipe: String
    /// The newest run (its level and tier verdicts are the recipe's current ones).
    public let latest: RunSummary
    /// The levels of its newest runs, oldest first (at most the trend length asked for).
    public let trend: [Int]

    public init(recipe: String, latest: RunSummary, trend: [Int]) {
        self.recipe = recipe
        self.latest = latest
        self.trend = trend
    }
}

extension SQLiteStore {
    /// Every recipe with a recorded run, by name, with its newest run and the levels of its last
    /// `trend` runs. One walk of the `(recipe, startedAt)` index per recipe, never a scan of the
    /// whole history.
    public func recipeMatrix(trend: Int = 10) async throws -> [RecipeStatus] {
        do {
            return try await writer.read { db in
                guard try db.tableExists("run") else { return [] }
                let recipes = try String.fetchAll(db, sql: "SELECT DISTINCT recipe FROM run ORDER BY recipe")
                return try recipes.compactMap { recipe in
                    let runs = try RunRow.filter(RunRecord.Columns.recipe == recipe)
                        .order(RunRecord.Columns.startedAt.desc).limit(max(1, trend)).fetchAll(db)
                    guard let newest = runs.first, let latest = try Self.summaries(of: [newest], in: db).first else {
                        return nil
                    }
                    return RecipeStatus(recipe: recipe, latest: latest, trend: runs.reversed().map(\.level))
                }
            }
        } catch {
            throw StoreError(path: path, operation: "read", underlying: error)
        }
    }
}
