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

    /// Runs a hook that answers through a file (`CCCI_OUTPUT_FILE`, created empty and readable by
    /// this user only in `outputDirectory`, removed after): returns how it ended and, when it
    /// succeeded, what it wrote, as JSON (`nil`: nothing). Writing something that is not JSON is an
    /// ``OutputError`` naming the hook as declared (`name`).
    public func runAnswering(
        _ executable: URL, named name: String, context: HookContext, directory: URL, log: URL,
        extraEnvironment: [String: String] = [:], timeout: Duration, outputDirectory: URL
    ) async throws -> (Outcome, JSONValue?) {
        let file = outputDirectory.appendingPathComponent("hook-output-\(UUID().uuidString).json")
        try AtomicFile.write("", to: file, permissions: 0o600)
        defer { try? FileManager.default.removeItem(at: file) }
        var environment = extraEnvironment
        environment["CCCI_OUTPUT_FILE"] = file.path
        let outcome = try await run(
            executable, context: context, directory: directory, log: log, extraEnvironment: environment,
            timeout: timeout)
        // A hook that failed is reported by its exit and words, not by what it half wrote.
        guard outcome.succeeded else { return (outcome, nil) }
        let data = (try? Data(contentsOf: file)) ?? Data()
        guard !String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return (outcome, nil)
        }
        do {
            return (outcome, try JSONCoding.decoder.decode(JSONValue.self, from: data))
        } catch {
            throw OutputError(hook: name, problem: "is not JSON (\(JSONCoding.explain(error)))")
        }
    }

    /// What a hook wrote to `CCCI_OUTPUT_FILE` cannot be used.
    public struct OutputError: Error, Sendable, CustomStringConvertible {
        public let hook: String
        public let problem: String

        public init(hook: String, problem: String) {
            self.hook = hook
            self.problem = problem
        }

        public var description: String { "what hook \(hook) wrote to CCCI_OUTPUT_FILE \(problem)" }
    }

    /// `value` as a map of strings (a `provision` hook's credentials, a `pre_deploy` hook's `env`).
    public static func strings(_ value: JSONValue?, hook: String, what: String) throws(OutputError) -> [String: String]
    {
        guard let value else { return [:] }
        guard case .object(let object) = value else {
            throw OutputError(hook: hook, problem: "\(what) is not a JSON object of strings")
        }
        var strings: [String: String] = [:]
        for (key, item) in object {
            guard case .string(let text) = item else {
                throw OutputError(hook: hook, problem: "\(what) has `\(key)`, which is not a string")
            }
            strings[key] = text
        }
        return strings
    }
}
