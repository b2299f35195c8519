import CCCICore
import CCCISwarm
import Foundation
import Logging
import ServiceLifecycle

/// Keeps the lab ingress' routes in step with the swarm: resyncs whenever a service is created,
/// updated or removed, so stacks deployed by hand (`docker stack deploy`) get their routes too.
/// (cc-ci's own driver also syncs right after each deploy, so runs never wait on the watcher.)
/// A long-lived `Service`: it runs in a `ServiceGroup` and ends on the group's graceful shutdown.
public struct IngressWatcher: Service {
    public let ingress: LabIngress
    public let logger: Logger

    public init(ingress: LabIngress, logger: Logger) {
        self.ingress = ingress
        self.logger = logger
    }

    /// Runs until the group shuts down (or the task is cancelled).
    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await watch() }
    }

    func watch() async throws {
        let (changes, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        signal.yield()  // initial sync
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var delay = Duration.milliseconds(200)
                while !Task.isCancelled {
                    do {
                        try await ingress.engine.streamEvents(filters: ["type": ["service"]]) { _ in signal.yield() }
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.warning("event stream ended, reconnecting", metadata: ["error.message": "\(error)"])
                    }
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                    signal.yield()
                }
            }
            group.addTask {
                for await _ in changes {
                    // Debounce: a stack deploy creates several services in quick succession.
                    try await Task.sleep(for: .milliseconds(150))
                    do {
                        let routes = try await ingress.syncRoutes()
                        logger.info("ingress synced", metadata: ["ingress.routes": "\(routes.count)"])
                    } catch {
                        logger.error("ingress sync failed", metadata: ["error.message": "\(error)"])
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
