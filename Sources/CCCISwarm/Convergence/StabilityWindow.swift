import CCCICore
import CCCISystem
import Foundation

/// Proof that a converged stack *stays* converged for a short window (SPEC F-CONVERGE).
///
/// Convergence is a moment: a healthcheck that flaps can be healthy at that moment in one run and
/// unhealthy in the next, so a verdict taken at convergence alone would blame or excuse the
/// recipe at random. A tier that passes on a converged app therefore also holds it for a window:
/// the tasks that converged must still be the ones running at the end, every container healthy
/// (a container docker has not probed yet passes its healthcheck when cc-ci runs it), and the
/// engine's event log for the window must show no container of the stack dying or turning
/// unhealthy. The window overlaps whatever the tier does meanwhile (health over the ingress, the
/// ready probe); only its remainder is waited for.
///
/// It also overlaps what swarm watched before: a rolling update completes only once its new
/// tasks ran through the update's monitor period, and a task with a healthcheck turns `running`
/// only once it is healthy. So the window starts when the last of the tasks now up turned
/// `running` — those very tasks, unreplaced, no container of theirs dying or turning unhealthy
/// since — and an update whose monitor outlasted `stable_for` has proven it already. A task still
/// `starting` starts the window now.
public struct StabilityWindow: Sendable {
    public let engine: DockerEngine

    public init(engine: DockerEngine) {
        self.engine = engine
    }

    /// What converged: the running task of each slot, when.
    public struct Baseline: Sendable {
        public let stack: String
        /// Where the window starts: when the last of the tasks up at convergence turned `running`.
        public let start: Date
        /// When the baseline was taken (convergence).
        public let converged: Date
        let clockStart: ContinuousClock.Instant
        /// Service name → the IDs of its running tasks at convergence (one-shots excluded).
        let running: [String: Set<String>]
    }

    /// Records the converged state of `stack` (call right after convergence).
    public func baseline(stack: String) async throws -> Baseline {
        let converged = Date()
        let clock = ContinuousClock.now
        let services = try await engine.services(stack: stack)
        let tasks = try await engine.tasks(services: services.map(\.ID))
        var running: [String: Set<String>] = [:]
        var start = Date.distantPast
        for service in services where !Self.finishes(service) {
            let up = tasks.filter { $0.ServiceID == service.ID && Self.isUp($0) }
            running[service.name] = Set(up.map(\.ID))
            for task in up {
                // Still `starting` (not yet healthy), or a time cc-ci cannot read: from now.
                let since = task.Status.State == "running" ? task.Status.Timestamp.flatMap(Self.date) : nil
                start = max(start, since ?? converged)
            }
        }
        // Never before the engine's recent event log (a task up for days was watched by no one
        // here), and never after convergence (a clock ahead of ours).
        start = start == .distantPast ? converged : min(max(start, converged.addingTimeInterval(-300)), converged)
        return Baseline(
            stack: stack, start: start, converged: converged,
            clockStart: clock - .milliseconds(Int64(converged.timeIntervalSince(start) * 1000)), running: running)
    }

    /// An engine timestamp (`2026-12-07T03:19:16.123456789Z`, nanoseconds) as a date.
    static func date(_ text: String) -> Date? {
        let parts = text.split(separator: ".", maxSplits: 1)
        let formatter = ISO8601DateFormatter()
        guard let base = formatter.date(from: parts.count == 2 ? "\(parts[0])Z" : text) else { return nil }
        guard parts.count == 2 else { return base }
        let digits = parts[1].prefix { $0.isNumber }
        guard let fraction = Double("0.\(digits)") else { return base }
        return base.addingTimeInterval(fraction)
    }

