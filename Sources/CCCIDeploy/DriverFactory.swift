import CCCICore
import CCCISwarm
import CCCISystem
import Logging

/// Makes the driver a node's configuration names (`driver = "native"`; SPEC F-DRIVER) — the one
/// place that picks it, and the only place a command reaches a node. A new driver is one case
/// of ``NodeConfig/DriverKind``, one branch here, and the driver contract suite passed.
public enum DriverFactory {
    /// What must hear of every deploy and removal on this node, made from the node's engine: the
    /// lab's ingress (`LabIngress.forNode`); `nil` where traefik watches the swarm itself.
    public typealias Ingress = @Sendable (DockerEngine) -> any IngressSync

    /// The driver of `config`'s node, connected. Errors say which node could not be reached.
    /// With `engine`, a native driver uses that connection (a test's, shared by many drivers)
    /// and leaves it open at its ``AppDriver/shutdown()``.
    public static func make(
        _ config: NodeConfig, logger: Logger, secrets: SecretRegistry = SecretRegistry(),
        runner: ProcessRunner = ProcessRunner(), ingress: Ingress? = nil, sharing engine: DockerEngine? = nil
    ) async throws -> any AppDriver {
        switch config.driver {
        case .native:
            let connected: DockerEngine
            if let engine {
                connected = engine
            } else {
                connected = try await DockerEngine.connect(socketPath: config.dockerSocket, logger: logger)
            }
            return NativeDriver(
                config: config, engine: connected, runner: runner, logger: logger, secrets: secrets,
                ingress: ingress?(connected), ownsEngine: engine == nil)
        }
    }

    /// Runs `body` with the driver of `config`'s node, and lets go of the node after.
    public static func with<T: Sendable>(
        _ config: NodeConfig, logger: Logger, secrets: SecretRegistry = SecretRegistry(), ingress: Ingress? = nil,
        _ body: (any AppDriver) async throws -> T
    ) async throws -> T {
        let driver = try await make(config, logger: logger, secrets: secrets, ingress: ingress)
        do {
            let result = try await body(driver)
            await driver.shutdown()
            return result
        } catch {
            await driver.shutdown()
            throw error
        }
    }
}
