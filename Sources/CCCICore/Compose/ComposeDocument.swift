import Foundation
import Yams

/// Loading and merging raw compose documents.
///
/// A document is read with Yams into a ``JSONValue`` tree, every string is interpolated (values,
/// not keys, as compose does), and list-form `labels`/`environment` are normalised to mappings so
/// that files merge the way `docker stack deploy -c a.yml -c b.yml` merges them.
public enum ComposeDocument {
    /// Parses and interpolates one compose file's text. `name` is used in errors.
    public static func load(
        yaml text: String, name: String, environment: [String: String]
    ) throws(ComposeError) -> JSONValue {
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw .invalidYAML(file: name, reason: String(describing: error))
        }
        guard let parsed else { return .object([:]) }
        let raw = try convert(parsed, file: name, path: "")
        guard case .object = raw else { throw .notAMapping(file: name, key: "(top level)") }
        let interpolated = try interpolate(raw, environment: environment, location: name)
        return normalise(interpolated)
    }

    /// Merges `override` onto `base` with compose's multi-file rules.
    public static func merge(_ base: JSONValue, _ override: JSONValue) -> JSONValue {
        mergeValue(base, override, key: "")
    }

    // MARK: - Conversion

    private static func convert(_ value: Any, file: String, path: String) throws(ComposeError) -> JSONValue {
        switch value {
        case let value as Bool: return .bool(value)
        case let value as Int: return .int(value)
        case let value as Double: return .double(value)
        case let value as String: return .string(value)
        case let value as Date: return .string(ISO8601DateFormatter().string(from: value))
        case let value as [Any]:
            var items: [JSONValue] = []
            for (index, item) in value.enumerated() {
                items.append(try convert(item, file: file, path: "\(path)[\(index)]"))
            }
            return .array(items)
        case let value as [AnyHashable: Any]:
            var object: [String: JSONValue] = [:]
            for (key, item) in value {
                let name = String(describing: key.base)
                object[name] = try convert(item, file: file, path: path.isEmpty ? name : "\(path).\(name)")
            }
            return .object(object)
        case is NSNull: return .null
        default:
            if let data = value as? Data { return .string(data.base64EncodedString()) }
            return .string(String(describing: value))
        }
    }

    private static func interpolate(
        _ value: JSONValue, environment: [String: String], location: String
    ) throws(ComposeError) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(try Interpolation.interpolate(text, environment: environment, location: location))
        case .array(let items):
            var result: [JSONValue] = []
            for item in items { result.append(try interpolate(item, environment: environment, location: location)) }
            return .array(result)
        case .object(let object):
            var result: [String: JSONValue] = [:]
            for (key, item) in object {
                result[key] = try interpolate(item, environment: environment, location: "\(location): \(key)")
            }
            return .object(result)
        default:
            return value
        }
    }

    // MARK: - Normalisation

    /// Keys whose list form (`- KEY=value`) is converted to a mapping.
    private static let mappingListKeys: Set<String> = ["labels", "environment"]

    private static func normalise(_ value: JSONValue, key: String = "") -> JSONValue {
        switch value {
        case .object(let object):
            var result: [String: JSONValue] = [:]
            for (childKey, child) in object { result[childKey] = normalise(child, key: childKey) }
            return .object(result)
        case .array(let items) where mappingListKeys.contains(key):
            var result: [String: JSONValue] = [:]
            for item in items {
                guard case .string(let text) = item else { continue }
                if let equals = text.firstIndex(of: "=") {
                    result[String(text[..<equals])] = .string(String(text[text.index(after: equals)...]))
                } else {
                    result[text] = .null
                }
            }
            return .object(result)
        case .array(let items):
            return .array(items.map { normalise($0) })
        default:
            return value
        }
    }

    // MARK: - Merging

    private static func mergeValue(_ base: JSONValue, _ override: JSONValue, key: String) -> JSONValue {
        switch (base, override) {
        case (.object(let b), .object(let o)):
            var result = b
            for (childKey, child) in o {
                result[childKey] = b[childKey].map { mergeValue($0, child, key: childKey) } ?? child
            }
            return .object(result)
        case (.array(let b), .array(let o)):
            guard let identity = listIdentity(for: key) else { return override }
            var result = b
            for item in o {
                if let index = result.firstIndex(where: { identity($0) == identity(item) }) {
                    result[index] = item
                } else {
                    result.append(item)
                }
            }
            return .array(result)
        default:
            return override
        }
    }

    /// How items of a list are identified when files merge (`nil`: the later list replaces).
    private static func listIdentity(for key: String) -> ((JSONValue) -> String)? {
        switch key {
        case "ports":
            return { item in
                if let port = PortSpec(item) { return "\(port.published ?? 0)/\(port.target)/\(port.protocolName)" }
                return item.display
            }
        case "volumes":
            return { item in ServiceVolume(item)?.target ?? item.display }
        case "secrets", "configs":
            return { item in item.stringValue ?? item["source"]?.stringValue ?? item.display }
        case "networks", "extra_hosts", "dns", "cap_add", "cap_drop", "depends_on":
            return { item in item.display }
        default:
            return nil
        }
    }
}
