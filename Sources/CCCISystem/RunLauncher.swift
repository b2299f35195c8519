import CCCICore
import CSystemShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a `ccci run` is asked to do: the single contract a server's worker, the sweep or a CI
/// engine's job invokes — `ccci run <recipe> [--pr N] [--ref R] --json --run-id <id>
/// [--stages S] [--quick]`. The caller names the run (``runID``), so it can link to it while it
/// runs and find its `results.json` in the run directory when it ends; the exit status is the
/// verdict (0 pass, 1 fail, 2 usage, 143 stopped).
public struct RunRequest: Sendable, Hashable {
    public var recipe: String
    public var ref: String?
    /// The pull request (`nil`: none).
    public var pr: Int?
    /// `--stages` as `ccci run` takes it (`nil`: every stage).
    public var stages: String?
    public var quick: Bool
    public var runID: String

    public init(
        recipe: String, ref: String? = nil, pr: Int? = nil, stages: String? = nil, quick: Bool = false,
        runID: String
    ) {
        self.recipe = recipe
        self.ref = ref
        self.pr = pr
        self.stages = stages
        self.quick = quick
        self.runID = runID
    }

    /// The command line after the executable.
    public var arguments: [String] {
        var arguments = ["run", recipe]
        if let pr { arguments += ["--pr", "\(pr)"] }
        if let ref { arguments += ["--ref", ref] }
        arguments += ["--json", "--run-id", runID]
        if let stages { arguments += ["--stages", stages] }
        if quick { arguments.append("--quick") }
        return arguments
    }
}

/// Starts `ccci run` the one way cc-ci does — for the server's workers and the sweep alike: the
/// leader of its own process group, forked on the ``SpawnThread`` (so the parent-death signal the
/// run arms stops it exactly when its starter dies), its output appended to the run directory's
/// ``logName``.
public struct RunLauncher: Sendable {
    /// The `ccci` executable.
    public let executable: URL
    /// The run's whole environment.
    public let environment: [String: String]
    /// The node's runs directory (`<home>/runs`).
    public let runsDirectory: URL

    /// The starter's log of a run, beside the run's own `run.log`: what `ccci run` said before
    /// its log existed (a usage error, a failed start).
    public static let logName = "job.log"

    public init(executable: URL, environment: [String: String], runsDirectory: URL) {
        self.executable = executable
        self.environment = environment
        self.runsDirectory = runsDirectory
    }

    /// Where run `runID`'s files are.
    public func directory(of runID: String) -> URL { runsDirectory.appendingPathComponent(runID) }

    /// The starter's log of run `runID`.
    public func log(of runID: String) -> URL { directory(of: runID).appendingPathComponent(Self.logName) }

    /// The results document run `runID` wrote (`nil`: none, or not one cc-ci can read).
    public func results(of runID: String) -> RunResults? {
        try? JSONCoding.decoder.decode(
            RunResults.self, from: Data(contentsOf: directory(of: runID).appendingPathComponent("results.json")))
    }

    /// Starts the run.
    public func start(_ request: RunRequest) async throws -> LaunchedRun {
        let log = log(of: request.runID)
        try FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        let path = executable.path
        let argv = [path] + request.arguments
        let variables = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let pid = try await SpawnThread.shared.perform {
            let arguments = argv.map { strdup($0) } + [nil]
            let environment = variables.map { strdup($0) } + [nil]
            defer {
                for pointer in arguments { free(pointer) }
                for pointer in environment { free(pointer) }
            }
            var pid: pid_t = 0
            let rc = ccci_spawn_in_own_group(path, arguments, environment, log.path, &pid)
            guard rc == 0 else { throw RunLaunchError(executable: path, reason: String(cString: strerror(rc))) }
            return pid
        }
        return LaunchedRun(pid: pid, startTime: ProcessStart.time(of: pid) ?? 0)
    }

    /// Starts the run and waits for it; returns its exit status. Cancelling the calling task stops
    /// the run — SIGTERM to its process group (it tears down and exits 143), SIGKILL once
    /// `stopGrace` has passed without it ending.
    public func run(_ request: RunRequest, stopGrace: Duration) async throws -> Int32 {
        let run = try await start(request)
        return await withTaskCancellationHandler {
            await run.wait()
        } onCancel: {
            run.stop(grace: stopGrace)
        }
    }
}

/// A `ccci run` a ``RunLauncher`` started, not yet reaped.
public struct LaunchedRun: Sendable {
    public let pid: pid_t
    /// The process' start time (clock ticks since boot), which tells it from a later process
    /// that gets the same pid.
    public let startTime: UInt64

    public init(pid: pid_t, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// Sends `signal` to the run's whole process group.
    public func signal(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// SIGTERM to the run's process group, and SIGKILL if it still runs after `grace`.
    public func stop(grace: Duration) {
        signal(SIGTERM)
        let run = self
        Task.detached {
            let clock = ContinuousClock()
            let deadline = clock.now + grace
            while clock.now < deadline, ProcessStart.isRunning(run.pid, startTime: run.startTime) {
                try? await Task.sleep(for: .milliseconds(500))
            }
            if ProcessStart.isRunning(run.pid, startTime: run.startTime) { run.signal(SIGKILL) }
        }
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

/// A run that could not be started at all.
public struct RunLaunchError: Error, Sendable, CustomStringConvertible {
    public let executable: String
    public let reason: String

    public var description: String {
        "cannot start \(executable): \(reason) — is it the ccci executable, and may this user run it?"
    }
}
