import Foundation

/// Where `ccci serve` sends the jobs it queues (SPEC F-ENGINE): the `[dispatch]` table.
///
/// ```toml
/// [dispatch]
/// engine = "buildbot"                    # local (default: this node's workers), buildbot,
///                                        # forgejo-actions, drone
/// url = "http://127.0.0.1:8010"          # the engine's web API (the forge's, for Actions)
/// token_file = "/etc/ccci/engine-token"  # buildbot: `user:password` (optional); forgejo: an
///                                        # API token; drone: a user token
/// scheduler = "ccci"                     # buildbot: the force scheduler
/// builder = "ccci"                       # buildbot: the builder it forces
/// repository = "ccci/ops"                # forgejo-actions, drone: the repository cc-ci owns that
///                                        # holds the workflow or pipeline (never a recipe's)
/// workflow = "ccci.yml"                  # forgejo-actions: the workflow file
/// ref = "main"                           # forgejo-actions, drone: its branch
/// ```
///
/// With an engine, this node's server keeps the bridge (authorisation, coalescing, supersede,
/// replies, the dashboard) and runs nothing itself: the engine's step on a node runs
/// `ccci run … --job-id J --store URL`, which takes the job from the shared store.
public struct DispatchConfig: Sendable, Hashable {
    public enum Engine: String, Sendable, Hashable, CaseIterable {
        /// This node's own workers (`ccci serve --workers`).
        case local
        /// A Buildbot master's force scheduler.
        case buildbot
        /// A Forgejo/Gitea Actions `workflow_dispatch`.
        case forgejoActions = "forgejo-actions"
        /// A Drone build with parameters.
        case drone
    }

    public var engine: Engine = .local
    /// The engine's web address.
    public var url: String?
    /// The file holding the engine's credentials (never the configuration itself).
    public var tokenFile: String?
    public var scheduler = "ccci"
    public var builder = "ccci"
    public var repository: String?
    public var workflow = "ccci.yml"
    public var ref = "main"

    public init() {}

    public static let keys = ["engine", "url", "token_file", "scheduler", "builder", "repository", "workflow", "ref"]

    /// Reads the `[dispatch]` table of `file`.
    public init(table value: JSONValue, file: String) throws(ConfigError) {
        guard case .object(let table) = value else {
            throw .invalid(file: file, key: "dispatch", message: "expects a table ([dispatch])")
        }
        try ConfigTable.rejectUnknownKeys(table, allowed: Self.keys, prefix: "dispatch", file: file)
        let reader = ConfigTable(table: table, prefix: "dispatch", file: file)
        if let name = try reader.string("engine") {
            guard let engine = Engine(rawValue: name) else {
                throw .invalid(
                    file: file, key: "dispatch.engine",
                    message: "'\(name)' is not one of \(Engine.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.engine = engine
        }
        if let url = try reader.string("url") {
            try ServeConfig.checkHTTPURL(url, key: "dispatch.url", file: file, tokenKey: "dispatch.token_file")
            self.url = url
        }
        tokenFile = try reader.string("token_file")
        scheduler = try reader.string("scheduler") ?? scheduler
        builder = try reader.string("builder") ?? builder
        repository = try reader.string("repository")
        workflow = try reader.string("workflow") ?? workflow
        ref = try reader.string("ref") ?? ref
        if let repository, repository.split(separator: "/").count != 2 {
            throw .invalid(file: file, key: "dispatch.repository", message: "'\(repository)' is not owner/name")
        }
        if engine == .forgejoActions || engine == .drone, repository == nil {
            throw .invalid(
                file: file, key: "dispatch.repository",
                message: "is needed with engine = \"\(engine.rawValue)\": the repository cc-ci owns that holds the "
                    + "workflow or pipeline (never a recipe's), e.g. \"ccci/ops\"")
        }
        guard engine == .local || url != nil else {
            throw .invalid(
                file: file, key: "dispatch.url",
                message:
                    "is needed with engine = \"\(engine.rawValue)\": the engine's web address, e.g. http://127.0.0.1:8010"
            )
        }
    }
}
