import CCCISystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Helper subprocesses of the real-kernel safety tests (`ccci-safety-helper`). Every process
/// started here, and every pid recorded, is killed by pid in ``cleanup()`` — never by name.
public final class HelperProcesses: Sendable {
    public let directory: TemporaryDirectory
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var processes: [Process] = []
        var pids: [pid_t] = []
        var counter = 0
    }

    public init() throws {
        directory = try TemporaryDirectory("ccci-safety")
    }

    /// The helper executable, next to the test bundle.
    public static var executable: URL {
        TestEnvironment.ccciExecutable.deletingLastPathComponent().appendingPathComponent("ccci-safety-helper")
    }

    /// A fresh marker file path.
    public func markerFile() -> String {
        let counter = state.withLock { state in
            state.counter += 1
            return state.counter
        }
        return directory.appending("marker-\(counter).txt").path
    }

    /// Starts the helper with `arguments`, forked on the ``SpawnThread`` (a `guarded` helper arms
    /// the parent-death signal, which the kernel ties to the forking thread).
    @discardableResult
    public func start(_ arguments: [String], environment: [String: String] = [:]) async throws -> Process {
        let process = prepare(arguments, environment: environment)
        try await withTaskExecutorPreference(SpawnThread.shared) { try process.run() }
        return process
    }

    /// The helper with `arguments`, not started yet, killed at ``cleanup()`` once it runs.
    public func prepare(_ arguments: [String], environment: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        state.withLock { $0.processes.append(process) }
        return process
    }

    /// Records a pid to kill at cleanup (a helper's own child).
    public func track(_ pid: pid_t) {
        state.withLock { $0.pids.append(pid) }
    }

    /// Kills every helper still running and every tracked pid (SIGKILL, by pid). A SIGKILLed
    /// process cannot linger, and `Process` reaps its own children, so nothing is waited for.
    public func cleanup() {
        state.withLock { state in
            for process in state.processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for pid in state.pids { kill(pid, SIGKILL) }
            state.processes = []
            state.pids = []
        }
    }

    deinit {
        cleanup()
    }

    /// Waits (bounded, polling every 50 ms) for a marker line starting with `prefix`.
    public static func waitForMarker(
        _ file: String, _ prefix: String, timeout: Duration = .seconds(15)
    ) async -> String? {
        let line = try? await poll(
            until: { () -> String? in
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
                return text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }).map(String.init)
            }, timeout: timeout)
        return line ?? nil
    }

    /// Whether a process with `pid` is running (a zombie — exited, not yet reaped — is not).
    public static func alive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// The pids a test wrote to `file` (space-separated), once the file exists (bounded).
    public static func waitForPIDs(in file: URL, timeout: Duration = .seconds(90)) async throws -> [pid_t] {
        _ = try await poll(until: { FileManager.default.fileExists(atPath: file.path) }, timeout: timeout)
        return try String(contentsOf: file, encoding: .utf8).split(separator: " ").compactMap {
            pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Waits (bounded) for `pid` to be gone.
    public static func waitGone(_ pid: pid_t, timeout: Duration = .seconds(15)) async -> Bool {
        (try? await poll(until: { !alive(pid) }, timeout: timeout)) ?? false
    }
}
