import CCCICore
import CCCIStore
import Foundation
import Hummingbird
import NIOCore

/// The dashboard (SPEC F-DASH): `/` (the recipe matrix), `/recipes/<name>`, `/runs/<id>` (a run,
/// followed live while it runs: `/runs/<id>/events`), `/queue`, and the badges
/// `/badge/<recipe>.svg` and `/badge/<recipe>/<tier>.svg`. Every page is server-rendered HTML,
/// complete without JavaScript; names and ids are checked before they reach the store or a path.
struct DashboardRoutes {
    let store: any NodeStore
    /// The runs' files (their logs while they run).
    let artifacts: any RunArtifacts
    let config: NodeConfig
    let links: Links
    /// The forge's web address, for links to pull requests.
    let forgeURL: String?
    /// Cancels jobs from the queue page.
    let bridge: Bridge
    /// The token an operator gives to cancel a job (`nil`: cancelling is off).
    let adminToken: SecretValue?
    /// The live log streams open, and their limits.
    let streams: LiveStreams
    /// The matrix and the badges as last rendered.
    let cache = RenderCache()
    /// Finished runs' pages as last rendered (fewer: a page is tens of kilobytes).
    let runPages = RenderCache(limit: 256)

    func addRoutes(to router: Router<ServerContext>) {
        router.get("/") { _, _ -> Response in
            // The ages it shows are in minutes: kept for at most 30 s.
            let page = try await cache.body("/", generation: store.generation(), maxAge: .seconds(30)) {
                MatrixPage.render(
                    try await store.recipeMatrix(), canonicals: try await store.canonicals(), now: Date()
                ).rendered
            }
            return .html(page.body)
        }
        router.get("/recipes/:name") { _, context -> Response in
            guard let name = context.parameters.get("name"), RecipeName.problem(name) == nil else {
                return .notFoundPage("That is not a recipe name.")
            }
            let runs = try await store.runs(recipe: name, limit: 200)
            guard !runs.isEmpty || config.catalogueClones.contains(name) else {
                return .notFoundPage("No recipe \(name) is enrolled or has runs here.")
            }
            // The memory trend reads the newest runs' documents (their profiles are not in a summary).
            var profiled: [RunResults] = []
            for run in runs.prefix(MemoryTrend.window * 2) {
                // A document this node cannot read (another version wrote it) is left out of the trend.
                if let results = try? await store.results(runID: run.runID), results.mode == "cold" {
                    profiled.append(results)
                }
            }
            return .html(RecipePage.render(recipe: name, runs: runs, profiled: profiled, now: Date()))
        }
        router.get("/runs/:id") { _, context -> Response in
            guard let id = context.parameters.get("id"), RunID.isValid(id) else {
                return .notFoundPage("That is not a run id.")
            }
            // A finished run's page does not change: kept while the store's generation stands.
            let finished = try await runPages.body(ifAny: id, generation: store.generation()) {
                guard let results = try await finishedResults(id) else { return nil }
                return RunPage.render(results, origin: try await origin(of: id)).rendered
            }
            if let finished { return .html(finished.body) }
            guard await artifacts.hasRun(id) else { return .notFoundPage("No run \(id) here.") }
            let job = try await store.job(runID: id)
            let log = await artifacts.log(of: id, from: 0).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return .html(RunPage.renderLive(runID: id, recipe: job?.recipe, log: log))
        }
        router.get("/runs/:id/events") { request, context -> Response in
            guard let id = context.parameters.get("id"), await artifacts.hasRun(id) else {
                return .text(.notFound, "no such run")
            }
            let ticket: LiveStreams.Ticket
            switch streams.open(client: context.clientAddress) {
            case .success(let granted):
                ticket = granted
            case .failure(.stopping):
                return .text(.serviceUnavailable, "the server is stopping")
            case .failure(.full(let limit)):
                return .tooMany("\(limit) live log streams are open on this server, its limit — try again later")
            case .failure(.clientFull(let limit)):
                return .tooMany(
                    "\(limit) live log streams are open from your address, its limit — close one (another tab?)")
            }
            let from = request.uri.queryParameters.get("from").flatMap(Int.init) ?? 0
            let store = self.store
            let config = self.config
            return LogEvents(
                runID: id, artifacts: artifacts, isRunning: { await Self.isRunning(id, store: store, config: config) },
                ticket: ticket, watch: await context.connectionWatch()
            ).response(from: from)
        }
        router.get("/queue") { request, _ -> Response in
            // Any page number reads (one past the last shows none); none overflows the offset.
            let page = min(max(1, request.uri.queryParameters.get("page").flatMap(Int.init) ?? 1), 1_000_000)
            let running = try await store.jobs(in: [.running])
            let waiting = try await store.jobCount(in: .queued)
            let offset = (page - 1) * QueuePage.pageSize
            let queued = try await store.jobs(in: [.queued], limit: QueuePage.pageSize, offset: offset)
            return .html(
                QueuePage.render(
                    running: running, queued: queued, waiting: waiting, page: page, now: Date(),
                    cancellable: adminToken != nil))
        }
        router.post("/queue/:number/cancel") { request, context -> Response in
            guard let number = context.parameters.get("number").flatMap(Int64.init), number > 0 else {
                return .notFoundPage("That is not a job number.")
            }
            return try await QueueCancel(bridge: bridge, adminToken: adminToken).cancel(number, request: request)
        }
        // One parameter name per position (the router's rule): `:recipe` is `web.svg` here.
        router.get("/badge/:recipe") { request, context -> Response in
            guard let file = context.parameters.get("recipe"), file.hasSuffix(".svg"),
                case let recipe = String(file.dropLast(4)), RecipeName.problem(recipe) == nil
            else { return .text(.notFound, "no such badge") }
            let badge = try await cache.body(request.uri.path, generation: store.generation()) {
                Badge.level(try await store.recipeStatus(recipe)?.latest.level).svg
            }
            return .badge(badge, request: request)
        }
        router.get("/badge/:recipe/:file") { request, context -> Response in
            guard let recipe = context.parameters.get("recipe"), RecipeName.problem(recipe) == nil,
                let file = context.parameters.get("file"), file.hasSuffix(".svg"),
                let tier = Tier(rawValue: String(file.dropLast(4)))
            else { return .text(.notFound, "no such badge") }
            let badge = try await cache.body(request.uri.path, generation: store.generation()) {
                Badge.tier(tier, try await store.recipeStatus(recipe)?.latest.tiers[tier.rawValue]).svg
            }
            return .badge(badge, request: request)
        }
    }

