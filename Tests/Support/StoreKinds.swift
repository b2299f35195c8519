import CCCICore
import CCCIStore
import Foundation

/// Every store implementation cc-ci has: the store contract suite runs once per kind. A new store
/// adds its case here (and what it needs to start), and passes the same suite.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The embedded default: a SQLite file, several handles (processes, nodes) on one file.
    case sqliteFile
    /// SQLite in memory: one handle, nothing on disk.
    case sqliteMemory
    /// PostgreSQL: a database of its own on the test process' throwaway cluster.
    case postgres

    public var description: String { rawValue }

    /// Whether several handles (``StoreFixture/open(node:)`` called again) see one store, as
    /// several processes or nodes do.
    public var isShared: Bool { self != .sqliteMemory }

    /// The kinds several nodes can share.
    public static var shared: [StoreKind] { allCases.filter(\.isShared) }

    /// A new, empty store of this kind.
    public func fixture() async throws -> StoreFixture { try await StoreFixture(kind: self) }
}

/// One empty store of a kind, removed when the fixture goes.
public final class StoreFixture: Sendable {
    public let kind: StoreKind
    let directory: TemporaryDirectory
    /// The PostgreSQL store's location (``StoreKind/postgres``).
    public let postgres: NodeConfig.PostgresLocation?

    init(kind: StoreKind) async throws {
        self.kind = kind
        directory = try TemporaryDirectory("ccci-store")
        try Data().write(to: directory.appending("config.toml"))
        if kind == .postgres {
            let cluster = try await PostgresCluster.shared()
            postgres = cluster.location(database: try await cluster.createDatabase())
        } else {
            postgres = nil
        }
    }

    /// The node configuration that names this store (`store = …`, `node = …`).
    public func config(node: String) throws -> NodeConfig {
        var config = try NodeConfig.load(
            environment: ["CCCI_HOME": directory.url.path, "CCCI_CONFIG": directory.appending("config.toml").path])
        config.node = node
        if let postgres { config.store = .postgres(postgres) }
        return config
    }

    /// A handle on the store for node `node`, opened as a node opens it (``Store/open(_:)``). For
    /// a shared kind every handle sees the same store; in memory each call is a new store.
    public func open(node: String = "node-a") async throws -> any NodeStore {
        switch kind {
        case .sqliteFile, .postgres: return try await Store.open(config(node: node))
        case .sqliteMemory: return try Store.inMemory(node: node)
        }
    }
}

extension NodeStore {
    /// Queues a `!testme` of `recipe`'s pull request `pr` (repository `recipes/<recipe>`) at a head
    /// of `head` repeated; returns it with its id.
    public func enqueue(_ recipe: String, pr: Int, head: Character) async throws -> Job {
        let job = Job(
            recipe: recipe, repository: "recipes/\(recipe)", pr: pr, headSHA: String(repeating: head, count: 40),
            stages: nil, requester: "alice", commentID: nil)
        guard let inserted = try await transaction({ queue in try queue.insert(job) }) else {
            throw CancellationError()
        }
        return inserted
    }

    /// Claims the next job as a worker of this store's node does.
    public func claimNext() async throws -> Job? {
        try await claimNextJob { _ in RunID.make(recipe: "x") }
    }
}
