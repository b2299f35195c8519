import CCCISystem
import CSystemShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `ccci run` the server started for a job: the leader of its own process group, its output
/// appended to a log file.
///
/// Invariant: every run is forked by ``RunSpawner``'s one thread, which lives as long as the
/// server. The kernel sends a child its parent-death signal (armed by `ccci run` at launch) when
/// the *thread* that forked it ends, not the process: a run forked by a pool thread that the
/// runtime later retires would be stopped for nothing. Forked from a thread that never ends, a
/// run is stopped by its parent-death signal exactly when the server dies.
public struct RunProcess: Sendable {
    public let pid: pid_t
    /// The process' start time (clock ticks since boot), which tells it from a later process
    /// that gets the same pid.
    public let startTime: UInt64

    /// Starts `executable arguments` with `environment`, its output appended to `log`.
    public static func start(
        _ executable: URL, _ arguments: [String], environment: [String: String], log: URL
    ) async throws -> RunProcess {
        try FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        let pid = try await RunSpawner.shared.spawn(
            executable.path, [executable.path] + arguments,
            environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }, log: log.path)
        return RunProcess(pid: pid, startTime: ProcessStart.time(of: pid) ?? 0)
    }

    /// Sends `signal` to the run's whole process group.
    public func signal(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// Waits until the run exits; returns its exit status, or 128 + the signal that ended it.
    /// Call once: it reaps the process.
    public func wait() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            // A thread that blocks in waitpid for this child only (runs last minutes, the pool
            // must not be held that long).
            let thread = Thread {
                var status: Int32 = 0
                var result: pid_t
                repeat {
                    result = waitpid(pid, &status, 0)
                } while result == -1 && errno == EINTR
                guard result == pid else { return continuation.resume(returning: 255) }
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
            }
            thread.name = "ccci-wait-\(pid)"
            thread.start()
        }
    }
}

/// The one thread that forks the server's runs (see ``RunProcess``).
///
/// `@unchecked` because `pending` is guarded by a condition variable: the spawner is a plain
/// thread that must sleep while there is nothing to fork, and Synchronization's `Mutex` has no
/// wait/signal. Every access to `pending` holds `condition`.
final class RunSpawner: @unchecked Sendable {
    static let shared = RunSpawner()

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var pending: [() -> Void] = []

    private init() {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "ccci-spawner"
        thread.start()
    }

    private func serve() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let work = pending.removeFirst()
            condition.unlock()
            work()
        }
    }

    /// Forks `path` on the spawner thread; returns its pid.
    func spawn(_ path: String, _ argv: [String], _ environment: [String], log: String) async throws -> pid_t {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<pid_t, any Error>) in
            condition.lock()
            pending.append {
                continuation.resume(with: Result { try Self.spawnNow(path, argv, environment, log: log) })
            }
            condition.signal()
            condition.unlock()
        }
    }

    private static func spawnNow(_ path: String, _ argv: [String], _ environment: [String], log: String) throws -> pid_t
    {
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = ccci_spawn_in_own_group(path, arguments, variables, log, &pid)
        guard rc == 0 else {
            throw RunLaunchError(executable: path, reason: String(cString: strerror(rc)))
        }
        return pid
    }
}

/// A run that could not be started at all.
public struct RunLaunchError: Error, Sendable, CustomStringConvertible {
    public let executable: String
    public let reason: String

    public var description: String {
        "cannot start \(executable): \(reason) — is it the ccci executable, and may this user run it?"
    }
}
