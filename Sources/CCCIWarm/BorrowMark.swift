import CCCICore
import CCCIRunner
import CCCIStore
import CCCISystem
import Foundation

/// The mark a quick run leaves on a warm canonical it has borrowed (SPEC F-QUICK): written once
/// the canonical's data is snapshotted, before it is changed, and removed once it is given back.
///
/// Invariant: a canonical record never claims what the warm app does not run. A quick run that
/// was killed outright (SIGKILL, the node lost power) cannot give the canonical back, and the
/// janitor never touches warm apps — so whoever next holds the warm app's lock and finds the
/// mark knows its writer is dead and the app may be at the head it tried: the record is marked
/// `broken` (the next sweep re-seeds it) and the mark removed.
public enum BorrowMark {
    /// The mark of `recipe`'s warm canonical (it holds the borrowing run's id).
    public static func path(recipe: String, config: NodeConfig) -> URL {
        config.warmTree(recipe: recipe).deletingLastPathComponent().appendingPathComponent("borrowed")
    }

    /// Settles a mark a dead quick run left; the caller holds the warm app's lock. Returns what
    /// was done, or `nil` when there was no mark.
    public static func settle(recipe: String, config: NodeConfig, store: (any CanonicalStore)?) async -> String? {
        let mark = path(recipe: recipe, config: config)
        guard let text = try? String(contentsOf: mark, encoding: .utf8) else { return nil }
        let who = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            guard let store else { throw StoreUnavailable() }
            try await store.markCanonical(recipe, status: "broken")
        } catch {
            // The mark stays: the next holder tries again.
            return "\(who) died before giving the canonical of \(recipe) back, and its record cannot be marked "
                + "broken (\(error))"
        }
        try? FileManager.default.removeItem(at: mark)
        return "\(who) died before giving the canonical of \(recipe) back: its record is marked broken "
            + "(the next sweep re-seeds it)"
    }

    struct StoreUnavailable: Error, CustomStringConvertible {
        var description: String { "the results store cannot be opened" }
    }

    /// Settles a stray mark when the warm app's lock is free (nobody is borrowing it now) — for a
    /// caller that does not take the lock itself (the sweep, deciding).
    public static func settleIfFree(recipe: String, config: NodeConfig, store: any CanonicalStore) async -> String? {
        guard FileManager.default.fileExists(atPath: path(recipe: recipe, config: config).path),
            let naming = try? config.naming()
        else { return nil }
        let lockPath = AppLocks.path(for: naming.warmAppDomain(recipe: recipe), in: config.lockDirectory)
        guard let lock = try? FileLock.tryAcquire(lockPath) else { return nil }
        defer { lock.release() }
        return await settle(recipe: recipe, config: config, store: store)
    }
}
