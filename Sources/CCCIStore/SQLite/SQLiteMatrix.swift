import CCCICore
import Foundation
import GRDB

extension SQLiteStore {
    /// Nothing: one node's pages read its own run directories.
    public func keep(files: [String: Data], of runID: String) async throws {}

    public var keepsRunFiles: Bool { false }

    /// Every recipe with a recorded run, by name, with its newest run and the levels of its last
    /// runs (``trendLength``): one query over the `recipe_status` rows the writes keep, joined to
    /// their runs — never a walk of the whole history. Rows are read by column, not decoded.
    public func recipeMatrix() async throws -> [RecipeStatus] {
        try await statuses(recipe: nil)
    }

    /// `recipe`'s row of the matrix (`nil`: it has no recorded run): one primary-key read.
    public func recipeStatus(_ recipe: String) async throws -> RecipeStatus? {
        try await statuses(recipe: recipe).first
    }

    /// Where the store's history stands: a number every recorded, changed or removed run moves
    /// (also those another process writes). What was read at one generation holds until it moves.
    public func generation() async throws -> Int64 {
        do {
            // One primary-key read: every open migrates the store, so the table is there.
            return try await writer.read { db in
                try Int64.fetchOne(db, sql: "SELECT value FROM generation WHERE id = 1") ?? 0
            }
        } catch {
            throw StoreError(path: path, operation: "read", underlying: error)
        }
    }

    private func statuses(recipe: String?) async throws -> [RecipeStatus] {
        do {
            return try await writer.read { db in
                guard try db.tableExists("recipe_status") else { return [] }
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT s.tiers, s.trend, r.\(RunColumns.list.replacingOccurrences(of: ", ", with: ", r."))
                        FROM recipe_status s JOIN run r ON r.id = s.runID
                        """ + (recipe == nil ? " ORDER BY s.recipe" : " WHERE s.recipe = ?"),
                    arguments: recipe.map { [$0] } ?? [])
                return rows.map { row in
                    var tiers: [String: TierStatus] = [:]
                    for pair in (row["tiers"] as String).split(separator: ",") {
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        if parts.count == 2 {
                            tiers[String(parts[0])] = TierStatus(rawValue: String(parts[1])) ?? .skip
                        }
                    }
                    let latest = RunColumns.summary(row, tiers: tiers)
                    let trend = (row["trend"] as String).split(separator: ",").compactMap { Int($0) }
                    return RecipeStatus(recipe: row["recipe"], latest: latest, trend: trend)
                }
            }
        } catch {
            throw StoreError(path: path, operation: "read", underlying: error)
        }
    }
}
