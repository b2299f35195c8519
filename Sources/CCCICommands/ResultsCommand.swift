import ArgumentParser
import CCCICore
import CCCIStore
import Foundation

/// `ccci results`: run history from the store.
struct ResultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results", abstract: "List past runs with their level and per-tier verdicts.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only runs of this recipe.")
    var recipe: String?

    @Option(help: "How many runs to list.")
    var limit = 20

    @Option(help: "Print one run's full results document.")
    var run: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let config = try global.loadConfig()
        let store: any RunHistory
        do {
            store = try await Store.openForReading(config)
        } catch {
            if error.reason == nil && run == nil {
                print("no runs recorded yet (\(config.storeLocation) does not exist)")
                return
            }
            throw CommandFailure(error.description)
        }
        if let run = self.run {
            guard let results = try await store.results(runID: run) else {
                throw CommandFailure(
                    "no run \(run) in \(config.storeLocation) — `ccci results` lists the recorded runs")
            }
            print(String(decoding: try results.encoded(), as: UTF8.self))
            return
        }
        let runs = try await store.runs(recipe: recipe, limit: limit)
        if json {
            print(String(decoding: try JSONCoding.prettyEncoder.encode(runs), as: UTF8.self))
            return
        }
        if runs.isEmpty {
            print("no runs\(recipe.map { " of \($0)" } ?? "") recorded in \(config.storeLocation)")
            return
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: "UTC")
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        let outcomeWidth = max(9, runs.map(\.outcome.rawValue.count).max() ?? 0)
        let tierWidth = max(9, Tier.defaultStages.map(\.rawValue.count).max() ?? 0)
        print(
            "\(pad("started (UTC)", 17)) \(pad("recipe", 12)) \(pad("head", 10)) \(pad("outcome", outcomeWidth)) level  "
                + Tier.defaultStages.map { pad($0.rawValue, tierWidth) }.joined(separator: " ") + "  run")
        for run in runs {
            let tiers = Tier.defaultStages.map { tier in
                pad(run.tiers[tier.rawValue]?.rawValue ?? "-", tierWidth)
            }
            print(
                "\(pad(formatter.string(from: run.startedAt), 17)) \(pad(run.recipe, 12)) "
                    + "\(pad(String(run.headCommit.prefix(8)), 10)) \(pad(run.outcome.rawValue, outcomeWidth)) "
                    + "\(pad("L\(run.level)", 5))  \(tiers.joined(separator: " "))  \(run.runID)")
        }
    }
}
