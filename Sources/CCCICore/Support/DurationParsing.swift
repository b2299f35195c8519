import Foundation

/// Human durations as they appear in `ccci.toml`, flags and config: `90s`, `10m`, `1h30m`,
/// `500ms`, or a bare number of seconds — at most ``maximum`` (7 days), so that no duration a user
/// writes can overflow a clock or a sleep.
public enum DurationText {
    /// The longest duration cc-ci accepts anywhere.
    public static let maximum = Duration.seconds(7 * 86_400)

    /// Parses `text`; `nil` when it is not a duration of at most ``maximum``.
    public static func parse(_ text: String) -> Duration? {
        try? check(text)
    }

    /// Parses `text`, saying what is wrong with it: not a duration, longer than ``maximum``, or
    /// zero where `allowZero` is false.
    public static func check(_ text: String, allowZero: Bool = true) throws(DurationError) -> Duration {
        guard let seconds = parseSeconds(text) else { throw .notADuration(text) }
        return try check(seconds: seconds, text: text, allowZero: allowZero)
    }

    /// Checks a number of seconds (a TOML integer or float) against the same bounds.
    public static func check(seconds: Double, text: String, allowZero: Bool = true) throws(DurationError) -> Duration {
        guard seconds.isFinite, seconds >= 0 else { throw .notADuration(text) }
        guard seconds <= maximum.seconds else { throw .tooLong(text) }
        guard allowZero || seconds > 0 else { throw .zero(text) }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The number of seconds `text` spells, unbounded (`nil` when it is not a duration).
    static func parseSeconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty, trimmed.count <= 64 else { return nil }
        if let seconds = Double(trimmed) { return seconds.isFinite && seconds >= 0 ? seconds : nil }
        var total = 0.0
        var number = ""
        var unit = ""
        var sawComponent = false
        func flush() -> Bool {
            guard let value = Double(number), value >= 0 else { return false }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: return false
            }
            total += value * scale
            number = ""
            unit = ""
            sawComponent = true
            return true
        }
        for character in trimmed {
            if character.isASCII && (character.isNumber || character == ".") {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isASCII && character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard flush(), sawComponent, total.isFinite else { return nil }
        return total
    }

    /// Renders a duration compactly: `1h30m`, `10m`, `45s`, `1.2s`, `250ms`.
    public static func format(_ duration: Duration) -> String {
        let totalMilliseconds = Int64(duration.seconds * 1000)
        if totalMilliseconds < 1000 { return "\(totalMilliseconds)ms" }
        if totalMilliseconds < 60_000 {
            let tenths = (totalMilliseconds + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = totalMilliseconds / 1000
        let (hours, minutes, rest) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60)
        var text = ""
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if rest > 0 { text += "\(rest)s" }
        return text
    }
}

/// A duration that cc-ci will not accept.
public enum DurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case notADuration(String)
    case tooLong(String)
    case zero(String)

    public var description: String {
        switch self {
        case .notADuration(let text):
            return "'\(text.prefix(40))' is not a duration — write it like \"90s\", \"10m\" or \"1h30m\""
        case .tooLong(let text):
            return "'\(text.prefix(40))' is longer than cc-ci's limit of 7 days (\"7d\")"
        case .zero(let text):
            return "'\(text)' is zero — it must be longer than that, e.g. \"10m\""
        }
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
