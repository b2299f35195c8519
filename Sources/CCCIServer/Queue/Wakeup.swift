import Synchronization

/// Wakes idle loops (workers, the reply sender) when there is work: ``signal()`` after writing
/// work, ``wait(since:)`` with the ``generation`` read before looking for work — a signal that
/// came in between is never lost. ``stop()`` wakes every waiter for good.
public final class Wakeup: Sendable {
    private struct State {
        var generation = 0
        var stopped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Read this before looking for work, pass it to ``wait(since:)``.
    public var generation: Int { state.withLock { $0.generation } }

    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// There is new work.
    public func signal() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// No more work will come: every waiter returns, now and later.
    public func stop() {
        let waiters = state.withLock { state in
            state.stopped = true
            state.generation += 1
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once a signal came after `generation` was read (at once if one already did).
    /// Cancelling the waiting task stops the wakeup (cancellation only comes at shutdown).
    public func wait(since generation: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state in
                    if state.stopped || state.generation != generation { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            stop()
        }
    }
}
