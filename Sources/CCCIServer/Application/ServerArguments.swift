import AsyncHTTPClient
import CCCICore
import Foundation
import Logging

/// Everything `ccci serve` runs with: the node configuration, the secrets read from the files it
/// names, the `ccci` executable that runs jobs, and the knobs tests turn.
public struct ServerArguments: Sendable {
    public var config: NodeConfig
    public var webhookSecret: SecretValue
    public var forgeToken: SecretValue
    /// The node's admin token: cancels jobs on the dashboard's queue (`nil`: cancelling is off).
    public var adminToken: SecretValue?
    /// The `ccci` executable the workers start runs (and the janitor) with.
    public var executable: URL
    /// The environment of those processes.
    public var environment: [String: String]
    public var logger: Logger
    /// How many workers run jobs (default: the node's capacity; 0: none — jobs only queue).
    public var workers: Int
    public var retry: RetryPolicy
    /// How long a connection may take to send its first request's head, and how long it may sit
    /// idle between requests, before it is closed.
    public var headerTimeoutSeconds: Int64 = 10
    public var idleTimeoutSeconds: Int64 = 30
    /// The first delay before a reply the forge did not take is tried again (it doubles, up to
    /// ten minutes).
    public var replyRetryDelay: Duration = .seconds(5)
    /// The live log streams' limits and switch (`nil`: made from `serve.max_streams*`).
    public var liveStreams: LiveStreams?
    /// How often housekeeping runs (`nil`: never).
    public var housekeepingInterval: Duration?
    /// How long a run that outlived a dead server gets to tear down before it is killed.
    public var orphanGrace: Duration
    /// Prunes the node's backup repository in housekeeping (the command layer, which knows restic,
    /// sets it); returns what was freed.
    public var pruneBackups: (@Sendable () async throws -> String)?
    /// The CI engine's credentials (`[dispatch] token_file`), when it has some.
    public var engineToken: SecretValue?
    /// Called with the bound port once the server listens (tests and benchmarks bind port 0).
    public var onListening: (@Sendable (Int) async -> Void)?

    public init(
        config: NodeConfig, webhookSecret: SecretValue, forgeToken: SecretValue, executable: URL,
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger, workers: Int? = nil,
        retry: RetryPolicy = .serve, housekeepingInterval: Duration? = .seconds(6 * 3600),
        orphanGrace: Duration = .seconds(300)
    ) {
        self.config = config
        self.webhookSecret = webhookSecret
        self.forgeToken = forgeToken
        self.executable = executable
        self.environment = environment
        self.logger = logger
        self.workers = workers ?? config.capacity
        self.retry = retry
        self.housekeepingInterval = housekeepingInterval
        self.orphanGrace = orphanGrace
    }

    /// The arguments of a node: checks that `[serve]` names a forge and the two secret files,
    /// and reads the secrets. `file` is the configuration file (for messages).
    public static func load(
        config: NodeConfig, file: String, executable: URL, logger: Logger
    ) throws(ServeSetupError)
        -> ServerArguments
    {
        let serve = config.serve
        guard serve.forgeURL != nil else {
            throw .missingKey(key: "forge_url", file: file, example: "\"https://git.coopcloud.tech\"")
        }
        guard let secretFile = serve.webhookSecretFile else {
            throw .missingKey(key: "webhook_secret_file", file: file, example: "\"/etc/ccci/webhook-secret\"")
        }
        guard let tokenFile = serve.forgeTokenFile else {
            throw .missingKey(key: "forge_token_file", file: file, example: "\"/etc/ccci/forge-token\"")
        }
        var arguments = ServerArguments(
            config: config, webhookSecret: try SecretValue.read(file: secretFile, key: "webhook_secret_file"),
            forgeToken: try SecretValue.read(file: tokenFile, key: "forge_token_file"), executable: executable,
            logger: logger)
        if let engineFile = config.dispatch.tokenFile {
            arguments.engineToken = try SecretValue.read(file: engineFile, key: "dispatch.token_file")
        }
        if let adminFile = serve.adminTokenFile {
            arguments.adminToken = try SecretValue.read(file: adminFile, key: "admin_token_file")
        }
        return arguments
    }

    /// Where replies link to.
    public var links: Links { Links(serving: config) }
}
