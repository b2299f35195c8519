import Foundation

// What a driver reports of an app on its node, whatever the node is: these are the driver
// contract's own types (SPEC F-DRIVER), so that the runner never sees the engine's.

/// What a command run inside one of an app's containers did.
public struct ExecResult: Sendable, Hashable {
    public let exitCode: Int
    public let stdout: String
    public let stderr: String

    public init(exitCode: Int, stdout: String, stderr: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { exitCode == 0 }
}

/// What remains of an app on the node (SPEC F-TEARDOWN).
public struct Residue: Sendable, Hashable, Codable {
    public var services: [String] = []
    public var containers: [String] = []
    public var volumes: [String] = []
    public var secrets: [String] = []
    public var configs: [String] = []
    public var networks: [String] = []
    /// Files the app owned outside docker (its env file), that still exist.
    public var files: [String] = []

    public init() {}

    public var isEmpty: Bool {
        services.isEmpty && containers.isEmpty && volumes.isEmpty && secrets.isEmpty && configs.isEmpty
            && networks.isEmpty && files.isEmpty
    }

    /// `volumes: x, y; secrets: z` — or `none`.
    public var summary: String {
        var parts: [String] = []
        for (kind, names) in [
            ("services", services), ("containers", containers), ("volumes", volumes), ("secrets", secrets),
            ("configs", configs), ("networks", networks), ("files", files),
        ] where !names.isEmpty {
            parts.append("\(kind): \(names.sorted().joined(separator: ", "))")
        }
        return parts.isEmpty ? "none" : parts.joined(separator: "; ")
    }
}

/// One service's convergence.
public struct ServiceConvergence: Sendable, Hashable, Codable {
    public let name: String
    public let desired: Int
    public let running: Int
    /// Slots whose task completed (one-shots).
    public let completed: Int
    public let updateState: String?
    /// The state of each slot's newest task.
    public let taskStates: [String]
    /// What keeps the service from being converged (empty when it is).
    public let blockers: [String]
    /// The newest task error, if any task reported one.
    public let lastError: String?
    /// Whether only the current spec's tasks run, settled as for convergence, though swarm may
    /// still be watching an update through its monitor period (``converged`` waits for that too).
    public var serving: Bool = false

    public init(
        name: String, desired: Int, running: Int, completed: Int, updateState: String?, taskStates: [String],
        blockers: [String], lastError: String?
    ) {
        self.name = name
        self.desired = desired
        self.running = running
        self.completed = completed
        self.updateState = updateState
        self.taskStates = taskStates
        self.blockers = blockers
        self.lastError = lastError
    }

    public var converged: Bool { blockers.isEmpty }

    /// `app 0/1 (starting; last error: …)`.
    public var summary: String {
        var text = "\(name) \(running + completed)/\(desired)"
        if completed > 0 { text += " (\(completed) complete)" }
        if !blockers.isEmpty { text += " — " + blockers.joined(separator: "; ") }
        if let lastError, !blockers.isEmpty { text += "; last task error: \(lastError)" }
        return text
    }
}

/// A stack's convergence.
public struct ConvergenceState: Sendable, Hashable, Codable {
    public let services: [ServiceConvergence]

    public init(services: [ServiceConvergence]) {
        self.services = services
    }

    /// Converged when the stack has services and all of them are.
    public var converged: Bool { !services.isEmpty && services.allSatisfy(\.converged) }

    public var waitingOn: [ServiceConvergence] { services.filter { !$0.converged } }

    /// Every service runs only its current spec's tasks, settled — what a test can be run
    /// against — while an update may still be in its monitor period.
    public var serving: Bool { !services.isEmpty && services.allSatisfy { $0.converged || $0.serving } }
}
