import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Helper subprocesses of the real-kernel safety tests (`ccci-safety-helper`). Every process
/// started here, and every pid recorded, is killed by pid in ``cleanup()`` — never by name.
public final class HelperProcesses: @unchecked Sendable {
    public let directory: TemporaryDirectory
    private var processes: [Process] = []
    private var pids: [pid_t] = []
    private var counter = 0
    private let lock = NSLock()

    public init() throws {
        directory = try TemporaryDirectory("ccci-safety")
    }

    /// The helper executable, next to the test bundle.
    public static var executable: URL {
        TestEnvironment.ccciExecutable.deletingLastPathComponent().appendingPathComponent("ccci-safety-helper")
    }

    /// A fresh marker file path.
    public func markerFile() -> String {
        lock.lock()
        defer { lock.unlock() }
        counter += 1
        return directory.appending("marker-\(counter).txt").path
    }

    /// Starts the helper with `arguments`.
    @discardableResult
    public func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        lock.lock()
        processes.append(process)
        lock.unlock()
        return process
    }

    /// Records a pid to kill at cleanup (a helper's own child).
    public func track(_ pid: pid_t) {
        lock.lock()
        pids.append(pid)
        lock.unlock()
    }

    /// Kills every helper and tracked pid (SIGKILL, by pid).
    public func cleanup() {
        lock.lock()
        defer { lock.unlock() }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for pid in pids { kill(pid, SIGKILL) }
        for process in processes { process.waitUntilExit() }
    }

    deinit {
        cleanup()
    }

    /// Waits (bounded, polling every 50 ms) for a marker line starting with `prefix`.
    public static func waitForMarker(
        _ file: String, _ prefix: String, timeout: Duration = .seconds(15)
    ) async -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) })
            {
                return String(line)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
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
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !FileManager.default.fileExists(atPath: file.path), clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        return try String(contentsOf: file, encoding: .utf8).split(separator: " ").compactMap {
            pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Waits (bounded) for `pid` to be gone.
    public static func waitGone(_ pid: pid_t, timeout: Duration = .seconds(15)) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if !alive(pid) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
