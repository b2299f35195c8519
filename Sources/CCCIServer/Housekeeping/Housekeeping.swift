import CCCICore
import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// The server's periodic chores: run directory retention (``Retention``), pruning the node's
/// backups of torn-down apps' data, and forgetting old webhook deliveries and delivered replies,
/// at start and then every ``interval``, so that a server that runs for months does not fill its
/// disk.
public struct Housekeeping: Service {
    let retention: Retention
    let store: any NodeStore
    let interval: Duration
    /// Prunes the node's backup repository and says what it freed (``ServerArguments/pruneBackups``).
    let pruneBackups: (@Sendable () async throws -> String)?
    let logger: Logger

    public init(
        retention: Retention, store: any NodeStore, interval: Duration = .seconds(6 * 3600),
        pruneBackups: (@Sendable () async throws -> String)? = nil, logger: Logger
    ) {
        self.retention = retention
        self.store = store
        self.interval = interval
        self.pruneBackups = pruneBackups
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await sweep()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    public func sweep() async {
        let report = retention.collect(dryRun: false, active: await Retention.activeRuns(in: store))
        if !report.removed.isEmpty || !report.failures.isEmpty {
            logger.notice(
                "run directories collected",
                metadata: [
                    "gc.removed": "\(report.removed.count)", "gc.bytes": "\(report.bytes)", "gc.kept": "\(report.kept)",
                    "gc.failures": "\(report.failures)",
                ])
        }
        if let pruneBackups {
            do {
                let pruned = try await pruneBackups()
                logger.info("backups pruned", metadata: ["gc.backups": "\(pruned)"])
            } catch {
                logger.warning("cannot prune the backups", metadata: ["error.message": "\(error)"])
            }
        }
        do {
            try await store.pruneQueueHistory(before: Date().addingTimeInterval(-30 * 86_400))
        } catch {
            logger.warning("cannot prune the queue history", metadata: ["error.message": "\(error)"])
        }
    }
}
