import Foundation

/// The id of one run: `<UTC stamp>-<recipe label>-<6 random characters>`, e.g.
/// `20260101T120000Z-web-k3x9qa`. It names the run's directory (`<home>/runs/<id>`), so a value
/// that did not come from ``make(recipe:at:)`` is accepted only when ``isValid(_:)`` says it is
/// one path component of safe characters.
public enum RunID {
    /// A new run id for `recipe` (a name, path or git URL: its last component is used).
    public static func make(recipe: String, at date: Date = Date()) -> String {
        let stamp = ISO8601DateFormatter.string(
            from: date, timeZone: TimeZone(identifier: "UTC")!,
            formatOptions: [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        )
        .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        let label = AppNaming.dnsLabel(
            URL(fileURLWithPath: recipe).lastPathComponent.replacingOccurrences(of: ".git", with: ""))
        var generator = SystemRandomNumberGenerator()
        let suffix = String(
            (0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &generator)! })
        return "\(stamp)-\(label.isEmpty ? "recipe" : label)-\(suffix)"
    }

    /// Whether `text` can be a run id: 1–128 characters of `[A-Za-z0-9._-]`, starting with a letter
    /// or digit (so never `.`, `..` or a path).
    public static func isValid(_ text: String) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first.isNumber, text.count <= 128 else {
            return false
        }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}
