import ArgumentParser
import CCCICore
import CCCILab
import CCCISwarm
import Foundation
import Logging
import ServiceLifecycle

/// `ccci lab …`: the local lab (see `scripts/lab`, which installs and starts the engine first).
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Bring the local lab up or down, or show its status.",
        subcommands: [Up.self, Status.self, Down.self, Ingress.self])

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create what is missing: swarm, proxy network, lab images, ingress, fixture recipes.")

        @OptionGroup var global: GlobalOptions

        @Option(
            help:
                "The Fixtures/recipes directory to build the catalogue from (default: found from the current directory)."
        )
        var fixtures: String?

        @Flag(help: "Do not start the ingress watcher.")
        var noWatcher = false

        func run() async throws {
            let config = try global.loadConfig()
            let logger = global.makeLogger()
            let fixturesURL =
                fixtures.map { URL(fileURLWithPath: $0) }
                ?? FixtureRecipes.locate(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            if fixturesURL == nil {
                printError("note: no Fixtures/recipes found from here — the fixture catalogue is not built")
            }
            try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
                let lab = Lab(config: config, engine: engine, logger: logger)
                try await lab.up(
                    fixtures: fixturesURL, watcher: noWatcher ? nil : Executable.current,
                    report: { print("lab: \($0)") })
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per lab part; exits 1 if any part is missing.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let config = try global.loadConfig()
            let logger = global.makeLogger()
            let engine: DockerEngine
            do {
                engine = try await DockerEngine.connect(socketPath: config.dockerSocket, logger: logger)
            } catch {
                print("MISSING engine: \(error)")
                throw ExitCode.failure
            }
            let (lines, healthy) = await Lab(config: config, engine: engine, logger: logger).status()
            await engine.shutdown()
            lines.forEach { print($0) }
            if !healthy { throw ExitCode.failure }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove what the lab created (ingress, watcher, images, fixtures, its proxy network).")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let config = try global.loadConfig()
            let logger = global.makeLogger()
            try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
                try await Lab(config: config, engine: engine, logger: logger).down(report: { print("lab: \($0)") })
            }
        }
    }

    struct Ingress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sync the lab ingress' routes from the swarm's traefik labels (once, or --watch).")

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Keep running and resync whenever services change.")
        var watch = false

        @Option(help: "Write this process' pid here (with --watch).")
        var pidFile: String?

        func run() async throws {
            let config = try global.loadConfig()
            var logger = global.makeLogger(label: "ccci.ingress")
            if watch { logger.logLevel = .info }
            try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
                let lab = Lab(config: config, engine: engine, logger: logger)
                if watch {
                    if let pidFile {
                        try AtomicFile.write(
                            "\(ProcessInfo.processInfo.processIdentifier)\n", to: URL(fileURLWithPath: pidFile))
                    }
                    let group = ServiceGroup(
                        services: [IngressWatcher(ingress: lab.ingress, logger: logger)],
                        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
                    try await group.run()
                } else {
                    for route in try await lab.ingress.syncRoutes() {
                        print(
                            "\(route.host)\(route.pathPrefix ?? "") → \(route.upstream ?? "(no port label)")  [\(route.service)]"
                        )
                    }
                }
            }
        }
    }
}

/// The running executable.
enum Executable {
    static var current: URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }
}
