import Foundation

/// The secret values a process generated (app secrets, restic passwords), so that every text it
/// writes — logs, terminal lines, error messages, results — can be cleaned of them.
///
/// Invariant: a value is registered the moment it is generated, before it can be used anywhere
/// it might be echoed back.
public final class SecretRegistry: Sendable {
    private let values = Locked<Set<String>>([])

    public init() {}

    /// Registers a secret value (values shorter than 6 characters are too common to mask).
    public func register(_ value: String) {
        guard value.count >= 6 else { return }
        values.withLock { _ = $0.insert(value) }
    }

    /// Every registered value.
    public var all: Set<String> { values.value }

    /// `text` with every registered value replaced by `<redacted>`.
    public func redact(_ text: String) -> String {
        var output = text
        for value in values.value where output.contains(value) {
            output = output.replacingOccurrences(of: value, with: "<redacted>")
        }
        return output
    }
}
