import CCCICore
import CCCIServer
import CCCITestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `/metrics`: what `ccci serve` counts, in Prometheus' text format.
@Suite struct MetricsTests {
    @Test("webhook requests are counted by result, and the queue is read from the store when scraped")
    func webhooksAndQueue() async throws {
        try await InProcessServer.with { server in
            try await server.post(WebhookFixture.comment("!testme"))
            try await server.post(WebhookFixture.comment("!testme"), signature: .some(nil))
            try await server.post(WebhookFixture.comment("a plain comment", commentID: 102))
            let response = try await server.client.execute(uri: "/metrics", method: .get, headers: [:], body: nil)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(buffer: response.body)
            #expect(text.contains("ccci_webhook_requests_total{result=\"accepted\"} 1"), "\(text)")
            #expect(text.contains("ccci_webhook_requests_total{result=\"unauthorized\"} 1"))
            #expect(text.contains("ccci_webhook_requests_total{result=\"ignored\"} 1"))
            #expect(text.contains("ccci_queue_depth 1") && text.contains("ccci_workers_busy 0"))
        }
    }

    @Test("a finished run counts by recipe and outcome, with run and tier durations as histograms and tier failures")
    func runs() {
        let metrics = ServerMetrics()
        let results = DashboardTests.results("web", level: 3, runID: "20260101T000000Z-web-aaaaaa", startedAt: Date())
        metrics.runFinished(results)
        metrics.runFinished(results)
        let text = String(decoding: metrics.render(queued: 0, running: 0, workers: 2), as: UTF8.self)
        #expect(text.contains("ccci_runs_total{recipe=\"web\",outcome=\"fail\"} 2"), "\(text)")
        #expect(text.contains("ccci_run_duration_seconds_bucket{recipe=\"web\",le=\"60.0\"} 2"))
        #expect(text.contains("ccci_run_duration_seconds_bucket{recipe=\"web\",le=\"30.0\"} 0"), "42 s runs")
        #expect(text.contains("ccci_run_duration_seconds_count{recipe=\"web\"} 2"))
        #expect(text.contains("ccci_tier_duration_seconds_count{tier=\"install\"} 2"))
        #expect(text.contains("ccci_tier_failures_total{tier=\"custom\"} 2"))
        #expect(!text.contains("ccci_tier_failures_total{tier=\"install\"}"))
        #expect(text.contains("ccci_workers 2"))
    }
}
