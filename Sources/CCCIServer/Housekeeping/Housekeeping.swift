import CCCICore
import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// The server's periodic chores: run directory retention (``Retention``) and forgetting old
/// webhook deliveries and delivered replies, at start and then every ``interval``, so that a
/// server that runs for months does not fill its disk.
public struct Housekeeping: Service {
    let retention: Retention
    let store: SQLiteStore
    let interval: Duration
    let logger: Logger

    public init(retention: Retention, store: SQLiteStore, interval: Duration = .seconds(6 * 3600), logger: Logger) {
        self.retention = retention
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            await sweep()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func sweep() async {
        let report = retention.collect(dryRun: false, active: await Retention.activeRuns(in: store))
        if !report.removed.isEmpty || !report.failures.isEmpty {
            logger.notice(
                "run directories collected",
                metadata: [
                    "gc.removed": "\(report.removed.count)", "gc.bytes": "\(report.bytes)", "gc.kept": "\(report.kept)",
                    "gc.failures": "\(report.failures)",
                ])
        }
        do {
            try await store.pruneQueueHistory(before: Date().addingTimeInterval(-30 * 86_400))
        } catch {
            logger.warning("cannot prune the queue history", metadata: ["error.message": "\(error)"])
        }
    }
}
