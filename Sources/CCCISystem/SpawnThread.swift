import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one thread that forks children which arm a parent-death signal (`ccci run`).
///
/// Invariant: the thread never ends. The kernel sends a child its parent-death signal when the
/// *thread* that forked it ends, not the process: a child forked on a concurrency pool thread
/// that the runtime retires after a few idle seconds is stopped for nothing (a run exits 143
/// half-way, its parent alive and waiting). Forked here, a child is signalled exactly when its
/// parent process dies.
///
/// Work reaches the thread two ways: ``perform(_:)`` runs one synchronous closure (a
/// `posix_spawn`, a Foundation `Process.run()`); as a `TaskExecutor`, a task whose executor
/// preference is this thread (`withTaskExecutorPreference`) runs its nonisolated code here,
/// including a swift-subprocess spawn. Nothing on the thread may block: every job waits its turn.
///
/// `@unchecked` because `pending` is guarded by a condition variable: the thread must sleep
/// while there is nothing to run, and Synchronization's `Mutex` has no wait/signal. Every access
/// to `pending` holds `condition`.
public final class SpawnThread: TaskExecutor, @unchecked Sendable {
    public static let shared = SpawnThread()

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var pending: [() -> Void] = []
    /// The thread's id, set by the thread itself before it serves anything. Guarded by `condition`.
    private var thread: pthread_t?

    private init() {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "ccci-spawner"
        thread.start()
    }

    private func serve() {
        condition.lock()
        thread = pthread_self()
        condition.unlock()
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let work = pending.removeFirst()
            condition.unlock()
            work()
        }
    }

    private func submit(_ work: @escaping () -> Void) {
        condition.lock()
        pending.append(work)
        condition.signal()
        condition.unlock()
    }

    /// Whether the caller runs on the spawn thread.
    public var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        return thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
    }

    /// Runs `work` on the thread and returns what it returned.
    public func perform<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        submit { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
