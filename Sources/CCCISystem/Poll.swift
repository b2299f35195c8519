/// How a poll spaces its attempts: `initial` after the first, doubling up to `maximum`.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// 50 ms growing to 500 ms: right for an engine or an HTTP endpoint on this node.
    public static let local = Backoff(initial: .milliseconds(50), maximum: .milliseconds(500))
}

/// Calls `attempt` until it returns a value and returns that value, or `nil` once `timeout` has
/// passed (never, when `timeout` is nil). Between attempts it sleeps on `backoff`, and it never
/// sleeps past the deadline: when the next sleep would end after it, the poll gives up at once
/// rather than wake just to fail. Errors `attempt` throws end the poll; so does cancellation
/// (`CancellationError`), which is checked before every attempt, so a poll never blocks a
/// thread and never outlives its task.
///
/// The one waiting loop of the project: every "wait until the engine, a lock, an app or a file
/// says so" goes through here (the convergence waiter, which follows the engine's event stream,
/// is the exception).
public func poll<Value>(
    until attempt: () async throws -> Value?,
    timeout: Duration? = nil,
    backoff: Backoff = .local
) async throws -> Value? {
    let clock = ContinuousClock()
    let deadline = timeout.map { clock.now + $0 }
    var delay = backoff.initial
    while true {
        try Task.checkCancellation()
        if let value = try await attempt() { return value }
        if let deadline, clock.now + delay >= deadline { return nil }
        try await Task.sleep(for: delay)
        delay = min(delay * 2, backoff.maximum)
    }
}

/// ``poll(until:timeout:backoff:)`` for a condition: `true` once it held, `false` on timeout.
public func poll(
    until condition: () async throws -> Bool,
    timeout: Duration? = nil,
    backoff: Backoff = .local
) async throws -> Bool {
    try await poll(until: { try await condition() ? true : nil }, timeout: timeout, backoff: backoff) ?? false
}
