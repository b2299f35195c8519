import CCCISystem
import CSystemShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `ccci run` the server started for a job: the leader of its own process group, its output
/// appended to a log file.
///
/// Invariant: every run is forked on the ``SpawnThread``, which lives as long as the server, so
/// the parent-death signal `ccci run` arms at launch stops a run exactly when the server dies.
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
        let pid = try await RunSpawner.spawn(
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

/// Forks the server's runs on the ``SpawnThread`` (see ``RunProcess``).
enum RunSpawner {
    /// Forks `path`; returns its pid.
    static func spawn(_ path: String, _ argv: [String], _ environment: [String], log: String) async throws -> pid_t {
        try await SpawnThread.shared.perform {
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
}

/// A run that could not be started at all.
public struct RunLaunchError: Error, Sendable, CustomStringConvertible {
    public let executable: String
    public let reason: String

    public var description: String {
        "cannot start \(executable): \(reason) — is it the ccci executable, and may this user run it?"
    }
}
