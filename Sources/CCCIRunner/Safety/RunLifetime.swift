import CCCICore
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a run is stopped from outside (SPEC F-LIFETIME): SIGTERM, SIGINT or SIGHUP (a closed
/// terminal), or its hard deadline. SIGPIPE is ignored: a closed stdout fails writes, it does not
/// kill the run before its teardown.
///
/// Invariant: a stop request only ever *cancels the run's work*; the teardown funnel runs after
/// it, un-cancelled, and a signal arriving during teardown is logged and ignored so it cannot
/// abort the cleanup the first signal asked for. Signals are received through dispatch sources
/// (the default handlers are ignored), never by interrupting code at random points.
// `@unchecked`: the dispatch sources are created in `init` and only cancelled in `deinit`.
public final class RunLifetime: @unchecked Sendable {
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
    private let state = LifetimeState()
    private let sources: [any DispatchSourceSignal]
    /// Called for every signal that arrives once teardown has begun (it is ignored).
    private let onIgnoredSignal: @Sendable (Int32) -> Void

    /// Installs the SIGTERM/SIGINT handlers. `deadline` bounds the run's work.
    public init(deadline: Duration, onIgnoredSignal: @escaping @Sendable (Int32) -> Void) {
        self.deadline = deadline
        self.onIgnoredSignal = onIgnoredSignal
        (stops, continuation) = AsyncStream.makeStream(of: StopReason.self, bufferingPolicy: .bufferingNewest(4))
        var sources: [any DispatchSourceSignal] = []
        let continuation = self.continuation
        let state = self.state
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGTERM, SIGINT, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if state.tearingDown {
                    onIgnoredSignal(number)
                } else {
                    continuation.yield(.signal(number))
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    deinit {
        for source in sources { source.cancel() }
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
            state.stopReason = reason
            return reason
        }
    }

    /// Marks the start of the teardown funnel: from now on, signals are logged and ignored.
    public func beginTeardown() {
        state.tearingDown = true
    }

    /// Why the run was stopped, if it was.
    public var stopReason: StopReason? { state.stopReason }
}

/// Flags shared with the signal handlers.
final class LifetimeState: @unchecked Sendable {
    private let lock = NSLock()
    private var _tearingDown = false
    private var _stopReason: RunLifetime.StopReason?

    var tearingDown: Bool {
        get { lock.withLock { _tearingDown } }
        set { lock.withLock { _tearingDown = newValue } }
    }

    var stopReason: RunLifetime.StopReason? {
        get { lock.withLock { _stopReason } }
        set { lock.withLock { if _stopReason == nil { _stopReason = newValue } } }
    }
}