    /// Waits out the rest of `window` from the baseline, then checks that nothing moved.
    public func verify(_ baseline: Baseline, window: Duration) async throws {
        let remaining = baseline.clockStart + window - ContinuousClock.now
        if remaining > .zero { try await Task.sleep(for: remaining) }
        let end = Date()
        let services = try await engine.services(stack: baseline.stack)
        let finishing = Set(services.filter(Self.finishes).map(\.name))
        let watched = Set(baseline.running.values.flatMap { $0 })
        if let event = try await firstInstability(
            stack: baseline.stack, from: baseline.start, to: end, finishing: finishing, tasksBefore: watched,
            converged: baseline.converged)
        {
            throw Unstable(
                stack: baseline.stack, window: window,
                what:
                    "\(event.what) \(String(format: "%.1f", event.at.timeIntervalSince(baseline.start)))s into the window"
            )
        }
        let tasks = try await engine.tasks(services: services.map(\.ID))
        let containers = try await engine.containers(labels: ["com.docker.stack.namespace=\(baseline.stack)"])
        for service in services.sorted(by: { $0.name < $1.name }) {
            guard let before = baseline.running[service.name] else { continue }
            let now = Set(tasks.filter { $0.ServiceID == service.ID && Self.isUp($0) }.map(\.ID))
            guard before.isSubset(of: now) else {
                throw Unstable(
                    stack: baseline.stack, window: window, what: "service \(service.name)'s task was replaced")
            }
        }
        if let sick = containers.first(where: { $0.health == "unhealthy" }) {
            let service = sick.Labels?["com.docker.swarm.service.name"] ?? sick.Id
            throw Unstable(stack: baseline.stack, window: window, what: "service \(service)'s container is unhealthy")
        }
        // Docker has not run the healthcheck yet (its first probe comes one interval after the
        // start): cc-ci runs it, and it must still pass at the end of the window.
        let probe = ContainerHealthcheck(engine: engine)
        for container in containers where container.State == "running" && container.health == "starting" {
            guard let check = try await probe.check(container: container.Id) else { continue }
            if await !probe.passes(check, container: container.Id) {
                let service = container.Labels?["com.docker.swarm.service.name"] ?? container.Id
                throw Unstable(
                    stack: baseline.stack, window: window,
                    what: "service \(service)'s healthcheck failed when cc-ci ran it at the end of the window")
            }
        }
    }

    /// A task that is up: `running`, or `starting` (swarm's state until docker's first health
    /// probe passes, when convergence counted cc-ci's own probe).
    static func isUp(_ task: SwarmTask) -> Bool {
        task.Status.State == "running" || task.Status.State == "starting"
    }

    /// The first container of `stack` that died or turned unhealthy between `from` and `to`,
    /// read from the engine's event log. Before `converged` (the part of the window swarm watched)
    /// only the containers of `tasksBefore` count: the tasks an update replaced stop then.
    func firstInstability(
        stack: String, from: Date, to: Date, finishing: Set<String>, tasksBefore: Set<String> = [],
        converged: Date? = nil
    ) async throws -> (what: String, at: Date)? {
        let found = Locked<(String, Date)?>(nil)
        let since = String(format: "%.3f", from.timeIntervalSince1970)
        let until = String(format: "%.3f", to.timeIntervalSince1970)
        try await engine.streamEvents(
            filters: ["type": ["container"], "event": ["die", "health_status", "oom"]],
            since: since, until: until
        ) { event in
            let attributes = event.attributes
            guard attributes["com.docker.stack.namespace"] == stack else { return }
            if let converged, event.date < converged,
                !tasksBefore.contains(attributes["com.docker.swarm.task.id"] ?? "")
            {
                return
            }
            let service = attributes["com.docker.swarm.service.name"] ?? attributes["name"] ?? "?"
            let what: String
            switch event.Action ?? "" {
            case "health_status: unhealthy": what = "service \(service)'s container turned unhealthy"
            case "oom": what = "service \(service)'s container ran out of memory"
            case "die":
                let code = attributes["exitCode"] ?? "?"
                // A one-shot finishing its job is not instability.
                if code == "0", finishing.contains(service) { return }
                what = "service \(service)'s container exited \(code)"
            default: return
            }
            found.withLock { if $0 == nil { $0 = (what, event.date) } }
        }
        return found.value.map { (what: $0.0, at: $0.1) }
    }

    /// Services whose task may end on its own (restart policy `none` or `on-failure`): one-shots.
    static func finishes(_ service: SwarmService) -> Bool {
        service.restartCondition == "none" || service.restartCondition == "on-failure"
    }
}

/// A stack that did not stay converged through its stability window.
public struct Unstable: Error, Sendable, CustomStringConvertible {
    public let stack: String
    public let window: Duration
    public let what: String

    public var description: String {
        "the app did not stay healthy for \(DurationText.format(window)) after converging: \(what) — a healthcheck "
            + "that flaps, or a service that restarts, fails the tier (stack \(stack))"
    }
}
