import Foundation
import Yams

/// Loading and merging raw compose documents.
///
/// A document is read with Yams' node API into a ``JSONValue`` tree — scalars keep the text the
/// recipe wrote (a quoted `"1.0"` stays a string; `yes` and `2024-01-01` are not turned into a
/// boolean or a date), merge keys (`<<: *anchor`) are applied, and nesting and alias expansion
/// are bounded so that no input can exhaust the stack or memory. Every string is interpolated
/// (values, not keys, as compose does), and list-form `labels`/`environment` are normalised to
/// mappings so that files merge the way `docker stack deploy -c a.yml -c b.yml` merges them.
public enum ComposeDocument {
    /// How deep mappings and sequences may nest.
    public static let maximumDepth = 64
    /// How many nodes a document may expand to (aliases included).
    public static let maximumNodes = 200_000

    /// Parses and interpolates one compose file's text. `name` is used in errors.
    public static func load(
        yaml text: String, name: String, environment: [String: String]
    ) throws(ComposeError) -> JSONValue {
        let raw = try parse(yaml: text, name: name)
        return normalise(try interpolate(raw, environment: environment, location: name))
    }

    /// Parses one compose file's text as the recipe wrote it: normalised like ``load(yaml:name:environment:)``
    /// but not interpolated, so `${STACK_NAME}` and `${VAR:-default}` stay in the values (what lint reads).
    public static func literal(yaml text: String, name: String) throws(ComposeError) -> JSONValue {
        normalise(try parse(yaml: text, name: name))
    }

    private static func parse(yaml text: String, name: String) throws(ComposeError) -> JSONValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw .invalidYAML(file: name, reason: String(describing: error))
        }
        guard let root else { return .object([:]) }
        var budget = maximumNodes
        let raw = try convert(root, file: name, path: "", depth: 0, budget: &budget)
        guard case .object = raw else { throw .notAMapping(file: name, key: "(top level)") }
        return raw
    }

    /// Merges `override` onto `base` with compose's multi-file rules.
    public static func merge(_ base: JSONValue, _ override: JSONValue) -> JSONValue {
        mergeValue(base, override, key: "")
    }

    // MARK: - Conversion

    private static func convert(
        _ node: Node, file: String, path: String, depth: Int, budget: inout Int
    ) throws(ComposeError) -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw .invalidYAML(
                file: file, reason: "the document expands to more than \(maximumNodes) values (aliases?)")
        }
        guard depth <= maximumDepth else {
            throw .invalidYAML(file: file, reason: "values nest more than \(maximumDepth) deep at \(path)")
        }
        switch node {
        case .scalar(let scalar):
            return value(of: scalar)
        case .alias:
            throw .invalidYAML(file: file, reason: "an unresolved alias at \(path.isEmpty ? "the top level" : path)")
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for (index, item) in sequence.enumerated() {
                items.append(
                    try convert(item, file: file, path: "\(path)[\(index)]", depth: depth + 1, budget: &budget))
            }
            return .array(items)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            var merged: [[String: JSONValue]] = []
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    throw .invalidYAML(
                        file: file, reason: "a key at \(path.isEmpty ? "the top level" : path) is not text")
                }
                let key = keyScalar.string
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if key == "<<" && keyScalar.style == .plain {
                    // A merge key: the mapping (or mappings) it names fill in keys this one lacks.
                    let value = try convert(valueNode, file: file, path: childPath, depth: depth + 1, budget: &budget)
                    switch value {
                    case .object(let source): merged.append(source)
                    case .array(let sources):
                        for case .object(let source) in sources { merged.append(source) }
                    default:
                        throw .invalidYAML(file: file, reason: "the merge key at \(childPath) names no mapping")
                    }
                    continue
                }
                guard object[key] == nil else {
                    throw .invalidYAML(file: file, reason: "key `\(childPath)` is defined twice")
                }
                object[key] = try convert(valueNode, file: file, path: childPath, depth: depth + 1, budget: &budget)
            }
            for source in merged {
                for (key, value) in source where object[key] == nil { object[key] = value }
            }
            return .object(object)
        }
    }

    /// A scalar as compose reads it: quoted scalars are strings; plain ones are null, booleans,
    /// integers and floats in YAML 1.2's core spellings, and otherwise the text as written.
    static func value(of scalar: Node.Scalar) -> JSONValue {
        let text = scalar.string
        guard scalar.style == .plain else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let number = Int(text) { return .int(number) }
        if text.hasPrefix("0x"), let number = Int(text.dropFirst(2), radix: 16) { return .int(number) }
        if text.hasPrefix("0o"), let number = Int(text.dropFirst(2), radix: 8) { return .int(number) }
        if text.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true,
            text.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }), let number = Double(text), number.isFinite
        {
            return .double(number)
        }
        return .string(text)
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
