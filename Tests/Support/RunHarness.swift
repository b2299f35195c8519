import CCCICore
import CCCIDeploy
import CCCILab
import CCCISwarm
import CCCISystem
import Foundation

/// `ccci run` as a user runs it — the real binary against the real lab — with its state in a
/// sandbox: a home of its own (store, runs, env files, locks), a CI domain of its own (so its
/// janitor can only ever see this harness' apps), and a catalogue of freshly built fixtures.
public struct RunHarness: Sendable {
    public let home: TemporaryDirectory
    public let ciDomain: String
    public let catalogue: URL
    public let packs: URL

    public init(packs: URL = TestEnvironment.packsRoot) throws {
        home = try TemporaryDirectory("ccci-run")
        ciDomain = "t\(TestEnvironment.randomHex(5)).ccci.test"
        catalogue = home.appending("catalogue")
        self.packs = packs
    }

    /// Builds fixture `name` into the catalogue (as `alias` when given).
    @discardableResult
    public func add(_ name: String, as alias: String? = nil) async throws -> FixtureRecipes.Repository {
        try await FixtureRecipes(root: TestEnvironment.fixturesRoot).materialize(
            name, at: catalogue.appendingPathComponent(alias ?? name))
    }

    /// The environment a `ccci` process of this harness runs with.
    public var environment: [String: String?] {
        [
            "CCCI_HOME": home.url.path, "CCCI_CONFIG": nil, "CCCI_CI_DOMAIN": ciDomain,
            "CCCI_LOCK_DIR": home.appending("locks").path, "CCCI_CATALOGUE_DIR": catalogue.path,
            "CCCI_PACKS_DIR": packs.path, "NO_COLOR": "1",
            // Room for the concurrent runs the tests make (the node default is 2).
            "CCCI_CAPACITY": "4",
        ]
    }

    /// The node configuration the harness' processes see.
    public func config() throws -> NodeConfig {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in self.environment { environment[key] = value }
        return try NodeConfig.load(environment: environment)
    }

    /// Runs `ccci <arguments>`.
    public func ccci(_ arguments: [String], extra: [String: String?] = [:]) async throws -> CommandResult {
        var environment = self.environment
        for (key, value) in extra { environment[key] = value }
        return try await ProcessRunner().run(
            Command(
                TestEnvironment.ccciExecutable.path, arguments, environment: environment, workingDirectory: home.url))
    }

    /// The results document a `ccci run … --json` printed.
    public func results(_ result: CommandResult) throws -> RunResults {
        guard let start = result.output.firstIndex(of: "{") else {
            throw TestSetupError(
                "no results document in the output (exit \(result.status)):\n\(result.output)\n\(result.errorOutput)")
        }
        return try JSONCoding.decoder.decode(RunResults.self, from: Data(result.output[start...].utf8))
    }

    /// What is left on the node of the app at `domain`.
    public func residue(_ domain: String, engine: DockerEngine) async throws -> Residue {
        try await NativeDriver(config: try config(), engine: engine, logger: TestEnvironment.logger).residue(
            domain: domain)
    }
}
