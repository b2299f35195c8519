import CCCICore
import Foundation
import Synchronization

/// cc-ci running a container's own healthcheck, so that convergence need not wait for docker's
/// first scheduled probe (SPEC F-CONVERGE).
///
/// Docker runs a healthcheck for the first time one `interval` after the container starts — 30 s
/// by default, 15–30 s in many recipes — and reports `health: starting` until then, however soon
/// the app is up. The proof "the container's healthcheck passes" does not need docker's clock:
/// cc-ci runs the very command docker would (the container's `Healthcheck.Test`, inside the
/// container, bounded by its `Timeout`) as soon as the container runs, and a pass counts as
/// healthy. A failure proves nothing yet (docker's start period says the same); docker's own
/// `unhealthy` always wins; a container without a healthcheck is never probed.
public struct ContainerHealthcheck: Sendable {
    public let engine: DockerEngine

    public init(engine: DockerEngine) {
        self.engine = engine
    }

    /// The command docker runs for a healthcheck `test`, or `nil` (none, `NONE`, inherited).
    public static func command(_ test: [String]?) -> [String]? {
        guard let test, test.count > 1 else { return nil }
        switch test[0] {
        case "CMD": return Array(test.dropFirst())
        case "CMD-SHELL": return ["/bin/sh", "-c", test[1]]
        default: return nil
        }
    }

    /// A container's healthcheck as docker would run it.
    public struct Check: Sendable, Hashable {
        public let command: [String]
        public let timeout: Duration
    }

    /// The healthcheck of `container` (`nil`: it has none cc-ci can run).
    public func check(container: String) async throws -> Check? {
        let inspect = try await engine.inspectContainer(container)
        guard let healthcheck = inspect.Config?.Healthcheck, let command = Self.command(healthcheck.Test) else {
            return nil
        }
        let nanoseconds = healthcheck.Timeout ?? 0
        return Check(command: command, timeout: nanoseconds > 0 ? .nanoseconds(nanoseconds) : .seconds(30))
    }

    /// Runs `check` once in `container`: whether it exited 0 within its timeout.
    public func passes(_ check: Check, container: String) async -> Bool {
        let result = try? await withTimeout(check.timeout) {
            try await engine.exec(container: container, command: check.command)
        }
        return result?.succeeded ?? false
    }

    /// Runs `body`, giving up (returning `nil`) after `timeout`.
    func withTimeout<T: Sendable>(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws
        -> T?
    {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}

/// The probes of one convergence wait: which containers passed, which are being probed.
final class HealthcheckRuns: Sendable {
    private struct State {
        var passed: Set<String> = []
        var active: Set<String> = []
        /// Containers whose docker health is still `starting` (probing stops when they leave it).
        var starting: Set<String> = []
    }

    private let state = Mutex(State())

    var passed: Set<String> { state.withLock { $0.passed } }

    /// Records the containers docker still reports `starting`; returns those to start probing.
    func update(starting: Set<String>) -> Set<String> {
        state.withLock { state in
            state.starting = starting
            let new = starting.subtracting(state.passed).subtracting(state.active)
            state.active.formUnion(new)
            return new
        }
    }

    func isStarting(_ container: String) -> Bool { state.withLock { $0.starting.contains(container) } }

    func finish(_ container: String, passed: Bool) {
        state.withLock { state in
            state.active.remove(container)
            if passed { state.passed.insert(container) }
        }
    }
}
