import Foundation

/// The secret values a process generated or was given (app secrets, restic passwords, the
/// credentials in a git URL), so that every text it writes — logs, terminal lines, error
/// messages, results — can be cleaned of them.
///
/// Invariant: a value is registered the moment it is generated or read, before it can be used
/// anywhere it might be echoed back. Every value is redacted, whatever its length: one of
/// ``shortLength`` characters or fewer is masked where it stands as a word of its own (a short
/// value inside a longer word is not that secret — masking it would shred unrelated text),
/// longer ones wherever they appear.
public final class SecretRegistry: Sendable {
    /// Values this long or shorter are masked only as whole words.
    public static let shortLength = 5

    private let values = Locked<Set<String>>([])

    public init() {}

    /// Registers a secret value.
    public func register(_ value: String) {
        guard !value.isEmpty else { return }
        values.withLock { _ = $0.insert(value) }
    }

    /// Every registered value.
    public var all: Set<String> { values.value }

    /// `text` with every registered value replaced by `<redacted>`.
    public func redact(_ text: String) -> String {
        Self.redact(text, values: values.value)
    }

    /// `text` with each of `values` replaced by `<redacted>` (longest first, so a value that
    /// contains another is masked whole).
    public static func redact(_ text: String, values: Set<String>) -> String {
        var output = text
        for value in values.sorted(by: { $0.count > $1.count }) where output.contains(value) {
            if value.count > shortLength {
                output = output.replacingOccurrences(of: value, with: "<redacted>")
            } else {
                output = maskWords(value, in: output)
            }
        }
        return output
    }

    /// Masks occurrences of `value` that are not part of a longer run of letters and digits.
    static func maskWords(_ value: String, in text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: value) {
            let before = rest[..<range.lowerBound].last ?? result.last
            let after = rest[range.upperBound...].first
            let standsAlone = !isWordCharacter(before) && !isWordCharacter(after)
            result += rest[..<range.lowerBound]
            result += standsAlone ? "<redacted>" : String(rest[range])
            rest = rest[range.upperBound...]
        }
        return result + rest
    }

    static func isWordCharacter(_ character: Character?) -> Bool {
        guard let character else { return false }
        return character.isLetter || character.isNumber
    }
}
