import CCCICore
import CCCISystem
import Foundation

/// The node's run capacity (SPEC F-CAPACITY): the one knob for how many runs execute at once.
///
/// Invariant: a run holds one of `capacity` slot locks (`ccci-slot-<n>.lock`) for its whole life;
/// the kernel frees the slot when the process exits, however it exits. A run that finds every
/// slot taken waits — and says so — before it creates anything.
public enum RunSlots {
    /// The lock file of slot `index`.
    public static func path(_ index: Int, in directory: URL) -> URL {
        directory.appendingPathComponent("ccci-slot-\(index).lock")
    }

    /// Takes a free slot, waiting (cancellably) while all `capacity` are held. Returns its index.
    public static func acquire(
        capacity: Int, in directory: URL, onWait: @Sendable () async -> Void
    ) async throws -> Int {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let slot = try await FileLock.acquireFirst(
            of: (0..<max(1, capacity)).map { path($0, in: directory) },
            backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(1)), onWait: onWait)
        HeldLocks.shared.keep(slot.lock)
        return slot.index
    }
}

extension RunSlots {
    /// Takes up to `count` slots that are free right now, without waiting (a run's extra upgrade
    /// bases each hold one). The caller releases them when done; the kernel does if it dies.
    public static func takeFree(_ count: Int, capacity: Int, in directory: URL) -> [FileLock] {
        var taken: [FileLock] = []
        for index in 0..<max(1, capacity) where taken.count < count {
            if let lock = try? FileLock.tryAcquire(path(index, in: directory)) { taken.append(lock) }
        }
        return taken
    }
}
