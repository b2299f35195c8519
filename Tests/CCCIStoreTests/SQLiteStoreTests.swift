import CCCICore
import CCCITestSupport
import Foundation
import GRDB
import Testing

@testable import CCCIStore

/// What only the SQLite store has: its migrations of stores written by earlier versions, and its
/// read-only opening.
@Suite struct SQLiteStoreTests {
    @Test("a store of before nodes is migrated: what ran or was warm there belongs to the node that migrates it")
    func migrationAdoptsRows() async throws {
        let home = try TemporaryDirectory("ccci-store")
        let file = home.appending("ccci.sqlite")
        do {
            let old = try DatabaseQueue(path: file.path)
            try SQLiteStore.migrator(node: "unused").migrate(old, upTo: "v8-serve-intake")
            try await old.write { db in
                for (id, state) in [(1, "running"), (2, "queued"), (3, "passed")] {
                    try db.execute(
                        sql: """
                            INSERT INTO job (id, recipe, repository, pr, headSHA, requester, state, queuedAt, attempt, quick)
                            VALUES (?, 'web', 'recipes/web', ?, 'abc', 'alice', ?, '2026-01-01 00:00:00.000', 1, 0)
                            """, arguments: [id, id, state])
                }
                try db.execute(
                    sql: """
                        INSERT INTO canonical (recipe, version, "commit", status, domain, volumes, volume_bytes, run_id,
                                               promoted_at, updated_at)
                        VALUES ('web', '1.0.0', 'abc', 'healthy', 'web.warm.ci.test', '', 0, 'r1',
                                '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')
                        """)
            }
        }
        let migrating = try SQLiteStore(path: file, node: "node-a")
        #expect(try await migrating.jobsOfThisNode(in: []).map(\.id) == [1], "the running job, not the queued or done")
        #expect(try await migrating.canonical("web")?.version == "1.0.0")
        let generation = try await migrating.generation()
        #expect(try await migrating.dropCanonical("web"))
        #expect(try await migrating.generation() > generation, "the triggers survive")
        let other = try SQLiteStore(path: file, node: "node-b")
        #expect(try await other.jobsOfThisNode(in: []).isEmpty)
        #expect(try await other.canonicals().isEmpty)
    }

    @Test("reading only: a missing store says so and is not created; a store that exists reads, and refuses writes")
    func readingOnly() async throws {
        let fixture = try await StoreKind.sqliteFile.fixture()
        let config = try fixture.config(node: "node-a")
        let file = try #require(config.storePath)
        await #expect {
            _ = try await Store.openForReading(config)
        } throws: { error in
            (error as? StoreError)?.reason == nil && "\(error)".contains("no results store at \(file.path)")
        }
        #expect(!FileManager.default.fileExists(atPath: file.path))
        try await Store.open(config).record(
            StoreContractTests.results(runID: "r1", recipe: "web", outcome: .pass, startedAt: Date()))
        let reader = try await Store.openForReading(config)
        #expect(try await reader.runs(recipe: nil, limit: 5).map(\.runID) == ["r1"])
        await #expect(throws: StoreError.self) {
            try await reader.record(
                StoreContractTests.results(runID: "r2", recipe: "web", outcome: .pass, startedAt: Date()))
        }
    }

    @Test("a store URL in the node config picks the store; an unknown one is an error naming the key")
    func storeURL() throws {
        #expect(
            try NodeConfig.StoreLocation(url: "sqlite:///var/lib/ccci/ccci.sqlite")
                == .sqlite(URL(fileURLWithPath: "/var/lib/ccci/ccci.sqlite")))
        for bad in ["sqlite://relative.sqlite", "sqlite://", "mysql://x/y", "/var/lib/ccci.sqlite"] {
            #expect(try NodeConfig.StoreLocation(url: bad) == nil, "\(bad)")
        }
        let postgres = try NodeConfig.StoreLocation(url: "postgres://ccci@db.example.org:5433/ccci?sslmode=require")
        #expect(
            postgres
                == .postgres(
                    NodeConfig.PostgresLocation(
                        host: "db.example.org", port: 5433, user: "ccci", database: "ccci", tls: .require)))
        #expect(postgres?.description == "postgres://ccci@db.example.org:5433/ccci?sslmode=require")
        // A password in the URL is refused, and never repeated; so is a URL missing its user or
        // database, or an sslmode cc-ci does not know.
        for (bad, says) in [
            ("postgres://ccci:hunter2@db/ccci", "store_password_file"), ("postgres://db/ccci", "names no user"),
            ("postgres://ccci@db", "names no database"), ("postgres://ccci@db/ccci?sslmode=sometimes", "sslmode"),
            ("postgresql://ccci@db/ccci?application_name=x", "only `sslmode`"),
        ] {
            #expect {
                _ = try NodeConfig.StoreLocation(url: bad)
            } throws: { error in
                "\(error)".contains(says) && !"\(error)".contains("hunter2")
            }
        }
        let home = try TemporaryDirectory("ccci-config")
        let file = home.appending("config.toml")
        try "store = \"redis://localhost\"\n".write(to: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try NodeConfig.load(environment: ["CCCI_CONFIG": file.path])
        } throws: { error in
            "\(error)".contains("store") && "\(error)".contains("sqlite:///")
        }
        try "store = \"sqlite://\(home.appending("elsewhere.sqlite").path)\"\nnode = \"ci-1\"\n".write(
            to: file, atomically: true, encoding: .utf8)
        let config = try NodeConfig.load(environment: ["CCCI_CONFIG": file.path])
        #expect(config.storePath == home.appending("elsewhere.sqlite") && config.node == "ci-1")
        #expect(throws: ConfigError.self) {
            _ = try NodeConfig.load(environment: ["CCCI_CONFIG": file.path, "CCCI_NODE": "a b"])
        }
    }
}
