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
        let store = try SQLiteStore(path: config.storePath)
        if let run = self.run {
            guard let results = try await store.results(runID: run) else {
                throw ValidationError("no run \(run) in \(config.storePath.path)")
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
            print("no runs\(recipe.map { " of \($0)" } ?? "") recorded in \(config.storePath.path)")
            return
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: "UTC")
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        print(
            "\(pad("started (UTC)", 17)) \(pad("recipe", 12)) \(pad("head", 10)) \(pad("outcome", 9)) level  install upgrade backup restore custom  run"
        )
        for run in runs {
            let tiers = Tier.defaultStages.map { tier in
                pad(run.tiers[tier.rawValue]?.rawValue ?? "-", tier.rawValue.count)
            }
            print(
                "\(pad(formatter.string(from: run.startedAt), 17)) \(pad(run.recipe, 12)) \(pad(String(run.headCommit.prefix(8)), 10)) \(pad(run.outcome, 9)) L\(run.level)     \(tiers.joined(separator: " "))  \(run.runID)"
            )
        }
    }
}
