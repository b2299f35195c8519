import CCCICore
import CCCISystem
import Foundation

/// Whose objects a removal may touch.
public enum StackOwnership: Sendable, Hashable {
    /// Only what cc-ci created for an app: objects labelled `ccci.managed=true` and
    /// `ccci.stack=<stack>` (the native driver stamps both on services, containers, volumes,
    /// networks, configs and secrets). Every removal of an app's objects uses this.
    case ccci
    /// Everything `docker stack deploy` stamped `com.docker.stack.namespace=<stack>` — for
    /// stacks that are not apps: the lab's own ingress, and stacks a test deploys itself.
    case stackNamespace

    /// Whether an object with `labels` belongs to `stack` under this rule.
    public func owns(_ labels: [String: String], stack: String) -> Bool {
        switch self {
        case .ccci: return labels["ccci.managed"] == "true" && labels["ccci.stack"] == stack
        case .stackNamespace: return labels["com.docker.stack.namespace"] == stack
        }
    }
}

/// Finding and removing what a stack owns, and reporting everything else left in its name.
///
/// What a removal may touch is decided by a ``StackOwnership`` rule, by label — never by name:
/// for an app that is only what cc-ci labelled as its own, so no argument, stack name or
/// recipe can make it delete a stack, volume or secret that cc-ci did not create.
/// ``residue(stack:files:)`` also reports objects merely *named* `s_…` or stamped with the stack
/// namespace (a volume made by hand for the app): teardown never deletes them, but it names them.
public struct StackJanitor: Sendable {
    public let engine: DockerEngine
    public let ownership: StackOwnership

    public init(engine: DockerEngine, ownership: StackOwnership = .ccci) {
        self.engine = engine
        self.ownership = ownership
    }

    /// Everything of `stack` still on the node — owned or merely named after it; `files` are
    /// checked for existence too.
    public func residue(stack: String, files: [URL] = []) async throws -> Residue {
        try await find(stack: stack, files: files, byName: true)
    }

    /// The objects `stack` owns under the janitor's ownership rule.
    public func owned(stack: String) async throws -> Residue {
        try await find(stack: stack, files: [], byName: false)
    }

    private func find(stack: String, files: [URL], byName: Bool) async throws -> Residue {
        let prefix = stack + "_"
        let ownership = self.ownership
        func mine(_ name: String, _ labels: [String: String]) -> Bool {
            if ownership.owns(labels, stack: stack) { return true }
            guard byName else { return false }
            return name.hasPrefix(prefix) || labels["com.docker.stack.namespace"] == stack
                || labels["ccci.stack"] == stack
        }
        var residue = Residue()
        residue.services = try await engine.services().filter { mine($0.name, $0.labels) }.map(\.name)
        residue.containers = try await engine.containers(labels: ["com.docker.stack.namespace=\(stack)"])
            .filter { mine("", $0.Labels ?? [:]) }.map { $0.Names?.first ?? $0.Id }
        residue.volumes = try await engine.volumes().filter { mine($0.Name, $0.labels) }.map(\.Name)
        residue.secrets = try await engine.secrets().filter { mine($0.name, $0.labels) }.map(\.name)
        residue.configs = try await engine.configs().filter { mine($0.name, $0.labels) }.map(\.name)
        residue.networks = try await engine.networks().filter { mine($0.Name, $0.labels) }.map(\.Name)
        residue.files = files.filter { FileManager.default.fileExists(atPath: $0.path) }.map(\.path)
        return residue
    }

    /// The running containers of `stack` this janitor may remove.
    private func ownedContainers(stack: String) async throws -> [ContainerSummary] {
        try await engine.containers(labels: ["com.docker.stack.namespace=\(stack)"])
            .filter { ownership.owns($0.Labels ?? [:], stack: stack) }
    }

    /// Removes the services of `stack` and waits (bounded) for their containers to go; volumes,
    /// secrets, configs and networks stay (abra's `app undeploy`).
    public func removeServices(stack: String, timeout: Duration = .seconds(120)) async throws {
        for service in try await owned(stack: stack).services { try await engine.removeService(service) }
        _ = try await poll(until: { try await ownedContainers(stack: stack).isEmpty }, timeout: timeout)
    }

    /// Removes every object of `stack` this janitor owns — services, then their containers
    /// (forcibly: the app is being deleted), networks, configs, secrets and volumes — and returns
    /// what is left of it (strays named after it included). Idempotent; a half-removed stack is
    /// fine.
    ///
    /// Swarm finishes in the background: an agent may still be creating a container for a task
    /// of a service just removed, a volume stays "in use" until its container is gone, an
    /// overlay network is deleted once its last endpoint is. So the removal is repeated, on a
    /// short backoff bounded by `timeout`, until the stack owns nothing and no task of the
    /// removed services can still create a container (each is gone, or reached `running` or
    /// past it). A task whose container was force-removed stays `running` for seconds more —
    /// its agent is still waiting out the container's stop grace period — and waiting for it
    /// to be deleted would add those seconds to every teardown while protecting nothing.
    @discardableResult
    public func remove(stack: String, timeout: Duration = .seconds(120)) async throws -> Residue {
        let services = try await engine.services(stack: stack).filter { ownership.owns($0.labels, stack: stack) }
        let serviceIDs = Set(services.map(\.ID))
        for service in services { try await engine.removeService(service.ID) }
        // Gone when the stack owns nothing and no removed service's task can still make a
        // container; on timeout the residue report below says what stayed. The tasks are read
        // before the objects: a task seen at `running` already had its container, so a
        // container listing after that sees it (or its removal).
        _ = try await poll(
            until: { () async throws -> Bool in
                let tasks =
                    serviceIDs.isEmpty
                    ? [] : try await engine.tasks().filter { serviceIDs.contains($0.ServiceID) }
                let starting = tasks.filter(\.mayStillCreateContainer)
                let left = try await owned(stack: stack)
                if left.isEmpty && starting.isEmpty { return true }
                for service in left.services { try? await engine.removeService(service) }
                for container in try await ownedContainers(stack: stack) {
                    try? await engine.removeContainer(container.Id)
                }
                for network in left.networks { try? await engine.removeNetwork(network) }
                for config in left.configs { try? await engine.removeConfig(config) }
                for secret in left.secrets { try? await engine.removeSecret(secret) }
                for volume in left.volumes { try? await engine.removeVolume(volume) }
                guard starting.isEmpty else { return false }
                return try await owned(stack: stack).isEmpty
            }, timeout: timeout)
        return try await residue(stack: stack)
    }
}
