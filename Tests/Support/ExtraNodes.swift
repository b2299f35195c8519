import CCCICore
import CCCISwarm
import CCCISystem
import Foundation
import Synchronization

/// The extra nodes of this machine (`scripts/nodes`): each a real swarm of its own in its own
/// network namespace. Brought up once per test process (idempotent: a machine that has them keeps
/// them), shared by the tests that need them; `scripts/nodes down` removes them.
public struct ExtraNode: Sendable {
    /// `node-a`, `node-b`, …
    public let name: String
    /// `a`, `b`, … (what `scripts/nodes exec` takes).
    public let letter: String
    /// The node's environment (`scripts/nodes env`): its home, lab, locks, socket and name.
    public let environment: [String: String]
    /// The host's address as the node reaches it (its side of the veth pair).
    public var hostAddress: String { environment["CCCI_NODE_HOST_ADDRESS"] ?? "" }
    public var socket: String { environment["CCCI_DOCKER_SOCKET"] ?? "" }

    private static let started = Mutex<[ExtraNode]?>(nil)

    public static var script: String { TestEnvironment.repositoryRoot.appendingPathComponent("scripts/nodes").path }

    /// `count` nodes, up (brought up on first use in this process).
    public static func up(_ count: Int) async throws -> [ExtraNode] {
        if let nodes = started.withLock({ $0 }), nodes.count >= count { return Array(nodes.prefix(count)) }
        let result = try await ProcessRunner().run(Command(script, ["up", "\(count)"]))
        guard result.succeeded else {
            throw TestSetupError("scripts/nodes up \(count) failed (exit \(result.status)):\n\(result.tail())")
        }
        var nodes: [ExtraNode] = []
        for letter in ["a", "b", "c", "d", "e", "f", "g", "h", "i"].prefix(count) {
            let env = try await ProcessRunner().run(Command(script, ["env", letter])).check()
            var environment: [String: String] = [:]
            for line in env.output.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { environment[String(parts[0])] = String(parts[1]) }
            }
            nodes.append(ExtraNode(name: "node-\(letter)", letter: letter, environment: environment))
        }
        started.withLock { $0 = nodes }
        return nodes
    }

    /// Runs `arguments` inside the node (its network namespace and environment, plus `extra`).
    public func run(_ arguments: [String], extra: [String: String] = [:]) async throws -> CommandResult {
        let assignments = extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try await ProcessRunner().run(
            Command(Self.script, ["exec", letter, "env"] + assignments + arguments))
    }

    /// The node's Docker engine.
    public func engine() async throws -> DockerEngine {
        try await DockerEngine.connect(socketPath: socket, logger: TestEnvironment.logger)
    }
}
