import CCCICore
import CCCISystem
import Foundation
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// How a run is stopped from outside (SPEC F-LIFETIME): SIGTERM, SIGINT or SIGHUP (a closed
/// terminal), or its hard deadline. SIGPIPE is ignored: a closed stdout fails writes, it does not
/// kill the run before its teardown.
///
/// Invariant: a stop request only ever *cancels the run's work*; the teardown funnel runs after
/// it, un-cancelled, and a signal arriving during teardown is logged and ignored so it cannot
/// abort the cleanup the first signal asked for. Signals are received as a sequence
/// (swift-service-lifecycle's `UnixSignalsSequence`; the default handlers are ignored from the
/// first moment), never by interrupting code at random points.
public final class RunLifetime: Sendable {
    public enum StopReason: Sendable, Hashable {
        case signal(Int32)
        case deadline(Duration)

        public var outcome: RunOutcome {
            switch self {
            case .signal(SIGINT): return .interrupted
            case .signal(SIGHUP): return .hangup
            case .signal: return .cancelled
            case .deadline: return .deadline
            }
        }

        public var description: String {
            switch self {
            case .signal(SIGINT): return "SIGINT"
            case .signal(SIGHUP): return "SIGHUP"
            case .signal: return "SIGTERM"
            case .deadline(let limit): return "the \(DurationText.format(limit)) hard deadline"
            }
        }
    }

    public let deadline: Duration
    private let stops: AsyncStream<StopReason>
    private let continuation: AsyncStream<StopReason>.Continuation
    /// Shared with the signal listener, which starts before `self` is fully initialised.
    private let state = Locked(State())
    private let listener: Task<Void, Never>

    private struct State: Sendable {
        var tearingDown = false
        var stopReason: StopReason?
    }

    /// Takes over SIGTERM, SIGINT and SIGHUP (and ignores SIGPIPE). `deadline` bounds the run's
    /// work; `onIgnoredSignal` is called for every signal that arrives once teardown has begun.
    public init(deadline: Duration, onIgnoredSignal: @escaping @Sendable (Int32) -> Void) async {
        self.deadline = deadline
        (stops, continuation) = AsyncStream.makeStream(of: StopReason.self, bufferingPolicy: .bufferingNewest(4))
        // Ignored first, so no signal between here and the sequence's registration kills the run.
        for number in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { signal(number, SIG_IGN) }
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let (continuation, state) = (self.continuation, self.state)
        listener = Task {
            for await received in signals {
                if state.withLock({ $0.tearingDown }) {
                    onIgnoredSignal(received.rawValue)
                } else {
                    continuation.yield(.signal(received.rawValue))
                }
            }
        }
    }

    deinit {
        listener.cancel()
        continuation.finish()
    }

    /// Returns when the run must stop (a signal or the deadline); throws `CancellationError` when
    /// the waiting task is cancelled first (the run finished on its own).
    public func waitForStop(startedAt start: ContinuousClock.Instant) async throws -> StopReason {
        let deadline = self.deadline
        let stops = self.stops
        return try await withThrowingTaskGroup(of: StopReason.self) { group in
            group.addTask {
                for await reason in stops { return reason }
                throw CancellationError()
            }
            group.addTask {
                try await Task.sleep(until: start + deadline, clock: .continuous)
                return .deadline(deadline)
            }
            let reason = try await group.next()!
            group.cancelAll()
            state.withLock { if $0.stopReason == nil { $0.stopReason = reason } }
            return reason
        }
    }

    /// Marks the start of the teardown funnel: from now on, signals are logged and ignored.
    public func beginTeardown() {
        state.withLock { $0.tearingDown = true }
    }

    /// Why the run was stopped, if it was.
    public var stopReason: StopReason? { state.withLock { $0.stopReason } }
}

extension RunLifetime {
    /// Runs `work`, cancelling it when `lifetime` says stop (a signal, the deadline), and ends the
    /// children at once (docker, git, tests: they end now, not when the work notices the
    /// cancellation). Returns what the work got done (`initial` if it never returned) and the
    /// stop, if there was one.
    static func race<Progress: Sendable>(
        _ lifetime: RunLifetime?, startedAt start: ContinuousClock.Instant, from initial: Progress,
        _ work: @escaping @Sendable () async -> Progress
    ) async -> (Progress, StopReason?) {
        let progress = Locked(initial)
        let stop = await withTaskGroup(of: StopReason?.self) { group in
            group.addTask {
                let done = await work()
                progress.withLock { $0 = done }
                return nil
            }
            if let lifetime {
                group.addTask {
                    guard let reason = try? await lifetime.waitForStop(startedAt: start) else { return nil }
                    ChildProcessGroups.shared.terminateAll()
                    return reason
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            for await _ in group {}
            return first
        }
        return (progress.value, stop)
    }
}

extension RunVerdict.Stop {
    init(_ reason: RunLifetime.StopReason) {
        self.init(outcome: reason.outcome, description: reason.description)
    }
}
