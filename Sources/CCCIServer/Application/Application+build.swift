import AsyncHTTPClient
import CCCICore
import CCCIStore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle

/// Builds `ccci serve`: the store, the forge client, the bridge, the router, and the services —
/// listed in dependency order (forge client → reply sender → workers → intake → housekeeping →
/// HTTP, the HTTP server last as Hummingbird adds it) so that they stop in reverse.
public func buildApplication(_ arguments: ServerArguments) async throws -> some ApplicationProtocol {
    try await buildServer(arguments).application
}

/// Builds the server and runs it until SIGTERM or SIGINT, then shuts it down gracefully.
///
/// A signal first tells the workers to stop their runs and ends every live log stream
/// (``ShutdownHerald``, stopped before anything else); then the HTTP server stops accepting and
/// finishes its requests, the workers wait for their runs to tear down and queue them again, and
/// the reply sender delivers what they said. A stream or a slow request never holds the runs'
/// stop back, and a browser tab never holds the server open.
public func runServer(_ arguments: ServerArguments) async throws {
    let server = try await buildServer(arguments)
    let group = ServiceGroup(
        configuration: .init(
            services: [server.application, ShutdownHerald(beginStopping: server.beginStopping)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: arguments.logger))
    try await group.run()
}

/// The server and what stops it early.
struct BuiltServer {
    let application: Application<RouterResponder<ServerContext>>
    /// Tells the workers to stop their runs and ends the live log streams.
    let beginStopping: @Sendable () -> Void
}

func buildServer(_ arguments: ServerArguments) async throws -> BuiltServer {
    let config = arguments.config
    let logger = arguments.logger
    let store: any NodeStore
    do {
        store = try await Store.open(config)
    } catch {
        throw ServeSetupError.store(error.description)
    }
    // The forge's own client: a refused connection fails the call at once (the default pool
    // would try to connect again until the call's deadline), and what needed the forge waits in
    // the store to be tried again.
    var clientConfiguration = HTTPClient.Configuration()
    clientConfiguration.connectionPool.retryConnectionEstablishment = false
    clientConfiguration.timeout.connect = .seconds(3)
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    let forge = GiteaForge(
        kind: config.serve.forge, baseURL: config.serve.forgeURL ?? "http://127.0.0.1", token: arguments.forgeToken,
        webhookSecret: arguments.webhookSecret, retry: arguments.retry, client: client, logger: logger)
    let links = arguments.links
    let engine: (any Dispatcher)? =
        switch config.dispatch.engine {
        case .local: nil
        case .buildbot:
            BuildbotDispatcher(
                base: config.dispatch.url ?? "", scheduler: config.dispatch.scheduler,
                builder: config.dispatch.builder, credentials: arguments.engineToken, client: client)
        case .forgejoActions:
            ForgejoActionsDispatcher(
                base: config.dispatch.url ?? "", repository: config.dispatch.repository ?? "",
                workflow: config.dispatch.workflow, ref: config.dispatch.ref, token: arguments.engineToken,
                client: client)
        case .drone:
            DroneDispatcher(
                base: config.dispatch.url ?? "", repository: config.dispatch.repository ?? "",
                branch: config.dispatch.ref, token: arguments.engineToken, client: client)
        }
    let running = RunningJobs(engine: engine)
    let workWakeup = Wakeup()
    let replyWakeup = Wakeup()
    let enrolment = Enrolment(config: config)
    let unplaced = enrolment.unplaced
    if !unplaced.isEmpty {
        logger.warning(
            config.serve.owners.isEmpty
                ? "recipes whose repository on the forge is unknown get no !testme: set [catalogue] URLs on the forge, or serve.owners"
                : "recipes whose repository on the forge is unknown are matched by name within serve.owners",
            metadata: ["recipes": "\(unplaced.joined(separator: ","))"])
    }
    let bridge = Bridge(
        forge: forge, store: store, settings: config.serve, links: links, enrolment: enrolment, running: running,
        wakeWorkers: workWakeup, wakeReplies: replyWakeup, logger: logger)
    let metrics = ServerMetrics()
    let streams =
        arguments.liveStreams
        ?? LiveStreams(limit: config.serve.maxStreams, perClient: config.serve.maxStreamsPerClient)
    let router = try buildRouter(
        bridge: bridge, store: store, config: config, links: links, metrics: metrics, workers: arguments.workers,
        adminToken: arguments.adminToken, streams: streams)
    let workers = JobWorkers(
        store: store, config: config, capacity: arguments.workers, executable: arguments.executable,
        environment: arguments.environment, links: links, running: running, wakeup: workWakeup,
        replies: replyWakeup, logger: logger, orphanGrace: arguments.orphanGrace, metrics: metrics)
    var services: [any Service] = [
        HTTPClientLifetime(client: client),
        ReplySender(
            store: store, forge: forge, wakeup: replyWakeup, logger: logger, firstDelay: arguments.replyRetryDelay),
        engine.map {
            EngineDispatch(
                store: store, engine: $0, links: links, wakeup: workWakeup, replies: replyWakeup, logger: logger)
        } ?? workers,
        IntakeRetry(bridge: bridge),
        NodeLease(
            store: store, node: config.node, lease: config.serve.nodeLease, links: links, workers: workWakeup,
            replies: replyWakeup, logger: logger),
    ]
    if let interval = arguments.housekeepingInterval {
        services.append(
            Housekeeping(
                retention: Retention(config: config), store: store, interval: interval,
                pruneBackups: arguments.pruneBackups, logger: logger))
    }
    let application = Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionWatch(headerTimeout: .seconds(arguments.headerTimeoutSeconds))],
                idleTimeout: .seconds(arguments.idleTimeoutSeconds))),
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
    return BuiltServer(
        application: application,
        beginStopping: {
            logger.notice("stopping: the runs are told to stop, the live log streams end")
            workers.stop()
            streams.close()
        })
}

