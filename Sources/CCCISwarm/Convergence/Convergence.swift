import CCCICore
import Foundation

/// Whether a stack has converged (SPEC F-CONVERGE), decided from one snapshot of its services,
/// tasks and containers. Pure: the waiter takes snapshots; tests feed it recorded ones.
///
/// A service is converged when each of its desired replicas (slots; nodes for a global service)
/// is settled and no update is in flight:
/// - the slot's newest task runs the service's *current* spec and is `running`, with its
///   container's healthcheck (if any) `healthy` — swarm keeps a task `starting` until then, and
///   a `starting` task whose container already reports `healthy` counts as running; so does one
///   whose container's healthcheck passed when cc-ci ran it (``ContainerHealthcheck``) before docker's
///   first scheduled probe;
/// - or the newest task, on the current spec, is `complete` and the restart policy will not
///   restart it (`none`, `on-failure`): a one-shot that did its job counts as converged. A
///   service with restart policy `none` is a one-shot by definition (swarm never starts it
///   again), so while its task still runs it blocks: the app is not ready until its migration
///   or set-up job is done. (`on-failure` is also how some daemons run, so a running one counts.)
/// - `updating` / `rollback_started` update states block (a stop-first update can show N/N
///   replicas of the *old* tasks); `paused` / `rollback_paused` are settled — swarm leaves a
///   paused update paused forever, and N/N with health is still required;
/// - `failed`, `rejected`, and every not-yet-running state block, as does a slot with no task.
public enum Convergence {
    /// - Parameter probedHealthy: containers whose healthcheck passed when cc-ci ran it.
    public static func evaluate(
        services: [SwarmService], tasks: [SwarmTask], containers: [ContainerSummary],
        probedHealthy: Set<String> = []
    ) -> ConvergenceState {
        let tasksByService = Dictionary(grouping: tasks, by: \.ServiceID)
        let containerByTask = Dictionary(
            containers.compactMap { container in container.Labels?["com.docker.swarm.task.id"].map { ($0, container) }
            },
            uniquingKeysWith: { first, _ in first })
        let states = services.sorted { $0.name < $1.name }.map { service in
            evaluate(
                service: service, tasks: tasksByService[service.ID] ?? [], containerByTask: containerByTask,
                probedHealthy: probedHealthy)
        }
        return ConvergenceState(services: states)
    }

    static func evaluate(
        service: SwarmService, tasks: [SwarmTask], containerByTask: [String: ContainerSummary],
        probedHealthy: Set<String>
    ) -> ServiceConvergence {
        var blockers: [String] = []
        let updateState = service.UpdateStatus?.State
        if updateState == "updating" || updateState == "rollback_started" {
            blockers.append("update \(updateState!)")
        }
        let groups = Dictionary(grouping: tasks) { task in
            service.isGlobal ? (task.NodeID ?? "?") : String(task.Slot ?? 0)
        }
        var running = 0
        var completed = 0
        var states: [String] = []
        for key in groups.keys.sorted() {
            let newest = groups[key]!.max { order($0) < order($1) }!
            let state = newest.Status.State
            let desired = newest.DesiredState ?? "running"
            if desired == "shutdown" && (state == "shutdown" || state == "orphaned" || state == "remove") {
                continue  // a retired slot (scaled down, or a removed node)
            }
            states.append(state)
            guard service.isCurrent(newest) else {
                blockers.append("slot \(key): task runs the previous spec (\(state))")
                continue
            }
            if state == "complete" {
                // A one-shot that did its job. With the default restart policy (`any`) swarm
                // replaces a task that exits 0, so a completed task there is not settled.
                if service.restartCondition == "none" || service.restartCondition == "on-failure" {
                    completed += 1
                } else {
                    blockers.append("slot \(key): task complete, about to be restarted (restart policy any)")
                }
                continue
            }
            if service.restartCondition == "none", state == "running" || state == "starting" {
                blockers.append("slot \(key): one-shot task still \(state) (restart policy none)")
                continue
            }
            var health = containerByTask[newest.ID]?.health
            if health == "starting", let container = containerByTask[newest.ID], probedHealthy.contains(container.Id) {
                health = "healthy"
            }
            // Swarm holds a task in `starting` until its container's healthcheck passes, and
            // reports `running` a few hundred milliseconds after the container does: a healthy
            // container is taken at its word.
            if state == "running" || (state == "starting" && health == "healthy") {
                if health == "starting" || health == "unhealthy" {
                    blockers.append("slot \(key): container health \(health!)")
                } else {
                    running += 1
                }
            } else {
                var blocker = "slot \(key): task \(state)"
                if state == "starting", let health { blocker += " (container health \(health))" }
                if let error = newest.Status.Err, !error.isEmpty { blocker += " (\(error))" }
                blockers.append(blocker)
            }
        }
        let desired = service.desiredReplicas
        if running + completed < desired && blockers.isEmpty {
            blockers.append("\(running + completed)/\(desired) replicas settled")
        }
        let lastError = tasks.filter { !($0.Status.Err ?? "").isEmpty }.max { order($0) < order($1) }?.Status.Err
        var result = ServiceConvergence(
            name: service.name, desired: desired, running: running, completed: completed, updateState: updateState,
            taskStates: states, blockers: blockers, lastError: lastError)
        // Serving: settled but for an update's monitor period, with no task of an older spec
        // still up (a start-first update runs both for a moment; a request could reach the old).
        let staleUp = tasks.contains { task in
            !service.isCurrent(task) && ["running", "starting"].contains(task.Status.State)
        }
        result.serving =
            updateState == "updating" && blockers == ["update updating"] && !staleUp
            && running + completed >= desired
        return result
    }

    /// The most recently *created* task of a slot is its current one. (Not the highest object
    /// version: shutting an old task down bumps its version above its replacement's — a
    /// start-first update would then look like a retired slot.)
    static func order(_ task: SwarmTask) -> (String, UInt64) {
        (sortableTimestamp(task.CreatedAt ?? ""), task.Version?.Index ?? 0)
    }

    /// An RFC 3339 timestamp whose text sorts like its time: Go trims trailing zeros of the
    /// nanoseconds (`…:52.5Z`, `…:52.55Z`), so the fraction is padded to nine digits.
    public static func sortableTimestamp(_ text: String) -> String {
        guard let dot = text.firstIndex(of: ".") else {
            return text.hasSuffix("Z") ? String(text.dropLast()) + ".000000000Z" : text
        }
        let whole = text[..<dot]
        let rest = text[text.index(after: dot)...]
        let digits = rest.prefix { $0.isNumber }
        let zone = rest.dropFirst(digits.count)
        return "\(whole).\(digits.padding(toLength: 9, withPad: "0", startingAt: 0))\(zone)"
    }
}
