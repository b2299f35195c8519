import Foundation

/// Human durations as they appear in `ccci.toml`, flags and config: `90s`, `10m`, `1h30m`,
/// `500ms`, or a bare number of seconds.
public enum DurationText {
    /// Parses `text`; `nil` when it is not a duration.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        if let seconds = Double(trimmed), seconds >= 0 { return .milliseconds(Int64(seconds * 1000)) }
        var total = Duration.zero
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
            total += .milliseconds(Int64((value * scale * 1000).rounded()))
            number = ""
            unit = ""
            sawComponent = true
            return true
        }
        for character in trimmed {
            if character.isNumber || character == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard flush(), sawComponent else { return nil }
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

extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
