#if canImport(Glibc)
import Glibc
#endif

/// CPU time this process used, and what its finished children used (`getrusage`): what a run
/// costs the node beyond wall time. Children count once they have exited and been waited for.
public struct CPUUsage: Sendable, Hashable {
    /// User + system time of this process.
    public let own: Duration
    /// User + system time of its terminated, waited-for children (git, docker, restic, hooks, tests).
    public let children: Duration

    public static func now() -> CPUUsage {
        CPUUsage(own: time(RUSAGE_SELF.rawValue), children: time(RUSAGE_CHILDREN.rawValue))
    }

    private static func time(_ who: __rusage_who_t) -> Duration {
        var usage = rusage()
        guard getrusage(who, &usage) == 0 else { return .zero }
        func duration(_ value: timeval) -> Duration {
            .seconds(Int64(value.tv_sec)) + .microseconds(Int64(value.tv_usec))
        }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }
}
