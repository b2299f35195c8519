import CCCICore
import Crypto
import Foundation

/// A secret read from a file (the webhook secret, the forge API token). It prints as
/// `<redacted>` everywhere — in logs, errors, string interpolation — and only ``reveal()`` gives
/// its value, to the one place that needs it.
public struct SecretValue: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// The secret itself (for the HMAC key or the Authorization header only).
    public func reveal() -> String { value }

    /// Whether `candidate` is the secret, compared in time that does not depend on where they
    /// differ (the digests' comparison is constant-time).
    public func matches(_ candidate: String) -> Bool {
        SHA256.hash(data: Data(candidate.utf8)) == SHA256.hash(data: Data(value.utf8))
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// Reads a secret from `path` (named by config key `key`): the file's text without its
    /// trailing newline. Errors name the file and the key and say what to do; a file that others
    /// may read is refused, so the secret cannot leak through a loose permission.
    public static func read(file path: String, key: String) throws(ServeSetupError) -> SecretValue {
        do {
            return SecretValue(try SecretFile.read(path))
        } catch {
            throw .secretFile(path: path, key: key, problem: error.description)
        }
    }
}

/// `ccci serve` cannot start: a key missing from the node configuration, or a secret file that
/// cannot be used. Says which key, which file, and what to do.
public enum ServeSetupError: Error, Sendable, CustomStringConvertible {
    case missingKey(key: String, file: String, example: String)
    case secretFile(path: String, key: String, problem: String)
    case store(String)

    public var description: String {
        switch self {
        case .missingKey(let key, let file, let example):
            return
                "`serve.\(key)` is not set in \(file) — `ccci serve` needs it, e.g. `\(key) = \(example)` in its [serve] table"
        case .secretFile(let path, let key, let problem):
            return "the file \(path) (`serve.\(key)`) \(problem) — it must hold the secret alone, readable by the "
                + "service's user only (chmod 600)"
        case .store(let message):
            return message
        }
    }
}
