/// Hides secret values while keeping their names visible (SPEC F-MANIFEST).
///
/// A value is redacted when its key name contains `SECRET`, `PASSWORD`, `TOKEN` or `CREDENTIAL`
/// (any case), or has `KEY` as a word segment (`API_KEY`, `apiKey`, `SECRET_KEY_BASE`, but not
/// `KEYCLOAK_URL`). Objects are walked recursively, so a secret nested under `extra_env` is caught.
public enum Redaction {
    /// What a redacted value is replaced with.
    public static let mask = "<redacted>"

    /// Whether a key name marks its value as secret.
    public static func isSensitive(_ name: String) -> Bool {
        let upper = name.uppercased()
        if ["SECRET", "PASSWORD", "TOKEN", "CREDENTIAL"].contains(where: upper.contains) { return true }
        return wordSegments(name).contains("KEY")
    }

    /// `value` with every sensitive member masked.
    public static func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var result: [String: JSONValue] = [:]
            for (key, item) in object {
                if isSensitive(key), item != .null {
                    // Keep the shape of containers so names inside stay visible, mask scalars.
                    switch item {
                    case .object, .array: result[key] = redactAll(item)
                    default: result[key] = .string(mask)
                    }
                } else {
                    result[key] = redact(item)
                }
            }
            return .object(result)
        case .array(let items):
            return .array(items.map(redact))
        default:
            return value
        }
    }

    /// A string map with sensitive values masked.
    public static func redact(_ map: [String: String]) -> [String: String] {
        var result = map
        for key in map.keys where isSensitive(key) { result[key] = mask }
        return result
    }

    private static func redactAll(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object): return .object(object.mapValues(redactAll))
        case .array(let items): return .array(items.map(redactAll))
        case .null: return .null
        default: return .string(mask)
        }
    }

    /// Upper-cased word segments of a name split at `_`, `-`, `.`, spaces and camelCase humps.
    static func wordSegments(_ name: String) -> [String] {
        var segments: [String] = []
        var current = ""
        let characters = Array(name)
        for (index, character) in characters.enumerated() {
            if character == "_" || character == "-" || character == "." || character == " " {
                if !current.isEmpty { segments.append(current.uppercased()) }
                current = ""
                continue
            }
            if character.isUppercase, let previous = current.last {
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                // A hump (`apiKey` → api|Key), or the end of an acronym before a word
                // (`APIKey` → API|Key, `SSHKey` → SSH|Key).
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) {
                    segments.append(current.uppercased())
                    current = ""
                }
            }
            current.append(character)
        }
        if !current.isEmpty { segments.append(current.uppercased()) }
        return segments
    }
}
