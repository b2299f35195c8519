/// How a run ended, and its exit code (SPEC F-RUN).
public enum RunOutcome: String, Sendable, Codable, Hashable, CaseIterable {
    /// Every requested tier passed (or is N/A).
    case pass
    /// A tier failed (or teardown left residue).
    case fail
    /// Bad usage or configuration: nothing was deployed.
    case error
    /// SIGTERM: torn down and stopped.
    case cancelled
    /// SIGINT (Ctrl-C), or the run's process died and the janitor finished it.
    case interrupted
    /// SIGHUP (the terminal closed): torn down and stopped.
    case hangup
    /// The hard deadline passed: torn down and stopped.
    case deadline

    public var exitCode: Int32 {
        switch self {
        case .pass: return 0
        case .fail: return 1
        case .error: return 2
        case .cancelled: return 143
        case .interrupted: return 130
        case .hangup: return 129
        case .deadline: return 142
        }
    }
}
