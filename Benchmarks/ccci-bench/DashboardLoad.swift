import ArgumentParser
import CCCICore
import CCCIServer
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation

/// The dashboard under load: a store seeded with `runs` runs over `recipes` recipes, the real
/// server on loopback, and `wrk` (Debian) at `connections` connections against the matrix, a run
/// page, a badge and the API's run list. Prints each one's latency percentiles and throughput.
struct DashboardLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard", abstract: "Measure dashboard latency (p50, p99) with wrk over a seeded store.")

    @Option(help: "Runs to seed.")
    var runs = 100_000

    @Option(help: "Recipes they are spread over.")
    var recipes = 200

    @Option(help: "wrk connections.")
    var connections = 50

    @Option(help: "Seconds per endpoint.")
    var seconds = 10

    @Option(
        help: ArgumentHelp(
            "The store: `sqlite` (a file in a scratch home), `postgres` (a throwaway cluster), or a store URL.",
            valueName: "store"))
    var store = "sqlite"

    func run() async throws {
        let server = try ServerHarness(recipes: [], store: try await benchStore(store))
        print("store: \(server.storeLocation?.description ?? "sqlite (scratch home)")")
        let store = try await server.store()
        guard try await store.generation() == 0 || self.store == "sqlite" else {
            throw ValidationError("the store \(store.location) is not empty: name an empty database")
        }
        let seeded = ContinuousClock.now
        try await seed(store)
        print("seeded \(runs) runs over \(recipes) recipes in \(ContinuousClock.now - seeded)")
        #if DEBUG
        print(
            "a debug build: the targets are for `swift build -c release --product ccci-bench` (.build/release/ccci-bench)"
        )
        #endif
        try await ForgeStub.with { stub in
            try await withServer(server, stub: stub) { port in
                let base = "http://127.0.0.1:\(port)"
                let run = Self.runID(recipe: (runs / 2) % recipes, index: runs / 2)
                let endpoints: [(String, String, String)] = [
                    ("recipe matrix /", "/", "p99 ≤ 25 ms"),
                    ("run page /runs/<id>", "/runs/\(run)", ""),
                    ("badge /badge/<recipe>.svg", "/badge/\(Self.recipe(7)).svg", "p99 ≤ 10 ms"),
                    ("API /api/v1/runs", "/api/v1/runs?limit=50", ""),
                ]
                print(
                    "endpoint                        p50        p90        p99     req/s   (wrk, \(connections) connections, \(seconds) s)"
                )
                for (name, path, target) in endpoints {
                    let result = try await ProcessRunner().run(
                        Command(
                            "wrk", ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency", base + path]))
                    guard result.succeeded else { throw ValidationError("wrk failed: \(result.tail())") }
                    let stats = WrkOutput(result.output)
                    print(
                        String(
                            format: "%@ %7.2f ms %7.2f ms %7.2f ms %8.0f   %@",
                            name.padding(toLength: 28, withPad: " ", startingAt: 0), stats.percentile("50%"),
                            stats.percentile("90%"), stats.percentile("99%"), stats.requestsPerSecond, target))
                    if stats.errors > 0 { print("  \(stats.errors) non-2xx or socket errors") }
                }
            }
        }
    }

    static func recipe(_ index: Int) -> String { String(format: "recipe-%03d", index) }

    static func runID(recipe: Int, index: Int) -> String {
        String(format: "20260101T000000Z-%@-%06d", Self.recipe(recipe), index)
    }

    /// `runs` runs, round-robin over the recipes, one minute apart, in batches of 5,000.
    func seed(_ store: any NodeStore) async throws {
        let start = Date(timeIntervalSince1970: 1_780_000_000)
        var batch: [RunResults] = []
        for index in 0..<runs {
            let recipe = index % recipes
            let level = (index / recipes) % 5
            var statuses: [Tier: TierStatus] = [:]
            var tiers: [String: TierResult] = [:]
            for (position, tier) in Tier.defaultStages.enumerated() {
                let status: TierStatus = position < level ? .pass : (position == level ? .fail : .skip)
                statuses[tier] = status
                tiers[tier.rawValue] = TierResult(
                    status: status, durationSeconds: 3.5,
                    checks: [Check(name: "converge", status: status, durationSeconds: 1.2)],
                    reason: status == .fail ? "the app answered 502 on its domain" : nil)
            }
            let ladder = LevelLadder.evaluate(statuses: statuses, declaredNA: [], customTestsExecuted: 1)
            let started = start.addingTimeInterval(Double(index) * 60)
            batch.append(
                RunResults(
                    runID: Self.runID(recipe: recipe, index: index), recipe: Self.recipe(recipe), ref: nil,
                    pr: index % 40,
                    headCommit: String(format: "%040x", index), headVersion: "1.\(level).0+2.0",
                    baseVersion: "1.0.0+2.0",
                    driver: "native", mode: "cold", appDomain: "app.ci.bench", upgradeAppDomain: nil,
                    startedAt: started, finishedAt: started.addingTimeInterval(40), outcome: level == 4 ? .pass : .fail,
                    exitCode: level == 4 ? 0 : 1, tiers: tiers, ladder: ladder, deployCount: 2,
                    manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]), flags: [],
                    artifacts: Artifacts(runDirectory: "/nonexistent"), ccciVersion: "bench"))
            if batch.count == 5000 {
                try await store.record(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try await store.record(contentsOf: batch) }
    }
}

/// What `wrk --latency` printed: the latency distribution, throughput and errors.
struct WrkOutput {
    let text: String

    init(_ text: String) { self.text = text }

    /// The latency at `label` (`50%`, `99%`) in milliseconds.
    func percentile(_ label: String) -> Double {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, fields[0] == label else { continue }
            return Self.milliseconds(String(fields[1]))
        }
        return .nan
    }

    var requestsPerSecond: Double {
        text.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? .nan
    }

    var errors: Int {
        var count = 0
        for line in text.split(separator: "\n") {
            if line.contains("Non-2xx or 3xx responses:") { count += Int(line.split(separator: " ").last ?? "") ?? 0 }
            if line.contains("Socket errors:") { count += 1 }
        }
        return count
    }

    static func milliseconds(_ value: String) -> Double {
        for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where value.hasSuffix(unit) {
            return (Double(value.dropLast(unit.count)) ?? .nan) * factor
        }
        return .nan
    }
}
