import Foundation

/// A recipe release version as Co-op Cloud tags it.
///
/// The current form is `<semver>+<upstream>` (`1.13.0+1.31.1`, `3.6.0+1.24.2-rootless`): the
/// recipe's own semantic version, then the packaged upstream version. Older recipes were tagged
/// `<upstream>_<revision>` (`1.14.1-rootless_1`); some carry a bare semver (`1.2.0`).
///
/// Ordering: legacy tags sort before every semver-form tag (the catalogue moved from the legacy
/// scheme to the semver scheme, never back). Semver-form tags order by the recipe semver
/// (pre-releases before their release), then by the upstream part compared naturally (numeric
/// runs as numbers). Legacy tags order by upstream, then revision.
public struct RecipeVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Which tagging scheme the version uses.
    public enum Form: Sendable, Hashable {
        /// `<semver>+<upstream>` or a bare `<semver>`.
        case semver
        /// `<upstream>_<revision>`.
        case legacy
    }

    /// The text as written in the tag (a leading `v` is kept here, ignored for ordering).
    public let raw: String
    public let form: Form
    /// The recipe's semantic version (semver form only).
    public let semver: SemVer?
    /// The packaged upstream version, when the tag names one.
    public let upstream: String?
    /// The recipe revision of a legacy tag.
    public let legacyRevision: Int?

    /// Parses a tag name; `nil` when it is not a recipe version in any known form.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !trimmed.contains(" ") else { return nil }
        let body = trimmed.hasPrefix("v") ? String(trimmed.dropFirst()) : trimmed
        if let plus = body.firstIndex(of: "+") {
            guard let semver = SemVer(String(body[..<plus])) else { return nil }
            let upstream = String(body[body.index(after: plus)...])
            guard !upstream.isEmpty else { return nil }
            self.init(raw: trimmed, form: .semver, semver: semver, upstream: upstream, legacyRevision: nil)
            return
        }
        if let semver = SemVer(body) {
            self.init(raw: trimmed, form: .semver, semver: semver, upstream: nil, legacyRevision: nil)
            return
        }
        if let underscore = body.lastIndex(of: "_"),
            let revision = Int(body[body.index(after: underscore)...]),
            body[..<underscore].first?.isNumber == true
        {
            self.init(
                raw: trimmed, form: .legacy, semver: nil, upstream: String(body[..<underscore]),
                legacyRevision: revision)
            return
        }
        return nil
    }

    private init(raw: String, form: Form, semver: SemVer?, upstream: String?, legacyRevision: Int?) {
        self.raw = raw
        self.form = form
        self.semver = semver
        self.upstream = upstream
        self.legacyRevision = legacyRevision
    }

    public var description: String { raw }

    public static func == (lhs: RecipeVersion, rhs: RecipeVersion) -> Bool {
        lhs.orderingKey == rhs.orderingKey
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(orderingKey)
    }

    public static func < (lhs: RecipeVersion, rhs: RecipeVersion) -> Bool {
        switch (lhs.form, rhs.form) {
        case (.legacy, .semver): return true
        case (.semver, .legacy): return false
        case (.semver, .semver):
            if lhs.semver! != rhs.semver! { return lhs.semver! < rhs.semver! }
            return upstreamPrecedes(lhs.upstream ?? "", rhs.upstream ?? "")
        case (.legacy, .legacy):
            if lhs.upstream != rhs.upstream { return upstreamPrecedes(lhs.upstream ?? "", rhs.upstream ?? "") }
            return (lhs.legacyRevision ?? 0) < (rhs.legacyRevision ?? 0)
        }
    }

    /// Natural order, with plain string order breaking ties (`1.2` vs `1.02`) so that `<` agrees
    /// with `==`.
    private static func upstreamPrecedes(_ lhs: String, _ rhs: String) -> Bool {
        switch NaturalOrder.compare(lhs, rhs) {
        case .orderedAscending: return true
        case .orderedDescending: return false
        case .orderedSame: return lhs < rhs
        }
    }

    /// Two versions are equal when they order the same: `v1.0.0+2` equals `1.0.0+2`.
    private var orderingKey: String {
        switch form {
        case .semver: return "s:\(semver!.description)+\(upstream ?? "")"
        case .legacy: return "l:\(upstream ?? "")_\(legacyRevision ?? 0)"
        }
    }
}

