import Synchronization

/// Wakes idle loops (workers, the reply sender) when there is work: ``signal()`` after writing
/// work, ``wait(since:atMost:)`` with the ``generation`` read before looking for work — a signal
/// that came in between is never lost. ``stop()`` wakes every waiter for good.
public final class Wakeup: Sendable {
    private struct State {
        var generation = 0
        var stopped = false
        var nextToken = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose time ran out before they were registered.
        var timedOut: Set<Int> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Read this before looking for work, pass it to ``wait(since:atMost:)``.
    public var generation: Int { state.withLock { $0.generation } }

    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// There is new work.
    public func signal() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// No more work will come: every waiter returns, now and later.
    public func stop() {
        let waiters = state.withLock { state in
            state.stopped = true
            state.generation += 1
            defer { state.waiters.removeAll() }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once a signal came after `generation` was read (at once if one already did), or
    /// after `timeout` (when given). Cancelling the waiting task stops the wakeup (cancellation
    /// only comes at shutdown).
    public func wait(since generation: Int, atMost timeout: Duration? = nil) async {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                if let timeout {
                    group.addTask {
                        try? await Task.sleep(for: timeout)
                        self.resume(token)
                    }
                }
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state in
                        if state.timedOut.remove(token) != nil { return true }
                        if state.stopped || state.generation != generation { return true }
                        state.waiters[token] = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
                group.cancelAll()
            }
            _ = state.withLock { $0.timedOut.remove(token) }
        } onCancel: {
            stop()
        }
    }

    /// Wakes one waiter (its time ran out).
    private func resume(_ token: Int) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: token) else {
                state.timedOut.insert(token)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }
}
