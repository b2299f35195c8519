import CCCIStore
import CCCISystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The runs the workers have started and not yet reaped, by job id, so that a push can stop
/// its pull request's run and a shutdown can stop them all.
///
/// Invariant: a stop request is never lost to a race with the start of a run. A job stopped
/// before its run is registered is remembered and its run is stopped the moment it registers;
/// once ``stopAll()`` was called, every run that registers is stopped at once.
public final class RunningJobs: Sendable {
    private struct State {
        var processes: [Int64: LaunchedRun] = [:]
        var stopRequested: Set<Int64> = []
        var closed = false
    }

    private let state = Mutex(State())
    /// The CI engine jobs are handed to, when there is one: it stops what it runs.
    let engine: (any Dispatcher)?

    public init(engine: (any Dispatcher)? = nil) {
        self.engine = engine
    }

    /// Stops `job` wherever it runs: a job handed to the engine is cancelled there (a running
    /// step tears down and records the job's end); a run of this node's workers gets SIGTERM.
    public func stop(_ job: Job) {
        if let engine, job.dispatchedAt != nil {
            let reason = job.cancelReason ?? "cancelled"
            Task { try? await engine.cancel(job, reason: reason) }
        } else if job.state == .running {
            terminate(job.number)
        }
    }

    /// Records a started run; stops it at once when its job was stopped already.
    func register(_ job: Int64, _ process: LaunchedRun) {
        let stop = state.withLock { state in
            state.processes[job] = process
            return state.closed || state.stopRequested.remove(job) != nil
        }
        if stop { process.signal(SIGTERM) }
    }

    /// Forgets a run that was reaped.
    func unregister(_ job: Int64) {
        state.withLock { state in
            state.processes[job] = nil
            state.stopRequested.remove(job)
        }
    }

    /// Asks the job's run to stop (SIGTERM to its process group: it tears down and exits 143).
    public func terminate(_ job: Int64) {
        let process = state.withLock { state in
            guard let process = state.processes[job] else {
                state.stopRequested.insert(job)
                return nil as LaunchedRun?
            }
            return process
        }
        process?.signal(SIGTERM)
    }

    /// Stops every run, and every run that registers from now on.
    public func stopAll() {
        let processes = state.withLock { state in
            state.closed = true
            return Array(state.processes.values)
        }
        for process in processes { process.signal(SIGTERM) }
    }

    /// How many runs are registered.
    public var count: Int { state.withLock { $0.processes.count } }
}
