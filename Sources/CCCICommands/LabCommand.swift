import ArgumentParser
import CCCICore
import CCCIGit
import CCCILab
import CCCISwarm
import CCCISystem
import Foundation
import Logging
import ServiceLifecycle

/// `ccci lab …`: the local lab (see `scripts/lab`, which installs and starts the engine first).
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Bring the local lab up or down, or show its status.",
        subcommands: [Up.self, Status.self, Down.self, Ingress.self, Images.self])

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

        @Flag(help: "No registries, real recipes or look-alikes (an extra node of scripts/nodes: local images only).")
        var noRegistries = false

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
                    fixtures: fixturesURL, watcher: noWatcher ? nil : Executable.current, registries: !noRegistries,
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

extension LabCommand {
    struct Images: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push look-alikes to the lab mirror for every image a recipe names (a path or a git URL).",
            discussion: """
                Reads every compose file of every release tag and of the head, maps each image through the \
                look-alike table (docs/lab-images.md) and pushes the look-alike under the recipe's own \
                reference, so the recipe runs unmodified with image_policy = pull. Exits 1 when an image \
                has no look-alike (it is named).
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The recipe: a directory (a git repository or plain files) or a git URL.")
        var recipe: String

        @Option(help: "The look-alike layouts (default: Fixtures/lab-images found from the current directory).")
        var layouts: String?

        func run() async throws {
            let config = try global.loadConfig()
            let logger = global.makeLogger()
            guard
                let layoutsURL = layouts.map({ URL(fileURLWithPath: $0) })
                    ?? FixtureRecipes.locate(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                    .map(LookAlikeBuilder.layouts(besideFixtures:))
            else {
                printError("error: no Fixtures/lab-images found from here — pass --layouts")
                throw ExitCode(2)
            }
            let runner = ProcessRunner()
            let git = Git(runner: runner)
            var directory = URL(fileURLWithPath: recipe)
            var clone: URL?
            if !FileManager.default.fileExists(atPath: recipe) {
                let target = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-lab-images-\(UUID())")
                try await git.clone(recipe, to: target)
                directory = target
                clone = target
            }
            defer { if let clone { try? FileManager.default.removeItem(at: clone) } }
            let found = try await RecipeImageScan(git: git).scan(directory)
            for problem in found.unreadable { print("unreadable: \(problem)") }
            var uncovered = false
            try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
                let lab = Lab(config: config, engine: engine, runner: runner, logger: logger)
                var references: [ImageReference: String] = [:]
                for image in found.images.keys.sorted() {
                    do {
                        references[try ImageReference(image)] = image
                    } catch {
                        print("invalid: \(image) — \(error)")
                    }
                }
                let outcomes = try await lab.publisher(layouts: layoutsURL).publish(
                    Array(references.keys), to: LabRegistry.mirrorHost, report: { _ in })
                for reference in references.keys.sorted(by: { $0.description < $1.description }) {
                    let image = references[reference]!
                    let named = found.images[image]!.prefix(3).joined(separator: ", ")
                    switch outcomes[reference] {
                    case .pushed(let target)?: print("pushed      \(image) → \(target)")
                    case .upToDate(let target)?: print("up to date  \(image) → \(target)")
                    case .notCovered?, nil:
                        uncovered = true
                        print("no look-alike for \(image) (named in \(named)) — the lab cannot run it")
                    }
                }
            }
            if uncovered { throw ExitCode.failure }
        }
    }
}
