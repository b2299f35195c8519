import CCCIStore
import Hummingbird
import NIOCore

/// `GET /healthz`: the server is up and answering (for the service manager and the reverse
/// proxy); `GET /metrics`: ``ServerMetrics`` in Prometheus' text format, the queue read from the
/// store at scrape time.
struct HealthRoutes {
    let store: SQLiteStore
    let metrics: ServerMetrics
    let workers: Int

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/healthz") { _, _ in Response.text(.ok, "ok") }
        router.get("/metrics") { _, _ -> Response in
            let queued = try await store.jobCount(in: .queued)
            let running = try await store.jobCount(in: .running)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers,
                body: .init(
                    byteBuffer: ByteBuffer(
                        bytes: metrics.render(queued: queued, running: running, workers: workers))))
        }
    }
}
