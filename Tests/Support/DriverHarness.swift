import CCCICore
import CCCIDeploy
import CCCIGit
import CCCILab
import CCCISwarm
import CCCISystem
import Foundation

/// A native driver on the real lab with a sandboxed state home, and fixture checkouts to deploy.
public struct DriverHarness: Sendable {
    public let home: TemporaryDirectory
    public let config: NodeConfig
    public let engine: DockerEngine
    public let driver: NativeDriver
    public let git = Git()

    public init(engine: DockerEngine, extraConfig: [String: String] = [:]) throws {
        home = try TemporaryDirectory("ccci-driver")
        config = try TestEnvironment.labConfig(home: home.url, extra: extraConfig)
        self.engine = engine
        driver = NativeDriver.onNode(config: config, engine: engine, logger: TestEnvironment.logger)
        TestSession.register(ciDomain: ciDomain, home: home.url)
    }

    /// Fixture `name` as a git repository (PR head checked out) in the sandbox.
    public func checkout(_ name: String, as directoryName: String? = nil) async throws -> FixtureRecipes.Repository {
        try await FixtureRecipes(root: TestEnvironment.fixturesRoot)
            .materialize(name, at: home.appending("recipes/\(directoryName ?? name)"))
    }

    /// The CI domain of this harness' apps: not the lab's, so no run's janitor ever sees them,
    /// and registered as a test session, so a killed test process' apps are swept later.
    public let ciDomain = "d\(TestEnvironment.randomHex(5)).ccci.test"

    /// A domain no other test uses.
    public func domain(_ name: String) -> AppDomain {
        try! AppNaming(ciDomain: ciDomain).runAppDomain(recipe: name, pr: 0, ref: UUID().uuidString)
    }

    /// The spec of an app of `repository` at a fresh domain.
    public func spec(_ repository: FixtureRecipes.Repository, packComposeFiles: [URL] = []) -> AppSpec {
        AppSpec(
            recipe: repository.name, domain: domain(repository.name), checkout: repository.path,
            packComposeFiles: packComposeFiles, workDirectory: home.appending("work"),
            runID: "test-\(TestEnvironment.randomHex())")
    }

    /// The probe that reaches lab apps by domain.
    public var probe: HTTPSProbe {
        HTTPSProbe(target: .lab(address: "127.0.0.1", caCertificate: config.labCACertificate))
    }

    /// Service labels of `<stack>_<service>`.
    public func serviceLabels(_ app: App, service: String = "app") async throws -> [String: String] {
        try await engine.service("\(app.stack)_\(service)").labels
    }
}
