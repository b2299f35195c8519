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
        var waited = false
        var delay = Duration.milliseconds(100)
        while true {
            try Task.checkCancellation()
            for index in 0..<max(1, capacity) {
                if let lock = try FileLock.tryAcquire(path(index, in: directory)) {
                    HeldLocks.shared.keep(lock)
                    return index
                }
            }
            if !waited {
                await onWait()
                waited = true
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }
}
