import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock(2)` on a lock file.
///
/// Invariants:
/// - the descriptor is opened `O_CLOEXEC`, so no child process ever inherits (and so extends)
///   the lock; the kernel releases it when the holder exits, however it exits;
/// - after every acquisition the locked descriptor must still be the inode the path names
///   (another process may have unlinked the file while we waited on the old inode — a lock on
///   an unlinked inode protects nothing); otherwise acquisition starts over on the live path.
public final class FileLock: Sendable {
    public let path: URL
    private let descriptor: Int32
    private let released = Atomic(false)

    private init(path: URL, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        release()
    }

    /// Takes the lock, waiting while another process holds it. `onWait` is called once, before
    /// the first wait. Waiting polls the lock (50 ms, growing to 250 ms) so that it stays
    /// cancellable and never blocks a thread of the cooperative pool.
    public static func acquire(_ path: URL, onWait: @Sendable () async -> Void = {}) async throws -> FileLock {
        try await acquireFirst(of: [path], onWait: onWait).lock
    }

    /// Takes the first free lock of `paths` (tried in order), waiting while all are held, as
    /// ``acquire(_:onWait:)`` does. Returns the lock and its index in `paths`.
    public static func acquireFirst(
        of paths: [URL], backoff: Backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(250)),
        onWait: @Sendable () async -> Void = {}
    ) async throws -> (lock: FileLock, index: Int) {
        var waited = false
        let taken = try await poll(
            until: { () async throws -> (FileLock, Int)? in
                for (index, path) in paths.enumerated() {
                    if let lock = try tryAcquire(path) { return (lock, index) }
                }
                if !waited {
                    await onWait()
                    waited = true
                }
                return nil
            }, backoff: backoff)
        return taken!  // A poll with no timeout returns a value or throws.
    }

    /// Takes the lock if nobody holds it; `nil` when it is held. Creates the file if needed.
    /// Throws ``FileLockError`` when the lock file cannot be opened (not a file, no permission).
    public static func tryAcquire(_ path: URL) throws(FileLockError) -> FileLock? {
        while true {
            let descriptor = open(path.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw .cannotOpen(path.path, errno: errno) }
            if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
                let error = errno
                close(descriptor)
                if error == EWOULDBLOCK { return nil }
                throw .cannotLock(path.path, errno: error)
            }
            let lock = FileLock(path: path, descriptor: descriptor)
            if lock.namesPath { return lock }
            lock.release()  // we won an unlinked inode: try again on the file the path names now
        }
    }

    /// Whether the locked descriptor is still the file at ``path``.
    public var namesPath: Bool {
        var held = stat()
        var current = stat()
        guard fstat(descriptor, &held) == 0, stat(path.path, &current) == 0 else { return false }
        return held.st_ino == current.st_ino && held.st_dev == current.st_dev
    }

    /// Sets the lock file's modification time to now (the janitor reads it as the lock's age).
    public func touch() {
        futimens(descriptor, nil)
    }

    /// Removes the lock file while still holding the lock (the janitor's reap).
    public func unlinkWhileHeld() {
        if namesPath { unlink(path.path) }
    }

    /// Releases the lock (closes the descriptor). Idempotent.
    public func release() {
        if released.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            close(descriptor)
        }
    }
}

/// A lock file that cannot be used.
public enum FileLockError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(String, errno: Int32)
    case cannotLock(String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let code):
            return "cannot open lock file \(path): \(String(cString: strerror(code)))"
        case .cannotLock(let path, let code):
            return "cannot lock \(path): \(String(cString: strerror(code)))"
        }
    }
}
