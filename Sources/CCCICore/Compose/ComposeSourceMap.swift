import Yams

/// Where things are in one compose file's text: the line of every key and list item, and every
/// string value with its line — so that a finding about `services.app.image` can say
/// `compose.yml:6`.
///
/// Paths are lists of segments: mapping keys as written, `[i]` for the i-th item of a list. Items
/// of list-form `labels` and `environment` (`- KEY=value`) are also reachable by their key, as
/// ``ComposeDocument`` normalises them: `["services", "app", "deploy", "labels", "traefik.enable"]`.
/// Merge keys (`<<: *anchor`) contribute the keys they bring in (at the anchor's lines). The walk
/// is bounded like ``ComposeDocument``'s, so no input can exhaust the stack or memory.
public struct ComposeSourceMap: Sendable {
    /// A string value (or a plain scalar) of the document and where it is.
    public struct Value: Sendable, Hashable {
        public let path: [String]
        public let text: String
        public let line: Int
    }

    /// A document that is not valid YAML, and the line where the parser gave up (when it said).
    public struct Failure: Error, Sendable, Hashable {
        public let line: Int?
        public let reason: String
    }

    private var lines: [[String]: Int] = [:]
    /// Every scalar value (not mapping keys), in document order.
    public private(set) var values: [Value] = []

    /// An empty map (a file that could not be read).
    public init() {}

    /// Reads `text`; throws when it is not YAML, with the line of the problem.
    public static func read(yaml text: String) throws(Failure) -> ComposeSourceMap {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Failure(line: line(of: error), reason: String(describing: error))
        }
        var map = ComposeSourceMap()
        guard let root else { return map }
        var budget = ComposeDocument.maximumNodes
        map.walk(root, path: [], key: "", depth: 0, budget: &budget)
        return map
    }

    /// The line of the key or item at `path`, `nil` when the file does not have it.
    public func line(of path: [String]) -> Int? {
        lines[path]
    }

    /// Whether the file sets `path`.
    public func contains(_ path: [String]) -> Bool {
        lines[path] != nil
    }

    /// The line of `path`, or of its closest ancestor the file has.
    public func nearestLine(of path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = lines[path] { return line }
            path.removeLast()
        }
        return nil
    }

    private mutating func walk(_ node: Node, path: [String], key: String, depth: Int, budget: inout Int) {
        budget -= 1
        guard budget >= 0, depth <= ComposeDocument.maximumDepth else { return }
        switch node {
        case .scalar(let scalar):
            if let line = scalar.mark?.line { values.append(Value(path: path, text: scalar.string, line: line)) }
        case .alias:
            return
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() {
                let itemPath = path + ["[\(index)]"]
                if let line = item.mark?.line {
                    record(itemPath, line)
                    if key == "labels" || key == "environment", case .scalar(let scalar) = item {
                        let entry = scalar.string
                        let name = entry.firstIndex(of: "=").map { String(entry[..<$0]) } ?? entry
                        record(path + [name], line)
                    }
                }
                walk(item, path: itemPath, key: "", depth: depth + 1, budget: &budget)
            }
        case .mapping(let mapping):
            var merges: [Node] = []
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else { continue }
                if keyScalar.string == "<<" && keyScalar.style == .plain {
                    merges.append(valueNode)
                    continue
                }
                let childPath = path + [keyScalar.string]
                if let line = keyScalar.mark?.line { record(childPath, line) }
                walk(valueNode, path: childPath, key: keyScalar.string, depth: depth + 1, budget: &budget)
            }
            // Merged mappings fill in only the keys this one lacks (``record`` keeps the first line).
            for merge in merges {
                let sources: [Node]
                if case .sequence(let list) = merge { sources = Array(list) } else { sources = [merge] }
                for source in sources {
                    guard case .mapping = source else { continue }
                    walk(source, path: path, key: key, depth: depth + 1, budget: &budget)
                }
            }
        }
    }

    private mutating func record(_ path: [String], _ line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    /// The line a Yams error points at.
    static func line(of error: any Error) -> Int? {
        guard let error = error as? YamlError else { return nil }
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        case .duplicatedKeysInMapping(_, let context):
            return context.mark.line
        default:
            return nil
        }
    }
}