/// A semantic version `MAJOR.MINOR.PATCH[-PRERELEASE]` (build metadata is not part of it here:
/// in recipe tags the `+` introduces the upstream version).
public struct SemVer: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int
    public let prerelease: [String]

    public init(major: Int, minor: Int, patch: Int, prerelease: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
    }

    /// Parses `1.2.3` or `1.2.3-rc.1`; `nil` for anything else.
    public init?(_ text: String) {
        var core = Substring(text)
        var prerelease: [String] = []
        if let dash = text.firstIndex(of: "-") {
            core = text[..<dash]
            let pre = text[text.index(after: dash)...]
            guard !pre.isEmpty else { return nil }
            prerelease = pre.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard prerelease.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } })
            else { return nil }
        }
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) }),
            let major = Int(parts[0]), let minor = Int(parts[1]), let patch = Int(parts[2]),
            major >= 0, minor >= 0, patch >= 0
        else { return nil }
        self.init(major: major, minor: minor, patch: patch, prerelease: prerelease)
    }

    public var description: String {
        let core = "\(major).\(minor).\(patch)"
        return prerelease.isEmpty ? core : core + "-" + prerelease.joined(separator: ".")
    }

    public static func < (lhs: SemVer, rhs: SemVer) -> Bool {
        if lhs.major != rhs.major { return lhs.major < rhs.major }
        if lhs.minor != rhs.minor { return lhs.minor < rhs.minor }
        if lhs.patch != rhs.patch { return lhs.patch < rhs.patch }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false):
            for (a, b) in zip(lhs.prerelease, rhs.prerelease) where a != b {
                switch (Int(a), Int(b)) {
                case (let x?, let y?): return x < y
                case (.some, nil): return true
                case (nil, .some): return false
                case (nil, nil): return a < b
                }
            }
            return lhs.prerelease.count < rhs.prerelease.count
        }
    }
}

/// "Natural" string ordering: runs of digits compare as numbers, everything else by character,
/// a leading `v` ignored — so `1.10` sorts after `1.9` and `v2.0` after `1.31.1`.
public enum NaturalOrder {
    public static func compare(_ lhs: String, _ rhs: String) -> ComparisonResult {
        let a = chunks(lhs.hasPrefix("v") ? String(lhs.dropFirst()) : lhs)
        let b = chunks(rhs.hasPrefix("v") ? String(rhs.dropFirst()) : rhs)
        for (x, y) in zip(a, b) {
            switch (x, y) {
            case (.number(let m), .number(let n)) where m != n:
                return m < n ? .orderedAscending : .orderedDescending
            case (.text(let s), .text(let t)) where s != t:
                return s < t ? .orderedAscending : .orderedDescending
            case (.number, .text): return .orderedDescending
            case (.text, .number): return .orderedAscending
            default: continue
            }
        }
        if a.count == b.count { return .orderedSame }
        return a.count < b.count ? .orderedAscending : .orderedDescending
    }

    private enum Chunk: Equatable {
        case number(UInt64)
        case text(String)
    }

    private static func chunks(_ text: String) -> [Chunk] {
        var result: [Chunk] = []
        var current = ""
        var inDigits = false
        func flush() {
            guard !current.isEmpty else { return }
            result.append(inDigits ? .number(UInt64(current.prefix(18)) ?? 0) : .text(current))
            current = ""
        }
        for character in text {
            let isDigit = character.isASCII && character.isNumber
            if isDigit != inDigits { flush() }
            inDigits = isDigit
            current.append(character)
        }
        flush()
        return result
    }
}
