import ArgumentParser
import CCCICore
import CCCIStore
import CCCITestSupport
import Foundation

/// Jobs claimed per second: `jobs` queued jobs (one per pull request, so none waits behind
/// another) claimed and finished by `workers` workers per node — one node on the embedded SQLite
/// store, then two nodes on one PostgreSQL store (a throwaway cluster, or `--postgres URL`).
struct ClaimRate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim", abstract: "Measure jobs claimed per second: SQLite, one node; PostgreSQL, two nodes.")

    @Option(help: "Jobs to queue and claim.")
    var jobs = 2000

    @Option(help: "Workers per node.")
    var workers = 2

    @Option(help: "A PostgreSQL store URL (default: a throwaway cluster).")
    var postgres: String?

    func run() async throws {
        print("store                          nodes  workers   jobs   seconds    jobs/s")
        let sqlite = try await StoreKind.sqliteFile.fixture()
        try await measure("sqlite (one file)", stores: [try await sqlite.open(node: "node-a")])
        let location = try await benchStore(postgres ?? "postgres")
        var config = try sqlite.config(node: "node-a")
        config.store = location
        let a = try await Store.open(config)
        config.node = "node-b"
        let b = try await Store.open(config)
        try await measure("postgres (one database)", stores: [a, b])
    }

    func measure(_ name: String, stores: [any NodeStore]) async throws {
        for index in 0..<jobs {
            _ = try await stores[0].enqueue("recipe\(index % 20)", pr: index, head: "a")
        }
        let clock = ContinuousClock()
        let started = clock.now
        let count = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in stores {
                for _ in 0..<workers {
                    group.addTask {
                        var claimed = 0
                        while let job = try await store.claimNext() {
                            try await store.updateJob(job.number) { job, _ in job.state = .passed }
                            claimed += 1
                        }
                        return claimed
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let seconds = (clock.now - started) / .seconds(1)
        guard count == jobs else { throw ValidationError("\(count) of \(jobs) jobs claimed") }
        print(
            String(
                format: "%@ %5d %8d %6d %9.2f %9.0f", name.padding(toLength: 30, withPad: " ", startingAt: 0),
                stores.count, workers, jobs, seconds, Double(jobs) / seconds))
    }
}

/// The store a benchmark names: `sqlite` (`nil`: the harness' own file), `postgres` (a database on
/// a throwaway cluster), or a store URL.
func benchStore(_ text: String) async throws -> NodeConfig.StoreLocation? {
    switch text {
    case "sqlite": return nil
    case "postgres":
        let cluster = try await PostgresCluster.shared()
        return .postgres(cluster.location(database: try await cluster.createDatabase()))
    default:
        guard let location = try NodeConfig.StoreLocation(url: text) else {
            throw ValidationError("\(text) is not a store URL (sqlite:///…, postgres://…)")
        }
        return location
    }
}
