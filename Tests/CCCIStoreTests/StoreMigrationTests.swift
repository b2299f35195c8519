import CCCICore
import CCCIStore
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

/// `ccci store migrate`: a node's SQLite store copied into a PostgreSQL one — whole, once, and not
/// at all when the copy would be wrong.
@Suite struct StoreMigrationTests {
    /// A node's store with history, a canonical, a sweep, a finished job and a queued one with a
    /// reply waiting for the forge.
    static func seeded(_ store: any NodeStore) async throws {
        let start = StoreContractTests.start
        for (index, recipe) in ["web", "web", "appdb"].enumerated() {
            try await store.record(
                StoreContractTests.results(
                    runID: "r\(index)", recipe: recipe, outcome: .pass, startedAt: start + Double(index) * 60))
        }
        try await store.swapCanonical(expected: nil, with: StoreContractTests.canonical("web", version: "1.0.0+1"))
        try await store.record(
            sweep: SweepRecord(
                id: "sweep-1", startedAt: start, finishedAt: start + 60, dryRun: false, reportJSON: "{}"))
        let finished = try await store.enqueue("web", pr: 1, head: "a")
        _ = try await store.claimNextJob { _ in "r0" }
        try await store.updateJob(finished.number) { job, _ in job.state = .passed }
        let queued = try await store.enqueue("appdb", pr: 2, head: "b")
        _ = try await store.transaction { queue in
            try queue.add(.comment("queued", on: 2, in: "recipes/appdb", job: queued.id))
        }
    }

    @Test(
        "a SQLite store copied into PostgreSQL: history, canonical, sweep, jobs and a waiting reply; again, nothing is copied twice"
    )
    func copies() async throws {
        let sqlite = try await StoreKind.sqliteFile.fixture()
        let postgres = try await StoreKind.postgres.fixture()
        let source = try await sqlite.open(node: "node-a")
        try await Self.seeded(source)
        let target = try await postgres.open(node: "node-a")

        let report = try await StoreMigration(from: source, to: target, node: "node-a").run()
        #expect(report.runs.copied == 3 && report.canonicals.copied == 1 && report.sweeps.copied == 1)
        #expect(report.jobs.copied == 2 && report.replies.copied == 1, "\(report)")
        #expect(
            try await target.runs(recipe: nil, limit: 10).map(\.runID)
                == source.runs(recipe: nil, limit: 10).map(\.runID))
        #expect(try await target.results(runID: "r2") == source.results(runID: "r2"))
        #expect(try await target.recipeMatrix() == source.recipeMatrix())
        #expect(try await target.canonical("web") == source.canonical("web"))
        #expect(try await target.sweeps(limit: 5).map(\.id) == ["sweep-1"])
        let finished = try #require(try await target.job(runID: "r0"))
        #expect(finished.state == .passed && finished.node == "node-a")
        let queued = try #require(try await target.jobs(in: [.queued]).first)
        #expect(queued.recipe == "appdb" && queued.pr == 2)
        #expect(try await target.replies(job: queued.number).map(\.body) == ["queued"], "the reply moved with it")

        let again = try await StoreMigration(from: source, to: target, node: "node-a").run()
        #expect(again.runs.copied == 0 && again.runs.present == 3 && again.jobs.copied == 0 && again.jobs.present == 2)
        #expect(again.canonicals.present == 1 && again.sweeps.present == 1)
        #expect(try await target.jobs(in: []).count == 2)
    }

    @Test(
        "nothing is copied while the source has a running job, or when the target holds another node's job for the same run"
    )
    func refuses() async throws {
        // The fixtures are kept: each removes its store when it goes.
        let sourceFixture = try await StoreKind.sqliteFile.fixture()
        let source = try await sourceFixture.open(node: "node-a")
        try await Self.seeded(source)
        _ = try await source.claimNext()
        let targetFixture = try await StoreKind.postgres.fixture()
        let target = try await targetFixture.open(node: "node-a")
        await #expect {
            _ = try await StoreMigration(from: source, to: target, node: "node-a").run()
        } throws: { error in
            "\(error)".contains("running job") && "\(error)".contains("stop `ccci serve`")
        }
        #expect(try await target.runs(recipe: nil, limit: 10).isEmpty, "nothing written")

        let idleFixture = try await StoreKind.sqliteFile.fixture()
        let idle = try await idleFixture.open(node: "node-a")
        try await Self.seeded(idle)
        let shared = try await StoreKind.postgres.fixture()
        let other = try await shared.open(node: "node-b")
        _ = try await other.enqueue("web", pr: 9, head: "c")
        _ = try await other.claimNextJob { _ in "r0" }
        await #expect {
            _ = try await StoreMigration(from: idle, to: try await shared.open(node: "node-a"), node: "node-a").run()
        } throws: { error in
            "\(error)".contains("node node-b's job") && "\(error)".contains("run r0")
        }
        #expect(try await other.runs(recipe: nil, limit: 10).isEmpty, "nothing written")
    }

    @Test(
        "ccci store migrate: a report per table; a bad URL or a password in it is exit 2, the password never repeated")
    func command() async throws {
        let sqlite = try await StoreKind.sqliteFile.fixture()
        try await Self.seeded(try await sqlite.open(node: "node-a"))
        let postgres = try await StoreKind.postgres.fixture()
        let target = try #require(postgres.postgres)
        let config = try sqlite.config(node: "node-a")
        let home = config.home.path
        func ccci(_ arguments: [String]) async throws -> CommandResult {
            try await ProcessRunner().run(
                Command(
                    TestEnvironment.ccciExecutable.path, ["store", "migrate"] + arguments,
                    environment: ["CCCI_HOME": home, "CCCI_CONFIG": "\(home)/config.toml", "CCCI_NODE": "node-a"],
                    output: .capture))
        }
        let url = "postgres://\(target.user)@\(target.host):\(target.port)/\(target.database)?sslmode=disable"
        let copied = try await ccci(["--to", url, "--to-password-file", target.passwordFile ?? ""])
        #expect(copied.status == 0, "\(copied.errorOutput)")
        #expect(copied.output.contains("runs        3 copied, 0 already there"), "\(copied.output)")
        #expect(copied.output.contains("jobs        2 copied"))

        let secret = try await ccci(["--to", "postgres://ccci:hunter2@db/ccci"])
        #expect(secret.status == 2 && secret.errorOutput.contains("store_password_file"))
        #expect(!secret.errorOutput.contains("hunter2") && !secret.output.contains("hunter2"))
        let unknown = try await ccci(["--to", "redis://db"])
        #expect(unknown.status == 2 && unknown.errorOutput.contains("--to 'redis://db' is not a store URL"))
    }
}
