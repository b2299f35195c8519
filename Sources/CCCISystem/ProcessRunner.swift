import CCCICore
import CSystemShims
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
///
/// Standard input is a file, never a pipe: a child that exits without reading it (a hook that is
/// just `exit 0`) cannot make cc-ci fail on a broken pipe. A log file keeps at most
/// ``LogLimits/head`` + ``LogLimits/tail`` bytes of one command's output (the cut is marked in
/// the log); a command that writes more than ``LogLimits/hardStop`` is stopped.
public struct ProcessRunner: Sendable {
    /// Captured output beyond this many bytes per stream is an error (no command cc-ci runs in
    /// capture mode should come near it; long outputs go to log files).
    public static let captureLimit = 64 * 1024 * 1024

    /// How long a cancelled child has between SIGTERM and SIGKILL.
    public var terminationGrace: Duration

    public init(terminationGrace: Duration = .seconds(5)) {
        self.terminationGrace = terminationGrace
    }

    /// Runs `command`; when `timeout` passes first, ends it (its process group) and returns `nil`.
    public func run(_ command: Command, timeout: Duration) async throws -> CommandResult? {
        try await withThrowingTaskGroup(of: CommandResult?.self) { group in
            group.addTask { try await run(command) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
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
        // Standard input is an unlinked temporary file holding the input (or nothing).
        let input = try InputFile(command.input ?? Data(), argv: command.displayArgv)
        defer { input.close() }
        do {
            switch command.output {
            case .capture:
                let limit = StringOutput<UTF8>.string(limit: Self.captureLimit)
                let (status, output, error) = try await Self.execute(
                    configuration, input: input.descriptor, output: limit, error: limit, watch: nil)
                return CommandResult(
                    command: command, status: status.0, signaled: status.1, output: output, errorOutput: error,
                    duration: clock.now - start)
            case .file(let url):
                let descriptor = try FileDescriptor.open(
                    FilePath(url.path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                    permissions: [.ownerReadWrite])
                defer { try? descriptor.close() }
                let sink = FileDescriptorOutput.fileDescriptor(descriptor, closeAfterSpawningProcess: false)
                let (status, _, error) = try await Self.execute(
                    configuration, input: input.descriptor, output: sink,
                    error: StringOutput<UTF8>.string(limit: Self.captureLimit), watch: nil)
                return CommandResult(
                    command: command, status: status.0, signaled: status.1, output: "", errorOutput: error,
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
                let stopped = Locked(false)
                let (status, _, _) = try await Self.execute(
                    configuration, input: input.descriptor, output: sink, error: sink,
                    watch: OutputWatch(file: url, offset: offset, stopped: stopped))
                let cut = LogLimits.trim(url, from: offset, stoppedAtHardLimit: stopped.value)
                return CommandResult(
                    command: command, status: status.0, signaled: status.1, output: Self.read(url, from: offset),
                    errorOutput: "", duration: clock.now - start, outputCut: cut)
            }
        } catch let error as SubprocessError {
            throw LaunchError(argv: command.displayArgv, reason: String(describing: error))
        }
    }

    /// A log file a running command writes to, watched for the hard output limit.
    struct OutputWatch: Sendable {
        let file: URL
        let offset: Int64
        let stopped: Locked<Bool>
    }

    /// Runs a configured subprocess, its process group listed in ``ChildProcessGroups`` from
    /// spawn until it was reaped — also when the run throws. With `watch`, a command whose output
    /// passes ``LogLimits/hardStop`` has its process group stopped.
    private static func execute<Output: OutputProtocol, ErrorOutput: ErrorOutputProtocol>(
        _ configuration: Configuration, input: FileDescriptor, output: Output, error: ErrorOutput,
        watch: OutputWatch?
    ) async throws -> ((Int32, Bool), Output.OutputType, ErrorOutput.OutputType) {
        let spawned = Locked<pid_t?>(nil)
        defer { if let pid = spawned.value { ChildProcessGroups.shared.remove(pid) } }
        let run: @Sendable () async throws -> ExecutionResult<Void, Output, ErrorOutput> = {
            try await Subprocess.run(
                configuration, input: .fileDescriptor(input, closeAfterSpawningProcess: false), output: output,
                error: error
            ) { execution in
                let pid = execution.processIdentifier.value
                spawned.withLock { $0 = pid }
                ChildProcessGroups.shared.insert(pid)
            }
        }
        guard let watch else {
            let result = try await run()
            return (status(result.terminationStatus), result.standardOutput, result.standardError)
        }
        let result = try await withThrowingTaskGroup(of: ExecutionResult<Void, Output, ErrorOutput>?.self) { group in
            group.addTask { try await run() }
            group.addTask {
                // The hard limit: a command that floods its log is stopped, not allowed to fill the disk.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let size =
                        (try? FileManager.default.attributesOfItem(atPath: watch.file.path)[.size] as? Int64) ?? 0
                    guard size - watch.offset > LogLimits.hardStop, let pid = spawned.value else { continue }
                    watch.stopped.withLock { $0 = true }
                    _ = kill(-pid, SIGTERM)
                    try? await Task.sleep(for: .seconds(2))
                    _ = kill(-pid, SIGKILL)
                    return nil
                }
                return nil
            }
            var finished: ExecutionResult<Void, Output, ErrorOutput>?
            while let next = try await group.next() {
                if let next {
                    finished = next
                    group.cancelAll()
                }
            }
            return finished!
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

    /// What a log-file command appended, as text (bounded by ``LogLimits``).
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
    private let observer = Mutex<(@Sendable (Set<pid_t>) -> Void)?>(nil)

    func insert(_ pid: pid_t) {
        let now = groups.withLock {
            $0.insert(pid)
            return $0
        }
        observer.withLock { $0 }?(now)
    }

    func remove(_ pid: pid_t) {
        let now = groups.withLock {
            $0.remove(pid)
            return $0
        }
        observer.withLock { $0 }?(now)
    }

    /// Calls `body` with the live groups whenever one starts or ends (a run records them for the
    /// janitor, which ends them if the run is killed); `nil` stops.
    public func observe(_ body: (@Sendable (Set<pid_t>) -> Void)?) {
        observer.withLock { $0 = body }
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

/// An anonymous in-memory file (memfd) holding a command's standard input: nothing on disk, not
/// inherited by other children. A child may read it or not; nothing cc-ci does can fail because
/// the child exited early.
struct InputFile {
    let descriptor: FileDescriptor

    init(_ data: Data, argv: String) throws {
        let fd = ccci_anonymous_file("ccci-stdin")
        guard fd >= 0 else {
            throw LaunchError(
                argv: argv, reason: "cannot create its standard input: \(String(cString: strerror(errno)))")
        }
        descriptor = FileDescriptor(rawValue: fd)
        do {
            if !data.isEmpty { _ = try descriptor.writeAll(data) }
            _ = try descriptor.seek(offset: 0, from: .start)
        } catch {
            try? descriptor.close()
            throw LaunchError(argv: argv, reason: "cannot write its standard input: \(error)")
        }
    }

    func close() {
        try? descriptor.close()
    }
}

/// How much of one command's output a log file keeps.
public enum LogLimits {
    /// The first bytes kept.
    public static let head: Int64 = 4 << 20
    /// The last bytes kept (failures are usually reported at the end).
    public static let tail: Int64 = 1 << 20
    /// A command writing more than this is stopped.
    public static let hardStop: Int64 = 1 << 30

    /// Rewrites the part of `url` after `offset` to its first ``head`` and last ``tail`` bytes
    /// with a line saying how much was cut between them. Returns the bytes cut (0 when the
    /// output fit). Memory use is bounded by ``tail``.
    @discardableResult
    public static func trim(_ url: URL, from offset: Int64, stoppedAtHardLimit: Bool = false) -> Int64 {
        guard let handle = try? FileHandle(forUpdating: url) else { return 0 }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd(), Int64(end) - offset > head + tail else {
            if stoppedAtHardLimit {
                try? handle.write(
                    contentsOf: Data("\n[cc-ci: stopped: the output passed \(hardStop >> 20) MiB]\n".utf8))
            }
            return 0
        }
        let total = Int64(end) - offset
        try? handle.seek(toOffset: UInt64(Int64(end) - tail))
        let last = (try? handle.read(upToCount: Int(tail))) ?? Data()
        let cut = total - head - Int64(last.count)
        try? handle.truncate(atOffset: UInt64(offset + head))
        _ = try? handle.seekToEnd()
        var note =
            "\n[cc-ci: \(cut) bytes of output cut here — a log keeps the first \(head >> 20) MiB and the last "
            + "\(tail >> 20) MiB of each command\(stoppedAtHardLimit ? "; the command was stopped when its output passed \(hardStop >> 20) MiB" : "")]\n"
        note = note.replacingOccurrences(of: "  ", with: " ")
        try? handle.write(contentsOf: Data(note.utf8))
        try? handle.write(contentsOf: last)
        return cut
    }
}
