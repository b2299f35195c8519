import ArgumentParser
import CCCICore
import CCCIServer
import Foundation
import Logging

/// `ccci serve`: the `!testme` bridge, the durable queue and its workers, on one HTTP port.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the service: forge webhooks (!testme), the job queue and its workers, replies on pull requests.",
        discussion: """
            Configured by the [serve] table of the node configuration: listen, public_url, forge, forge_url, \
            webhook_secret_file, forge_token_file, allowlist, owners (see the README, "Run the service"). \
            SIGTERM or SIGINT stops it gracefully: it stops accepting, stops its runs (they tear down), \
            queues them again and exits 0.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "How many jobs this server runs at once (default: the node's capacity); 0 accepts and queues only.",
            valueName: "n"))
    var workers: Int?

    func validate() throws {
        if let workers, !(0...64).contains(workers) {
            throw ValidationError("--workers must be between 0 and 64, not \(workers)")
        }
    }

    func run() async throws {
        let config = try global.loadConfig()
        var logger = global.makeLogger(label: "ccci.serve")
        if !global.verbose, ProcessInfo.processInfo.environment["CCCI_LOG_LEVEL"] == nil { logger.logLevel = .info }
        var arguments: ServerArguments
        do {
            arguments = try ServerArguments.load(
                config: config, file: NodeConfig.configFile().path, executable: Executable.current, logger: logger)
        } catch {
            throw CommandFailure(error.description, exitCode: 2)
        }
        arguments.pruneBackups = { try await GCCommand.pruneBackups(config) }
        if let workers { arguments.workers = workers }
        do {
            try await runServer(arguments)
        } catch let error as ServeSetupError {
            throw CommandFailure(error.description, exitCode: 2)
        }
    }
}
