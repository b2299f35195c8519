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
public enum LifetimeGuards {
    /// This process' parent when it started (read first thing in `main`, before anything that
    /// could take time, so a parent that died before the guard was armed is still noticed).
    nonisolated(unsafe) public private(set) static var parentAtLaunch: pid_t = getppid()

    /// Records the parent; call first thing in `main`.
    public static func recordParentAtLaunch() {
        parentAtLaunch = getppid()
    }

    /// Set to 1 to run under init (a parent pid of 1) on purpose, e.g. as a systemd service.
    public static let allowInitParentVariable = "CCCI_ALLOW_INIT_PARENT"

    /// Arms the parent-death signal and checks the parent is still there.
    public static func armParentDeath(
        originalParent: pid_t = parentAtLaunch, environment: [String: String] = ProcessInfo.processInfo.environment
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

    public var description: String {
        switch self {
        case .prctlFailed(let reason):
            return "cannot arm the parent-death signal (prctl PR_SET_PDEATHSIG): \(reason)"
        case .orphaned(let parent):
            return "the process that started this run is already gone (parent is now pid \(parent)); refusing to run "
                + "orphaned — set \(LifetimeGuards.allowInitParentVariable)=1 to run under init on purpose"
        }
    }
}
