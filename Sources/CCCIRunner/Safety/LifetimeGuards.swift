import CSystemShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The parent-death guard (SPEC F-LIFETIME).
///
/// Invariant: a run never outlives the process that started it (a CI step, the server's worker).
/// `PR_SET_PDEATHSIG` makes the kernel send SIGTERM when the parent dies, which starts the
/// teardown funnel. The signal only fires for a death *after* it is armed, so the parent is
/// checked again afterwards: a run whose parent is already gone refuses to start rather than run
/// with nothing managing its lifetime.
///
/// The kernel keeps the parent-death signal per *thread* and forgets it when that thread exits,
/// so it is armed on the main thread at launch, which lives as long as the process.
public enum LifetimeGuards {
    /// Set to 1 to run under init (a parent pid of 1) on purpose, e.g. as a systemd service.
    public static let allowInitParentVariable = "CCCI_ALLOW_INIT_PARENT"

    // Written once, on the main thread, before anything concurrent starts; read afterwards.
    nonisolated(unsafe) private static var launchParent: pid_t = getppid()
    nonisolated(unsafe) private static var armResult: Result<Int32, LifetimeError>?

    /// This process' parent when it started.
    public static var parentAtLaunch: pid_t { launchParent }

    /// Records the parent pid; call first thing in `main` (for commands that arm no guard).
    public static func recordParentAtLaunch() {
        launchParent = getppid()
    }

    /// Records the parent and arms the parent-death signal. Call first thing in `main`, on the
    /// main thread, before any `await`: the kernel keeps the setting per *thread* and drops it
    /// when that thread exits, and after an `await` code may run on a worker thread that the
    /// runtime can retire. The main thread lives as long as the process.
    public static func armAtLaunch(environment: [String: String] = ProcessInfo.processInfo.environment) {
        launchParent = getppid()
        armResult = Result { () throws(LifetimeError) -> Int32 in
            try armParentDeath(originalParent: launchParent, environment: environment)
            return ccci_get_parent_death_signal()
        }
    }

    /// Throws unless ``armAtLaunch(environment:)`` armed the guard; returns the armed signal.
    @discardableResult
    public static func requireArmed() throws(LifetimeError) -> Int32 {
        switch armResult {
        case .success(let signal): return signal
        case .failure(let error): throw error
        case nil: throw .notArmed
        }
    }

    /// Arms the parent-death signal on the calling thread and checks the parent is still there.
    public static func armParentDeath(
        originalParent: pid_t, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(LifetimeError) {
        guard ccci_set_parent_death_signal(SIGTERM) == 0 else {
            throw .prctlFailed(String(cString: strerror(errno)))
        }
        let parent = getppid()
        if parent != originalParent || (parent == 1 && environment[allowInitParentVariable] != "1") {
            throw .orphaned(parent: parent)
        }
    }
}

/// A run that must not start.
public enum LifetimeError: Error, Sendable, CustomStringConvertible {
    case prctlFailed(String)
    case orphaned(parent: pid_t)
    case notArmed

    public var description: String {
        switch self {
        case .prctlFailed(let reason):
            return "cannot arm the parent-death signal (prctl PR_SET_PDEATHSIG): \(reason)"
        case .notArmed:
            return "the parent-death guard was not armed at launch (LifetimeGuards.armAtLaunch in main)"
        case .orphaned(let parent):
            return "the process that started this run is already gone (parent is now pid \(parent)); refusing to run "
                + "orphaned — set \(LifetimeGuards.allowInitParentVariable)=1 to run under init on purpose"
        }
    }
}
