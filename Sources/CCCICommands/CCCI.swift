import ArgumentParser
import CCCICore
import Foundation
import Logging

/// The `ccci` command.
public struct CCCI: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ccci",
        abstract: "Continuous integration for Co-op Cloud recipes.",
        discussion: """
            cc-ci answers, for a recipe's pull request or release: does it install, upgrade from its \
            previous release, back up, restore and pass its own tests on a real swarm — and does it \
            leave nothing behind?
            """,
        version: CCCIVersion.current,
        subcommands: [
            RunCommand.self, ResultsCommand.self, JanitorCommand.self, TeardownCommand.self, RecipeCommand.self,
            MetaCommand.self, LabCommand.self,
        ]
    )

    public init() {}
}

/// Options every command shares.
public struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log debug detail to stderr.")
    public var verbose = false

    public init() {}

    /// The process logger (the one place a `Logger` is created).
    public func makeLogger(label: String = "ccci") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel =
            verbose
            ? .debug
            : (ProcessInfo.processInfo.environment["CCCI_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning)
        return logger
    }

    /// The node configuration, or a `ValidationError` naming the problem.
    public func loadConfig() throws -> NodeConfig {
        do {
            return try NodeConfig.load()
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Bootstraps logging once per process.
public enum LoggingSetup {
    public static func bootstrap() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return handler
        }
    }
}

/// Prints to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
