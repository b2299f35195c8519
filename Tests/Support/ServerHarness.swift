import CCCICore
import CCCIServer
import CCCIStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `ccci serve`'s setting for a test: a sandboxed home (store, runs), a catalogue of recipe
/// names, a webhook secret, and the node configuration pointing at a ``ForgeStub``. Used in
/// process (``arguments(stub:workers:retry:)`` with `buildApplication`) and for the real
/// `ccci serve` process (``ServeProcess``).
public struct ServerHarness: Sendable {
    public let home: TemporaryDirectory
    public let secret: String
    /// The node's admin token (cancels jobs on `/queue`), written to a file by ``writeServeConfig``.
    public let adminToken: String
    public let logs = LogCapture()

    /// The store the server and ``store()`` use (`nil`: the embedded one in the home).
    public let storeLocation: NodeConfig.StoreLocation?

    public init(recipes: [String] = ["web"], store: NodeConfig.StoreLocation? = nil) throws {
        storeLocation = store
        home = try TemporaryDirectory("ccci-serve")
        secret = "whsec-\(TestEnvironment.randomHex(16))"
        adminToken = "adm/+\(TestEnvironment.randomHex(12))"
        for recipe in recipes {
            try FileManager.default.createDirectory(
                at: home.appending("catalogue/\(recipe)/.git"), withIntermediateDirectories: true)
        }
    }

    /// The node configuration: the lab's, with this home and catalogue and a `[serve]` table for
    /// `stub`. Each catalogue recipe is a clone of `recipes/<recipe>` on the stub (its `origin`),
    /// so the server knows which repository is which recipe.
    public func config(stub: ForgeStub, allowlist: [String] = [], owners: [String] = []) throws -> NodeConfig {
        let catalogue = home.appending("catalogue")
        for recipe in (try? FileManager.default.contentsOfDirectory(atPath: catalogue.path)) ?? [] {
            let gitConfig = catalogue.appendingPathComponent("\(recipe)/.git/config")
            guard !FileManager.default.fileExists(atPath: gitConfig.path) else { continue }
            try Data("[remote \"origin\"]\n\turl = \(stub.baseURL)/recipes/\(recipe).git\n".utf8).write(to: gitConfig)
        }
        var config = try TestEnvironment.labConfig(
            home: home.url,
            extra: [
                "CCCI_CATALOGUE_DIR": home.appending("catalogue").path,
                "CCCI_LOCK_DIR": home.appending("locks").path,
            ])
        if let storeLocation { config.store = storeLocation }
        config.serve.listenHost = "127.0.0.1"
        config.serve.listenPort = 0
        config.serve.publicURL = "http://ci.test"
        config.serve.forgeURL = stub.baseURL
        config.serve.allowlist = allowlist
        config.serve.owners = owners
        return config
    }

    /// In-process server arguments (no housekeeping; the server's retry policy with a quicker
    /// retry, unless `retry` is given).
    public func arguments(
        stub: ForgeStub, workers: Int = 0, allowlist: [String] = [], owners: [String] = [],
        retry: RetryPolicy = RetryPolicy(
            attempts: 2, firstDelay: .milliseconds(20), timeout: .seconds(5), retriesTransportErrors: false)
    ) throws -> ServerArguments {
        var arguments = ServerArguments(
            config: try config(stub: stub, allowlist: allowlist, owners: owners), webhookSecret: SecretValue(secret),
            forgeToken: SecretValue(stub.token), executable: TestEnvironment.ccciExecutable,
            logger: logs.logger(label: "ccci.serve"), workers: workers, retry: retry, housekeepingInterval: nil)
        arguments.replyRetryDelay = .milliseconds(100)
        return arguments
    }

    /// The store the server uses.
    public func store() async throws -> any NodeStore {
        var config = try TestEnvironment.labConfig(home: home.url)
        if let storeLocation { config.store = storeLocation }
        return try await Store.open(config)
    }

    /// Writes the files `ccci serve` reads (config.toml, the secret and token files, mode 600)
    /// and returns the config file.
    public func writeServeConfig(stub: ForgeStub, allowlist: [String] = [], serve: String = "") throws -> URL {
        let directory = home.appending("etc")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let secretFile = directory.appendingPathComponent("webhook-secret")
        let tokenFile = directory.appendingPathComponent("forge-token")
        let adminFile = directory.appendingPathComponent("admin-token")
        for (file, value) in [(secretFile, secret), (tokenFile, stub.token), (adminFile, adminToken)] {
            try Data((value + "\n").utf8).write(to: file)
            chmod(file.path, 0o600)
        }
        let file = directory.appendingPathComponent("config.toml")
        let allow = allowlist.map { "\"\($0)\"" }.joined(separator: ", ")
        try Data(
            """
            [serve]
            listen = "127.0.0.1:0"
            public_url = "http://ci.test"
            forge = "gitea"
            forge_url = "\(stub.baseURL)"
            webhook_secret_file = "\(secretFile.path)"
            forge_token_file = "\(tokenFile.path)"
            admin_token_file = "\(adminFile.path)"
            allowlist = [\(allow)]
            owners = ["recipes"]
            \(serve)

            """.utf8
        ).write(to: file)
        return file
    }
}
