import CCCICore
import Foundation

/// A program to run: argv, environment, working directory, optional stdin, and where its output
/// goes. Values in ``secrets`` are replaced by `<redacted>` wherever the command is shown.
public struct Command: Sendable, Hashable {
    /// Where a command's stdout and stderr go.
    public enum OutputMode: Sendable, Hashable {
        /// Captured into the result (up to ``ProcessRunner/captureLimit`` bytes each).
        case capture
        /// Appended, interleaved, to a log file as the program writes them (a live log); the
        /// result's `output` holds what was appended.
        case logFile(URL)
        /// Standard output written to this file, whole and unbounded (a listing the caller reads
        /// back line by line); standard error captured. The result's `output` is empty.
        case file(URL)
    }

    public var executable: String
    public var arguments: [String]
    /// Variables set on top of the inherited environment (`nil` removes one).
    public var environment: [String: String?]
    /// When `true`, only ``environment`` (plus `PATH`/`HOME` if unset) is passed; nothing inherited.
    public var cleanEnvironment: Bool
    public var workingDirectory: URL?
    public var input: Data?
    public var output: OutputMode
    /// Secret values that must never be shown in argv or output excerpts.
    public var secrets: [String]

    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String?] = [:],
        cleanEnvironment: Bool = false, workingDirectory: URL? = nil, input: Data? = nil,
        output: OutputMode = .capture, secrets: [String] = []
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.cleanEnvironment = cleanEnvironment
        self.workingDirectory = workingDirectory
        self.input = input
        self.output = output
        self.secrets = secrets
    }

    /// The argv for display, secrets masked, arguments with spaces quoted.
    public var displayArgv: String {
        ([executable] + arguments).map { argument in
            let masked = redact(argument)
            return masked.contains(" ") || masked.isEmpty ? "'\(masked)'" : masked
        }.joined(separator: " ")
    }

    /// `text` with every secret value masked.
    public func redact(_ text: String) -> String {
        var output = text
        for secret in secrets where !secret.isEmpty {
            output = output.replacingOccurrences(of: secret, with: Redaction.mask)
        }
        return output
    }
}

/// How a command ended.
public struct CommandResult: Sendable, Hashable {
    public let command: Command
    /// The exit code, or `128 + signal` when a signal ended the program.
    public let status: Int32
    /// Whether a signal ended the program.
    public let signaled: Bool
    /// Captured stdout (or, for ``Command/OutputMode/logFile(_:)``, stdout and stderr interleaved).
    public let output: String
    /// Captured stderr (empty with a log file).
    public let errorOutput: String
    public let duration: Duration
    /// Bytes of a log-file command's output cut from its log (``LogLimits``); 0 when it fit.
    public let outputCut: Int64

    public init(
        command: Command, status: Int32, signaled: Bool, output: String, errorOutput: String, duration: Duration,
        outputCut: Int64 = 0
    ) {
        self.command = command
        self.status = status
        self.signaled = signaled
        self.output = output
        self.errorOutput = errorOutput
        self.duration = duration
        self.outputCut = outputCut
    }

    public var succeeded: Bool { status == 0 && !signaled }

    /// Returns `self` when the command succeeded, throws a ``CommandError`` otherwise.
    @discardableResult
    public func check() throws(CommandError) -> CommandResult {
        guard succeeded else { throw CommandError(result: self) }
        return self
    }

    /// The last `lines` lines of stderr (or of the output when stderr is empty), secrets masked.
    public func tail(_ lines: Int = 12) -> String {
        let source = errorOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? output : errorOutput
        let tail = source.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
        return command.redact(tail)
    }
}

/// A command that did not succeed: its argv (secrets masked), how it ended and the tail of its
/// error output.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public let argv: String
    public let status: Int32
    public let signaled: Bool
    public let tail: String

    public init(result: CommandResult) {
        self.argv = result.command.displayArgv
        self.status = result.status
        self.signaled = result.signaled
        self.tail = result.tail()
    }

    /// `git clone`, `docker stack`: the program and its subcommand, options skipped.
    static func program(_ argv: String) -> String {
        let words = argv.split(separator: " ").map(String.init)
        guard let first = words.first else { return argv }
        var index = 1
        while index < words.count, words[index].hasPrefix("-") {
            // `-c key=value`, `-C path`: an option with a separate value.
            index += ["-c", "-C"].contains(words[index]) ? 2 : 1
        }
        return index < words.count ? "\(first) \(words[index])" : first
    }

    /// The reason first — the program's own last words — then the command, so a long argv never
    /// hides why it failed.
    public var description: String {
        let how = signaled ? "was killed by signal \(status - 128)" : "exited \(status)"
        let program = Self.program(argv)
        let lines = tail.split(separator: "\n").map(String.init)
        guard let last = lines.last else { return "`\(program)` \(how) with no output — command: \(argv)" }
        var text = "`\(program)` \(how): \(last)"
        if lines.count > 1 {
            text += "\n" + lines.dropLast().map { "    " + $0 }.joined(separator: "\n")
        }
        return text + "\n    command: \(argv)"
    }
}

/// A program cc-ci could not start at all.
public struct LaunchError: Error, Sendable, CustomStringConvertible {
    public let argv: String
    public let reason: String

    public var description: String {
        "could not run `\(argv)`: \(reason)"
    }
}
