import CCCICore
import CCCIGit
import CCCILab
import CCCISwarm
import CCCISystem
import Foundation

/// A fixture recipe deployed the way the lab deploys any stack: `docker stack deploy` of its
/// compose files plus the lab's dnsrr overlay, with its secrets created first. Used by the lab's
/// own tests (the native driver has its own).
public struct StackFixture: Sendable {
    public let name: String
    public let domain: String
    public let resolved: ResolvedAppEnv
    public let workDirectory: URL

    public var stack: String { resolved.env.stackName }

    /// Materialises fixture `name` (its PR head) in `directory` and resolves it for `domain`.
    public static func prepare(
        _ name: String, domain: String, in directory: URL, extraComposeFiles: [URL] = [],
        overrides: [String: String] = [:]
    ) async throws -> StackFixture {
        let repository = try await FixtureRecipes(root: TestEnvironment.fixturesRoot)
            .materialize(name, at: directory.appendingPathComponent(name))
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: repository.path, recipe: name, domain: domain, overrides: overrides,
            extraComposeFiles: extraComposeFiles)
        return StackFixture(name: name, domain: domain, resolved: resolved, workDirectory: directory)
    }

    /// Creates the secrets and deploys the stack (without waiting).
    public func deploy(engine: DockerEngine, mode: NetworkMode = .detect()) async throws {
        for secret in resolved.secrets {
            let value = String(
                (0..<(secret.length ?? 24)).map { _ in "abcdefghijkmnpqrstuvwxyz23456789".randomElement()! })
            // Marked as the stack's own, as `docker stack deploy` marks what it creates.
            try await engine.createSecret(
                name: secret.dockerName, value: value, labels: ["com.docker.stack.namespace": stack])
        }
        var files = resolved.composeFileURLs
        if let overlay = mode.overlay(for: resolved.project) {
            let file = workDirectory.appendingPathComponent("\(name)-\(NetworkMode.overlayFileName)")
            try overlay.write(to: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        try await StackDeployer().deploy(
            stack: stack, composeFiles: files, environment: resolved.deployEnvironment,
            workingDirectory: resolved.recipeRoot)
    }
}

/// A stack a test writes itself: compose text in a temporary directory, deployed with
/// `docker stack deploy` exactly as given (plus any extra files) and waited for.
public struct InlineStack: Sendable {
    public let name: String
    public let directory: URL
    public let compose: URL

    /// Writes `compose` to `compose.yml` in `directory`.
    public init(_ name: String, compose text: String, in directory: URL) throws {
        self.name = name
        self.directory = directory
        compose = directory.appendingPathComponent("compose.yml")
        try text.write(to: compose, atomically: true, encoding: .utf8)
    }

    /// Deploys (or updates) the stack without waiting.
    public func deploy(extraComposeFiles: [URL] = [], environment: [String: String] = [:]) async throws {
        try await StackDeployer().deploy(
            stack: name, composeFiles: [compose] + extraComposeFiles, environment: environment,
            workingDirectory: directory)
    }

    /// Waits until the stack has converged.
    @discardableResult
    public func waitConverged(engine: DockerEngine, timeout: Duration = .seconds(60)) async throws -> ConvergenceState {
        try await ConvergenceWaiter(engine: engine, logger: TestEnvironment.logger).wait(stack: name, timeout: timeout)
            .state
    }
}