/// The routes, by topic: webhooks, jobs and runs' files, the dashboard, health and metrics;
/// every answer with the security headers (``SecurityHeaders``).
public func buildRouter(
    bridge: Bridge, store: any NodeStore, config: NodeConfig, links: Links, metrics: ServerMetrics, workers: Int,
    adminToken: SecretValue? = nil, streams: LiveStreams? = nil, artifacts: (any RunArtifacts)? = nil
) throws -> Router<ServerContext> {
    let artifacts = artifacts ?? Store.artifacts(config, store: store)
    let router = Router(context: ServerContext.self, options: [.autoGenerateHeadEndpoints])
    let streams = streams ?? LiveStreams(limit: config.serve.maxStreams, perClient: config.serve.maxStreamsPerClient)
    router.add(middleware: SecurityHeaders())
    HookRoutes(bridge: bridge, metrics: metrics).addRoutes(to: router)
    RunRoutes(store: store, artifacts: artifacts, links: links).addRoutes(to: router)
    DashboardRoutes(
        store: store, artifacts: artifacts, config: config, links: links, forgeURL: config.serve.forgeURL,
        bridge: bridge,
        adminToken: adminToken, streams: streams
    ).addRoutes(to: router)
    HealthRoutes(store: store, metrics: metrics, workers: workers, streams: streams).addRoutes(to: router)
    // The JSON API, generated from Sources/CCCIAPI/openapi.yaml.
    router.add(middleware: APIMethods())
    try APIHandler(store: store, artifacts: artifacts).registerHandlers(
        on: router, serverURL: URL(string: "/api/v1")!,
        configuration: Configuration(dateTranscoder: .iso8601WithFractionalSeconds), middlewares: [APIInputErrors()])
    return router
}

/// Stopped first when the server is told to stop (the last service of the outermost group): it
/// starts what must not wait for the HTTP server to drain — the runs' stop, the streams' end.
struct ShutdownHerald: Service {
    let beginStopping: @Sendable () -> Void

    func run() async throws {
        try? await gracefulShutdown()
        beginStopping()
    }
}

/// The forge client's lifetime: shut down when everything that calls the forge has stopped (it is
/// the first service, so the last to stop).
struct HTTPClientLifetime: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
