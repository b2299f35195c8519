import CCCICore
import CCCIDeploy
import CCCIGit
import CCCILab
import CCCISwarm
import CCCISystem
import Foundation

/// A driver on the real lab, made by ``DriverFactory`` as a node makes it, with a sandboxed state
/// home and fixture checkouts to deploy. ``engine`` is the witness: tests read the node through
/// it, not through the driver under test.
public struct DriverHarness: Sendable {
    public let home: TemporaryDirectory
    public let config: NodeConfig
    public let engine: DockerEngine
    public let driver: any AppDriver
    public let git = Git()

    public init(
        engine: DockerEngine, kind: NodeConfig.DriverKind = .native, extraConfig: [String: String] = [:]
    ) async throws {
        home = try TemporaryDirectory("ccci-driver")
        var config = try TestEnvironment.labConfig(home: home.url, extra: extraConfig)
        config.driver = kind
        self.config = config
        self.engine = engine
        driver = try await DriverFactory.make(
            config, logger: TestEnvironment.logger, ingress: LabIngress.forNode(config), sharing: engine)
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

extension DriverHarness {
    /// An app a test left behind on the node.
    public struct ResidueLeft: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `body` with a harness for a driver of `kind`, and removes the apps it lists afterwards
    /// whatever happens; an app that leaves residue fails the test.
    public static func withApps(
        _ kind: NodeConfig.DriverKind = .native, _ body: (DriverHarness, inout [App]) async throws -> Void
    ) async throws {
        try await TestEnvironment.withEngine { engine in
            let harness = try await DriverHarness(engine: engine, kind: kind)
            var apps: [App] = []
            do {
                try await body(harness, &apps)
            } catch {
                for app in apps { _ = try? await harness.driver.remove(app) }
                throw error
            }
            var left: [String] = []
            for app in apps {
                let residue = try await harness.driver.remove(app)
                if !residue.isEmpty { left.append("\(app.domain) left \(residue.summary)") }
            }
            guard left.isEmpty else { throw ResidueLeft(description: left.joined(separator: "; ")) }
        }
    }
}
