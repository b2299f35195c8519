import ArgumentParser
import CCCICore
import CCCIDeploy
import CCCIGit
import CCCILab
import CCCIServer
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Logging
import ServiceLifecycle

/// cc-ci's benchmarks. They print tables; none of them is a test.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccci-bench", abstract: "Benchmarks of cc-ci on the local lab.",
        subcommands: [
            ConvergenceLatency.self, WebhookLatency.self, DashboardLoad.self, ServeAttacks.self, ClaimRate.self,
            EngineMakespan.self,
        ])
}

/// Convergence detection latency: the time from the last container of a stack reporting
/// `healthy` (the engine's event timestamp) to the native driver's `waitConverged` returning.
struct ConvergenceLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convergence", abstract: "Measure convergence detection latency over N fresh deploys.")

    @Option(help: "Deploys to measure.")
    var runs = 10

    @Option(help: "Fixture recipe to deploy (from Fixtures/recipes).")
    var fixture = "web"

    func run() async throws {
        var logger = Logger(label: "ccci.bench")
        logger.logLevel = .warning
        let home = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ccci-bench-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        var environment = ProcessInfo.processInfo.environment
        environment["CCCI_HOME"] = home.path
        let config = try NodeConfig.load(environment: environment)
        guard let fixtures = FixtureRecipes.locate(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        else {
            throw ValidationError("run from the cc-ci checkout (Fixtures/recipes not found)")
        }
        let repository = try await FixtureRecipes(root: fixtures).materialize(
            fixture, at: home.appendingPathComponent("recipes/\(fixture)"))
        var latencies: [Double] = []
        var totals: [Double] = []
        try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
            let driver = try await DriverFactory.make(
                config, logger: logger, ingress: LabIngress.forNode(config), sharing: engine)
            print("run  deploy→converged  last healthy→returned")
            for index in 1...runs {
                let domain = try AppNaming(ciDomain: "bench.ccci.test").runAppDomain(
                    recipe: fixture, pr: 0, ref: UUID().uuidString)
                let spec = AppSpec(
                    recipe: fixture, domain: domain, checkout: repository.path,
                    workDirectory: home.appendingPathComponent("work"), runID: "bench")
                let app = try await driver.newApp(spec)
                let lastHealthy = Locked<Date?>(nil)
                let stack = app.stack
                let (measured, total) = try await withThrowingTaskGroup(of: (Double, Double)?.self) { group in
                    group.addTask {
                        try await engine.streamEvents(filters: ["type": ["container"], "event": ["health_status"]]) {
                            event in
                            guard event.attributes["com.docker.stack.namespace"] == stack,
                                event.Action?.hasSuffix("healthy") == true, event.Action?.contains("unhealthy") == false
                            else { return }
                            lastHealthy.withLock { $0 = max($0 ?? event.date, event.date) }
                        }
                        return nil
                    }
                    try await Task.sleep(for: .milliseconds(200))  // the event subscription is live
                    let start = Date()
                    _ = try await driver.deploy(app, mode: .chaos)
                    _ = try await driver.waitConverged(app, timeout: .seconds(120))
                    let returned = Date()
                    group.cancelAll()
                    let healthy = lastHealthy.withLock { $0 }
                    guard let healthy else { throw ValidationError("no healthy event seen for \(stack)") }
                    return (returned.timeIntervalSince(healthy) * 1000, returned.timeIntervalSince(start) * 1000)
                }
                latencies.append(measured)
                totals.append(total)
                print(String(format: "%3d  %12.0f ms  %18.0f ms", index, total, measured))
                _ = try await driver.remove(app)
            }
        }
        print("")
        print("fixture \(fixture), \(runs) fresh deploys")
        print("detection latency (last container healthy → waitConverged returned)")
        print(
            String(
                format: "  p50 %6.0f ms   p90 %6.0f ms   max %6.0f ms   (target p50 ≤ 250 ms)",
                percentile(latencies, 50), percentile(latencies, 90), latencies.max() ?? 0))
        print(
            String(
                format: "deploy → converged: p50 %6.0f ms   p90 %6.0f ms", percentile(totals, 50),
                percentile(totals, 90)))
    }
}

/// Runs `ccci serve` of `server` (no workers, logging only critical lines) in this process
/// against `stub`, calls `body` with its port once it listens, then shuts it down gracefully.
func withServer(
    _ server: ServerHarness, stub: ForgeStub, _ body: @Sendable (Int) async throws -> Void
) async throws {
    var arguments = try server.arguments(stub: stub, workers: 0)
    var logger = Logger(label: "ccci.bench")
    logger.logLevel = .critical
    arguments.logger = logger
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    arguments.onListening = { continuation.yield($0) }
    let app = try await buildApplication(arguments)
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ValidationError("the server did not start") }
        try await body(port)
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
