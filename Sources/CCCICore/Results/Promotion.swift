import Foundation

/// What became of a run of a recipe enrolled for a warm canonical (SPEC F-CANON), in its results.
///
/// Said only for an enrolled recipe. `promoted` means the warm app now runs the tested version,
/// proven healthy on its own domain, and the canonical record says so; every other status leaves
/// the previous canonical and its record as they were.
public struct PromotionSummary: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// The warm app runs the tested version now; the record was swapped.
        case promoted
        /// The tested version and commit are already the canonical.
        case current
        /// The run could not be promoted (not green, not cold, a PR, not a release tag, …).
        case notEligible = "not-eligible"
        /// The promotion was tried and failed; the previous canonical is intact.
        case failed
    }

    public var status: Status
    /// The tested version (what a promotion records).
    public var version: String?
    /// The commit its release tag points at.
    public var commit: String?
    /// The warm app's domain.
    public var domain: String?
    /// Why it was not promoted, or what failed.
    public var reason: String?

    public init(
        status: Status, version: String? = nil, commit: String? = nil, domain: String? = nil, reason: String? = nil
    ) {
        self.status = status
        self.version = version
        self.commit = commit
        self.domain = domain
        self.reason = reason
    }

    /// One line for the terminal and the log.
    public var line: String {
        switch status {
        case .promoted: return "canonical: promoted \(version ?? "?") (\(domain ?? "?"))"
        case .current: return "canonical: \(version ?? "?") is already the canonical (\(domain ?? "?"))"
        case .notEligible: return "canonical: not promoted — \(reason ?? "not eligible")"
        case .failed:
            return
                "canonical: PROMOTE FAILED for \(version ?? "?") — \(reason ?? "unknown"); the previous canonical is kept"
        }
    }
}