    /// The results of finished run `id` (``RunArtifacts/resultsDocument(_:history:)``).
    func finishedResults(_ id: String) async throws -> RunResults? {
        guard let data = try await artifacts.resultsDocument(id, history: store) else { return nil }
        return try? JSONCoding.decoder.decode(RunResults.self, from: data)
    }

    /// The pull request and requester of run `id`, when a job started it.
    func origin(of id: String) async throws -> RunPage.Origin? {
        guard let job = try await store.job(runID: id) else { return nil }
        let base = (forgeURL ?? "").trimmingCharacters(in: ["/"])
        return RunPage.Origin(pullRequestURL: "\(base)/\(job.repository)/pulls/\(job.pr)", requester: job.requester)
    }

    /// Whether run `id` still runs: its job's current run and running, or — a run no job started
    /// (`ccci run` on the command line, the sweep) — registered as a live run.
    static func isRunning(_ id: String, store: any NodeStore, config: NodeConfig) async -> Bool {
        if let job = try? await store.job(runID: id) { return job.state == .running }
        return FileManager.default.fileExists(
            atPath: config.liveRunsDirectory.appendingPathComponent("\(id).json").path)
    }
}

extension Response {
    /// An HTML page.
    static func html(_ page: HTML, status: HTTPResponse.Status = .ok) -> Response {
        html(ByteBuffer(string: page.rendered), status: status)
    }

    /// An HTML page already rendered.
    static func html(_ body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// 429: a limit was reached; try again in half a minute.
    static func tooMany(_ message: String) -> Response {
        var response = Response.text(.tooManyRequests, message)
        response.headers[.retryAfter] = "30"
        return response
    }

    /// The dashboard's 404 page, saying what was not found.
    static func notFoundPage(_ message: String) -> Response {
        html(
            Layout.page(title: "Not found", "<h1>Not found</h1><p>\(message)</p><p><a href=\"/\">All recipes</a></p>"),
            status: .notFound)
    }

    /// A badge, cacheable for a minute and revalidated by its ETag.
    static func badge(_ badge: RenderCache.Entry, request: Request) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "image/svg+xml"
        headers[.cacheControl] = "public, max-age=60, must-revalidate"
        headers[.eTag] = badge.etag
        if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: {
            $0.trimmingCharacters(in: .whitespaces) == badge.etag
        }) == true {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: badge.body))
    }
}
