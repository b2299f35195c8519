import CCCICore
import CCCISystem
import Foundation

/// Runs hooks and tests the way SPEC F-HOOK says: the executable gets the hook context as JSON on
/// stdin and as `CCCI_*` environment variables; its output goes to the tier's log; its exit,
/// duration and output are recorded.
public struct HookRunner: Sendable {
    public let runner: ProcessRunner

    public init(runner: ProcessRunner) {
        self.runner = runner
    }

    /// How a hook ended.
    public struct Outcome: Sendable, Hashable, Codable {
        public let hook: String
        public let exitCode: Int32
        public let durationSeconds: Double
        /// The last lines of its output.
        public let outputTail: String
        /// Stopped when its timeout passed.
        public var timedOut = false
        public var succeeded: Bool { exitCode == 0 && !timedOut }
    }

    /// Runs `executable` (with `arguments`) in `directory`, with `context`, logging to `log`.
    /// `timeout` bounds it: the hook's process group is terminated when it passes.
    public func run(
        _ executable: URL, arguments: [String] = [], context: HookContext, directory: URL, log: URL,
        extraEnvironment: [String: String] = [:], timeout: Duration
    ) async throws -> Outcome {
        var environment: [String: String?] = [:]
        for (key, value) in context.environment { environment[key] = value }
        for (key, value) in extraEnvironment { environment[key] = value }
        let input = try JSONCoding.prettyEncoder.encode(context)
        let command = Command(
            executable.path, arguments, environment: environment, workingDirectory: directory, input: input,
            output: .logFile(log))
        let result = try await runner.run(command, timeout: timeout)
        guard let result else {
            return Outcome(
                hook: executable.path, exitCode: 124, durationSeconds: timeout.seconds,
                outputTail: "timed out after \(DurationText.format(timeout))", timedOut: true)
        }
        let tail = result.output.split(separator: "\n").suffix(15).joined(separator: "\n")
        return Outcome(
            hook: executable.path, exitCode: result.status, durationSeconds: result.duration.seconds, outputTail: tail)
    }
}
