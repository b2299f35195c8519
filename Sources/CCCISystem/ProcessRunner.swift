import CCCICore
import Foundation
import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs programs for cc-ci (docker, git, restic, hooks, tests).
///
/// Every child starts in a process group of its own, recorded in ``ChildProcessGroups`` while
/// it runs: cancelling the calling task sends SIGTERM to the whole group (the child and anything
/// it started), then SIGKILL after a grace period; the lifetime guards can end every live group
/// at once. A non-zero exit is a result to inspect, not an error.
public struct ProcessRunner: Sendable {
    /// Captured output beyond this many bytes per stream is an error (no command cc-ci runs in
    /// capture mode should come near it; long outputs go to log files).
    public static let captureLimit = 64 * 1024 * 1024

    /// How long a cancelled child has between SIGTERM and SIGKILL.
    public var terminationGrace: Duration

    public init(terminationGrace: Duration = .seconds(5)) {
        self.terminationGrace = terminationGrace
    }

    /// Runs `command` to completion.
    public func run(_ command: Command) async throws -> CommandResult {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: terminationGrace)
        ]
        let configuration = Configuration(
            executable: command.executable.contains("/")
                ? .path(FilePath(command.executable)) : .name(command.executable),
            arguments: Arguments(command.arguments), environment: .custom(Self.environmentBlock(for: command)),
            workingDirectory: command.workingDirectory.map { FilePath($0.path) }, platformOptions: options)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            switch command.output {
            case .capture:
                let limit = StringOutput<UTF8>.string(limit: Self.captureLimit)
                let (status, output, error) = try await Self.execute(
                    configuration, input: command.input, output: limit, error: limit)
                return CommandResult(
                    command: command, status: status.0, signaled: status.1, output: output, errorOutput: error,
                    duration: clock.now - start)
            case .logFile(let url):
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                let descriptor = try FileDescriptor.open(
                    FilePath(url.path), .writeOnly, options: [.append, .create, .closeOnExec],
                    permissions: [.ownerReadWrite, .groupRead])
                defer { try? descriptor.close() }
                let offset = (try? descriptor.seek(offset: 0, from: .end)) ?? 0
                let sink = FileDescriptorOutput.fileDescriptor(descriptor, closeAfterSpawningProcess: false)
                let (status, _, _) = try await Self.execute(
                    configuration, input: command.input, output: sink, error: sink)
                return CommandResult(
                    command: command, status: status.0, signaled: status.1, output: Self.read(url, from: offset),
                    errorOutput: "", duration: clock.now - start)
            }
        } catch let error as SubprocessError {
            throw LaunchError(argv: command.displayArgv, reason: String(describing: error))
        }
    }

    /// Runs a configured subprocess, its process group listed in ``ChildProcessGroups`` from
    /// spawn until it was reaped — also when the run throws.
    private static func execute<Output: OutputProtocol, ErrorOutput: ErrorOutputProtocol>(
        _ configuration: Configuration, input: Data?, output: Output, error: ErrorOutput
    ) async throws -> ((Int32, Bool), Output.OutputType, ErrorOutput.OutputType) {
        let spawned = Locked<pid_t?>(nil)
        defer { if let pid = spawned.value { ChildProcessGroups.shared.remove(pid) } }
        let track: (pid_t) -> Void = { pid in
            spawned.withLock { $0 = pid }
            ChildProcessGroups.shared.insert(pid)
        }
        if let input {
            let result = try await Subprocess.run(configuration, input: .data(input), output: output, error: error) {
                execution in track(execution.processIdentifier.value)
            }
            return (status(result.terminationStatus), result.standardOutput, result.standardError)
        }
        let result = try await Subprocess.run(configuration, input: .none, output: output, error: error) { execution in
            track(execution.processIdentifier.value)
        }
        return (status(result.terminationStatus), result.standardOutput, result.standardError)
    }

    /// Runs `command` and throws ``CommandError`` unless it succeeded.
    @discardableResult
    public func checked(_ command: Command) async throws -> CommandResult {
        try await run(command).check()
    }

    private static func status(_ status: TerminationStatus) -> (Int32, Bool) {
        switch status {
        case .exited(let code): return (Int32(code), false)
        case .signaled(let signal): return (128 + Int32(signal), true)
        }
    }

    private static func read(_ url: URL, from offset: Int64) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(max(0, offset)))
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func environmentBlock(for command: Command) -> [[UInt8]] {
        var merged: [String: String] = command.cleanEnvironment ? [:] : ProcessInfo.processInfo.environment
        for (key, value) in command.environment {
            merged[key] = value
        }
        if merged["PATH"] == nil {
            merged["PATH"] =
                ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        }
        if merged["HOME"] == nil, let home = ProcessInfo.processInfo.environment["HOME"] { merged["HOME"] = home }
        // Each entry is passed to strdup: it must carry its own NUL terminator.
        return merged.sorted { $0.key < $1.key }.map { Array("\($0.key)=\($0.value)\0".utf8) }
    }
}

/// The process groups of cc-ci's running children.
///
/// Invariant: a group is listed from the moment its leader is spawned until it was reaped; the
/// lifetime guards use ``terminateAll(signal:)`` so that cancelling a run never leaves a child
/// (or grandchild) running.
public final class ChildProcessGroups: Sendable {
    public static let shared = ChildProcessGroups()

    private let groups = Mutex<Set<pid_t>>([])

    func insert(_ pid: pid_t) {
        groups.withLock { _ = $0.insert(pid) }
    }

    func remove(_ pid: pid_t) {
        groups.withLock { _ = $0.remove(pid) }
    }

    /// The groups currently running.
    public var live: Set<pid_t> {
        groups.withLock { $0 }
    }

    /// Sends `signal` to every live child process group.
    public func terminateAll(signal: Int32 = SIGTERM) {
        for group in live { _ = kill(-group, signal) }
    }
}
