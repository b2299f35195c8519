import Foundation

/// The parts of a recipe's `abra.sh` that abra reads at deploy time: `export NAME=value` lines,
/// which version the recipe's configs (`ENTRYPOINT_CONF_VERSION=v2`).
public enum AbraScript {
    /// The exported variables, in file order (later exports win).
    public static func exports(in text: String) -> [String: String] {
        var result: [String: String] = [:]
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("export ") else { continue }
            let assignment = line.dropFirst("export ".count).trimmingCharacters(in: .whitespaces)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            let name = String(assignment[..<equals])
            guard EnvFile.isValidKey(name) else { continue }
            var value = String(assignment[assignment.index(after: equals)...])
            if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
            value = value.trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            result[name] = value
        }
        return result
    }
}
