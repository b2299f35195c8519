import CCCICore
import Foundation
import Logging
import Synchronization

/// Waits for a stack to converge, driven by the engine's event stream (SPEC F-CONVERGE).
///
/// Container and service events wake an evaluation at once; after each event the state is
/// re-checked on a short backoff (25 ms doubling to 500 ms) because swarm's task state trails the
/// container event that caused it. There is no fixed sleep: the longest gap between checks is
/// 500 ms, and every wait is bounded by its timeout. On timeout the error says which services
/// were not settled, why, their last task error and their last log lines.
public struct ConvergenceWaiter: Sendable {
    /// What to wait for: convergence (an update's monitor period included), or only until the
    /// current spec's tasks alone are up and settled (``ConvergenceState/serving``).
    public enum Goal: Sendable {
        case converged, serving
    }

    public let engine: DockerEngine
    public let logger: Logger

    public init(engine: DockerEngine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// One observation of a stack.
    public func snapshot(stack: String) async throws -> ConvergenceState {
        try await observe(stack: stack, probedHealthy: []).state
    }

    /// One observation of a stack, counting `probedHealthy` containers as healthy; also returns the
    /// running containers whose docker health is still `starting` (the ones to probe).
    func observe(
        stack: String, probedHealthy: Set<String>
    ) async throws -> (state: ConvergenceState, starting: Set<String>) {
        let services = try await engine.services(stack: stack)
        guard !services.isEmpty else { return (ConvergenceState(services: []), []) }
        async let tasks = engine.tasks(services: services.map(\.ID))
        async let containers = engine.containers(labels: ["com.docker.stack.namespace=\(stack)"])
        let found = try await containers
        let starting = Set(found.filter { $0.State == "running" && $0.health == "starting" }.map(\.Id))
        let state = Convergence.evaluate(
            services: services, tasks: try await tasks, containers: found, probedHealthy: probedHealthy)
        return (state, starting)
    }

    /// Waits until `stack` converges or `timeout` passes.
    /// - Parameter progress: called with each new state that is not yet converged (for a spinner).
    /// - Returns: the converged state and how long it took.
    @discardableResult
    public func wait(
        stack: String, timeout: Duration, until goal: Goal = .converged,
        progress: (@Sendable (ConvergenceState) -> Void)? = nil
    ) async throws -> (state: ConvergenceState, elapsed: Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        let backoff = RecheckDelay()
        let (wakes, wake) = AsyncStream.makeStream(of: WakeReason.self, bufferingPolicy: .bufferingNewest(1))
        let engine = self.engine
        let prefix = stack + "_"

        return try await withThrowingTaskGroup(of: Void.self) { group in
            // Events: any container or service of this stack changing wakes an evaluation.
            group.addTask {
                try await engine.streamEvents(filters: ["type": ["container", "service"]]) { event in
                    let attributes = event.attributes
                    let relevant =
                        attributes["com.docker.stack.namespace"] == stack
                        || (attributes["name"]?.hasPrefix(prefix) ?? false)
                    guard relevant else { return }
                    backoff.reset()
                    wake.yield(.event)
                }
            }
            // Re-check ticks and the deadline.
            group.addTask {
                while !Task.isCancelled {
                    let delay = backoff.next()
                    let remaining = deadline - clock.now
                    if remaining <= .zero {
                        wake.yield(.deadline)
                        return
                    }
                    try await Task.sleep(for: min(delay, remaining))
                    wake.yield(.tick)
                }
            }
            defer {
                group.cancelAll()
                wake.finish()
            }
            var last: ConvergenceState?
            var reason = WakeReason.tick
            var iterator = wakes.makeAsyncIterator()
            let probes = HealthcheckRuns()
            while true {
                let (state, starting) = try await observe(stack: stack, probedHealthy: probes.passed)
                if state.converged || (goal == .serving && state.serving) {
                    if !probes.passed.isEmpty {
                        logger.debug(
                            "healthy before docker's first probe: cc-ci ran the healthcheck",
                            metadata: ["swarm.stack": "\(stack)", "health.probed": "\(probes.passed.count)"])
                    }
                    return (state, clock.now - start)
                }
                // Run the healthcheck of every container docker has not probed yet.
                for container in probes.update(starting: starting) {
                    group.addTask { await probe(container, probes: probes, wake: wake) }
                }
                if state != last {
                    progress?(state)
                    logger.debug(
                        "waiting",
                        metadata: [
                            "swarm.stack": "\(stack)", "convergence.waiting_on": "\(state.waitingOn.map(\.summary))",
                        ])
                }
                last = state
                if reason == .deadline || clock.now >= deadline {
                    throw await timeoutError(stack: stack, timeout: timeout, state: state)
                }
                guard let next = await iterator.next() else {
                    throw CancellationError()
                }
                reason = next
                try Task.checkCancellation()
            }
        }
    }

    /// Runs `container`'s healthcheck until it passes (then wakes an evaluation) or docker's
    /// health leaves `starting`: first at once, then every 100 ms doubling to 1 s. A container
    /// whose healthcheck cannot be read is left to docker.
    func probe(_ container: String, probes: HealthcheckRuns, wake: AsyncStream<WakeReason>.Continuation) async {
        let probe = ContainerHealthcheck(engine: engine)
        guard let check = try? await probe.check(container: container) else { return }
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled, probes.isStarting(container) {
            if await probe.passes(check, container: container) {
                probes.finish(container, passed: true)
                wake.yield(.event)
                return
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }

    /// The re-check delay: reset by events, doubled by each tick up to 500 ms.
    private final class RecheckDelay: Sendable {
        private let delay = Mutex(Duration.milliseconds(25))

        func reset() {
            delay.withLock { $0 = .milliseconds(25) }
        }

        func next() -> Duration {
            delay.withLock { current in
                let value = current
                current = min(current * 2, .milliseconds(500))
                return value
            }
        }
    }

    enum WakeReason: Sendable {
        case event, tick, deadline
    }

    /// Builds the timeout explanation, with each unsettled service's last log lines.
    func timeoutError(stack: String, timeout: Duration, state: ConvergenceState) async -> ConvergenceTimeout {
        var logs: [String: String] = [:]
        for service in state.waitingOn {
            if let text = try? await engine.serviceLogs(service.name, tail: 20) { logs[service.name] = text }
        }
        return ConvergenceTimeout(stack: stack, timeout: timeout, state: state, logs: logs)
    }
}

/// A stack that did not converge in time.
public struct ConvergenceTimeout: Error, Sendable, CustomStringConvertible {
    public let stack: String
    public let timeout: Duration
    public let state: ConvergenceState
    /// The last log lines of each unsettled service.
    public let logs: [String: String]

    public var description: String {
        let headline =
            state.services.isEmpty
            ? "no services exist for the stack"
            : state.waitingOn.map(\.summary).joined(separator: "; ")
        var lines = ["stack \(stack) did not converge within \(DurationText.format(timeout)): \(headline)"]
        for service in state.waitingOn {
            lines.append("  service \(service.summary)")
            lines.append(
                "    task states: \(service.taskStates.isEmpty ? "none yet" : service.taskStates.joined(separator: ", "))"
            )
            if let text = logs[service.name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
                lines.append("    last log lines:")
                for line in text.split(separator: "\n").suffix(10) { lines.append("      \(line)") }
            }
        }
        return lines.joined(separator: "\n")
    }
}
