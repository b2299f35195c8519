import CCCICore
import CoreMetrics
import Foundation
import Prometheus

/// What `ccci serve` counts, for `/metrics` in Prometheus' text format (SPEC F-DASH): runs by
/// recipe and outcome, run and tier durations (histograms), tier failures, webhook requests by
/// result — through swift-metrics, into this server's own Prometheus registry (no process-wide
/// bootstrap, so several servers in one test process keep separate counts). Queue depth and busy
/// workers are read from the store when scraped, so they can never drift from it.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "ccci_run_duration_seconds": [10, 30, 60, 120, 300, 600, 1200, 1800, 3600].map { .seconds($0) },
            "ccci_tier_duration_seconds": [1, 2, 5, 10, 30, 60, 120, 300, 600].map { .seconds($0) },
        ]
        self.factory = factory
    }

    /// A run a worker saw finish, from its results document.
    public func runFinished(_ results: RunResults) {
        Counter(
            label: "ccci_runs_total", dimensions: [("recipe", results.recipe), ("outcome", results.outcome.rawValue)],
            factory: factory
        ).increment()
        Timer(label: "ccci_run_duration_seconds", dimensions: [("recipe", results.recipe)], factory: factory)
            .recordNanoseconds(Int64(results.durationSeconds * 1e9))
        for (tier, result) in results.tiers where result.status != .skip && result.status != .na {
            Timer(label: "ccci_tier_duration_seconds", dimensions: [("tier", tier)], factory: factory)
                .recordNanoseconds(Int64(result.durationSeconds * 1e9))
            if result.status == .fail || result.status == .flaky {
                Counter(label: "ccci_tier_failures_total", dimensions: [("tier", tier)], factory: factory).increment()
            }
        }
    }

    /// A webhook delivery answered with HTTP `status`.
    public func webhook(status: Int) {
        Counter(label: "ccci_webhook_requests_total", dimensions: [("result", Self.result(status))], factory: factory)
            .increment()
    }

    /// A webhook answer as a word: `accepted` (a job queued or coalesced), `ignored`,
    /// `unauthorized` (no or a forged signature), `too_large`, `invalid`, `error`.
    static func result(_ status: Int) -> String {
        switch status {
        case 202: "accepted"
        case 200, 204: "ignored"
        case 401, 403: "unauthorized"
        case 413: "too_large"
        case 400..<500: "invalid"
        default: "error"
        }
    }

    /// The metrics in Prometheus' text format, with the queue, the outbox and the live log
    /// streams as they are now.
    public func render(queued: Int, running: Int, workers: Int, repliesPending: Int = 0, streams: Int = 0) -> [UInt8] {
        Gauge(label: "ccci_queue_depth", factory: factory).record(queued)
        Gauge(label: "ccci_workers_busy", factory: factory).record(running)
        Gauge(label: "ccci_workers", factory: factory).record(workers)
        Gauge(label: "ccci_replies_pending", factory: factory).record(repliesPending)
        Gauge(label: "ccci_live_streams", factory: factory).record(streams)
        return registry.emitToBuffer()
    }
}
