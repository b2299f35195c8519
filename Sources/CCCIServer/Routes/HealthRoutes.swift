import Hummingbird

/// `GET /healthz`: the server is up and answering (for the service manager and the reverse proxy).
struct HealthRoutes {
    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/healthz") { _, _ in Response.text(.ok, "ok") }
    }
}
