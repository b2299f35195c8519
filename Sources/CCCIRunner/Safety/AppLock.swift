import CCCICore
import CCCISystem
import Foundation

/// The per-app-domain lock (SPEC F-LOCK).
///
/// Invariant: a run holds the exclusive `flock` of every app domain it will create *before* the
/// app exists, until the process exits. The kernel releases it when the process dies, however it
/// dies, so "held" means "a live run owns this app" — the janitor's only liveness oracle. The
/// descriptor is close-on-exec (children never carry the lock), and after every acquisition the
/// locked descriptor must still be the file the path names (the janitor unlinks reaped lock
/// files), else acquisition starts over. A second run of the same domain waits, and says so.
public enum AppLocks {
    /// The lock file of `domain`.
    public static func path(for domain: AppDomain, in directory: URL) -> URL {
        directory.appendingPathComponent("ccci-app-\(domain.name).lock")
    }

    /// The domain named by an app lock file's name, unchecked (``AppNaming/appDomain(_:)`` checks it).
    public static func domain(ofLockFile name: String) -> String? {
        guard name.hasPrefix("ccci-app-"), name.hasSuffix(".lock") else { return nil }
        return String(name.dropFirst("ccci-app-".count).dropLast(".lock".count))
    }

    /// Takes the lock of `domain` for the rest of this process' life. `onWait` is called once if
    /// another run holds it.
    @discardableResult
    public static func acquire(
        domain: AppDomain, in directory: URL, onWait: @Sendable () async -> Void
    ) async throws -> FileLock {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = path(for: domain, in: directory)
        // flock conflicts between two descriptors of one process too: never wait on ourselves.
        if let held = HeldLocks.shared.lock(at: path), held.namesPath { return held }
        let lock = try await FileLock.acquire(path, onWait: onWait)
        lock.touch()  // the lock file's mtime is the lock's age for the janitor
        HeldLocks.shared.keep(lock)
        return lock
    }
}

/// The locks this process holds. Never emptied: a lock is released by process exit only, so a
/// dropped reference can never release one early.
public final class HeldLocks: Sendable {
    public static let shared = HeldLocks()
    private let locks = Locked<[FileLock]>([])

    public func keep(_ lock: FileLock) {
        locks.withLock { $0.append(lock) }
    }

    /// The lock files held.
    public var paths: [URL] { locks.value.map(\.path) }

    /// The held lock of `path`, if this process holds it.
    func lock(at path: URL) -> FileLock? {
        locks.value.last { $0.path.standardizedFileURL.path == path.standardizedFileURL.path }
    }
}
