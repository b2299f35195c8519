import CCCICore
import CCCIStore
import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle

/// Builds `ccci serve`: the store, the forge client, the bridge, the router, and the services —
/// listed in dependency order (reply sender → workers → housekeeping → HTTP, the HTTP server
/// last as Hummingbird adds it) so that on SIGTERM/SIGINT they stop in reverse: the server
/// stops accepting, the workers stop their runs and requeue them, and the sender delivers the
/// replies that produced before it stops.
public func buildApplication(_ arguments: ServerArguments) async throws -> some ApplicationProtocol {
    let config = arguments.config
    let logger = arguments.logger
    let store: SQLiteStore
    do {
        store = try SQLiteStore(path: config.storePath)
    } catch {
        throw ServeSetupError.store(error.description)
    }
    let forge = GiteaForge(
        kind: config.serve.forge, baseURL: config.serve.forgeURL ?? "http://127.0.0.1", token: arguments.forgeToken,
        webhookSecret: arguments.webhookSecret, retry: arguments.retry, logger: logger)
    let links = arguments.links
    let running = RunningJobs()
    let workWakeup = Wakeup()
    let replyWakeup = Wakeup()
    let catalogueDirectory = config.catalogueDirectory
    let catalogueURLs = Set(config.catalogueURLs.keys)
    let bridge = Bridge(
        forge: forge, store: store, settings: config.serve, links: links,
        enrolled: { Catalogue.names(directory: catalogueDirectory).union(catalogueURLs) }, running: running,
        wakeWorkers: workWakeup, wakeReplies: replyWakeup, logger: logger)
    let metrics = ServerMetrics()
    let router = try buildRouter(
        bridge: bridge, store: store, config: config, links: links, metrics: metrics, workers: arguments.workers,
        adminToken: arguments.adminToken)
    var services: [any Service] = [
        ReplySender(store: store, forge: forge, wakeup: replyWakeup, logger: logger),
        JobWorkers(
            store: store, config: config, capacity: arguments.workers, executable: arguments.executable,
            environment: arguments.environment, links: links, running: running, wakeup: workWakeup,
            replies: replyWakeup, logger: logger, orphanGrace: arguments.orphanGrace, metrics: metrics),
    ]
    if let interval = arguments.housekeepingInterval {
        services.append(
            Housekeeping(
                retention: Retention(config: config), store: store, interval: interval,
                pruneBackups: arguments.pruneBackups, logger: logger))
    }
    return Application(
        router: router,
        configuration: .init(
            address: .hostname(config.serve.listenHost, port: config.serve.listenPort), serverName: "cc-ci"),
        services: services,
        onServerRunning: { channel in
            logger.notice(
                "serving",
                metadata: [
                    "http.address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
                    "http.port": "\(channel.localAddress?.port ?? 0)", "forge.url": "\(config.serve.forgeURL ?? "")",
                    "queue.workers": "\(arguments.workers)",
                ])
            await arguments.onListening?(channel.localAddress?.port ?? 0)
        },
        logger: logger)
}

/// Builds the server and runs it until SIGTERM or SIGINT, then shuts it down gracefully.
public func runServer(_ arguments: ServerArguments) async throws {
    try await buildApplication(arguments).runService()
}

/// The routes, by topic: webhooks, jobs and runs' files, the dashboard, health and metrics.
public func buildRouter(
    bridge: Bridge, store: SQLiteStore, config: NodeConfig, links: Links, metrics: ServerMetrics, workers: Int,
    adminToken: SecretValue? = nil
) throws -> Router<
    BasicRequestContext
> {
    let router = Router()
    HookRoutes(bridge: bridge, metrics: metrics).addRoutes(to: router)
    RunRoutes(store: store, config: config, links: links).addRoutes(to: router)
    DashboardRoutes(
        store: store, config: config, links: links, forgeURL: config.serve.forgeURL, bridge: bridge,
        adminToken: adminToken
    ).addRoutes(to: router)
    HealthRoutes(store: store, metrics: metrics, workers: workers).addRoutes(to: router)
    // The JSON API, generated from Sources/CCCIAPI/openapi.yaml.
    router.add(middleware: APIMethods())
    try APIHandler(store: store, config: config).registerHandlers(
        on: router, serverURL: URL(string: "/api/v1")!,
        configuration: Configuration(dateTranscoder: .iso8601WithFractionalSeconds), middlewares: [APIInputErrors()])
    return router
}

/// The recipes of a catalogue directory (`<dir>/<recipe>/.git`).
enum Catalogue {
    static func names(directory: URL) -> Set<String> {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return Set(
            entries.filter {
                FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0)/.git").path)
            })
    }
}
