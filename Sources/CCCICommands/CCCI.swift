import ArgumentParser
import CCCICore
import CCCIRunner
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
            MetaCommand.self, LintCommand.self, LabCommand.self, ServeCommand.self, GCCommand.self, SweepCommand.self,
            CanonicalCommand.self, StoreCommand.self,
        ]
    )

    public init() {}

    /// Parses the command line, runs the command and exits with the project's exit codes: 0 done,
    /// 1 a failure, 2 bad usage or configuration (the README's contract — swift-argument-parser's
    /// own 64 for usage errors becomes 2). A ``CommandFailure`` prints one `error:` line, with no
    /// usage banner: the command line was fine, what it named was not.
    public static func runAsMain(_ arguments: [String]? = nil) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(withError: nil)
        } catch let failure as CommandFailure {
            printError("error: \(failure.message)")
            Foundation.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            guard code == .validationFailure else { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty { printError(message) }
            Foundation.exit(2)
        }
    }
}

/// A command that could not do what it was asked, for a reason it can name (a run that does not
/// exist, a store that cannot be opened, an argument that is not an app domain). Printed as one
/// `error:` line — never with the usage banner, which would suggest the command line was wrong.
public struct CommandFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}

/// Options every command shares.
public struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log debug detail to stderr.")
    public var verbose = false

    public init() {}

    /// The process logger (the one place a `Logger` is created): to stderr at `--verbose`'s level
    /// (or `CCCI_LOG_LEVEL`, default warning) and, for a run, into its `run.log` at info or lower.
    public func makeLogger(label: String = "ccci", journal: RunJournal? = nil) -> Logger {
        let level: Logger.Level =
            verbose
            ? .debug
            : (ProcessInfo.processInfo.environment["CCCI_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning)
        guard let journal else {
            var logger = Logger(label: label)
            logger.logLevel = level
            return logger
        }
        return Logger(label: label) { label in
            var stderr = StreamLogHandler.standardError(label: label)
            stderr.logLevel = level
            return MultiplexLogHandler([stderr, journal.handler(label: label, level: min(level, .info))])
        }
    }

    /// The node configuration, or a configuration error (exit 2) naming the file and key.
    public func loadConfig() throws -> NodeConfig {
        do {
            return try NodeConfig.load()
        } catch {
            throw CommandFailure(error.description, exitCode: 2)
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

/// Prints to stderr (dropped when nothing reads it any more: never a crash).
func printError(_ text: String) {
    StandardError.line(text)
}
