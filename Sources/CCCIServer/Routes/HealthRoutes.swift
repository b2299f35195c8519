import CCCIStore
import Hummingbird
import NIOCore

/// `GET /healthz`: the server is up and its store can be written (for the service manager and
/// the reverse proxy) — 503 saying why when it cannot, since a server that cannot write its
/// queue accepts nothing; `GET /metrics`: ``ServerMetrics`` in Prometheus' text format, the
/// queue and the outbox read from the store at scrape time.
struct HealthRoutes {
    let store: any NodeStore
    let metrics: ServerMetrics
    let workers: Int
    let streams: LiveStreams

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/healthz") { _, _ -> Response in
            do {
                try await store.probeWrite(within: .seconds(2))
            } catch {
                return .text(.serviceUnavailable, "the store cannot be written: \(error)")
            }
            return .text(.ok, "ok")
        }
        router.get("/metrics") { _, _ -> Response in
            let queued = try await store.jobCount(in: .queued)
            let running = try await store.jobCount(in: .running)
            let pending = try await store.pendingReplyCount()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers,
                body: .init(
                    byteBuffer: ByteBuffer(
                        bytes: metrics.render(
                            queued: queued, running: running, workers: workers, repliesPending: pending,
                            streams: streams.count))))
        }
    }
}
