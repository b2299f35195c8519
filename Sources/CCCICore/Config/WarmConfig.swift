import Foundation

/// Warm canonicals and the weekly sweep (`[warm]`, SPEC F-CANON, F-SWEEP).
public struct WarmConfig: Sendable, Hashable {
    /// The disk the warm apps' volumes may take together; the sweep report sets their total
    /// against it (`volume_budget = "20G"`).
    public var volumeBudgetBytes: Int64 = 20 * 1024 * 1024 * 1024

    public init() {}

    /// The keys of the `[warm]` table.
    public static let keys = ["volume_budget"]

    /// Reads the `[warm]` table of `file`.
    public init(table value: JSONValue, file: String) throws(ConfigError) {
        guard case .object(let table) = value else {
            throw .invalid(file: file, key: "warm", message: "expects a table ([warm])")
        }
        try ConfigTable.rejectUnknownKeys(table, allowed: Self.keys, prefix: "warm", file: file)
        if let value = table["volume_budget"] {
            guard case .string(let text) = value, let bytes = Self.bytes(text) else {
                throw .invalid(
                    file: file, key: "warm.volume_budget",
                    message: "expects a size such as \"20G\", \"500M\" or \"1T\" (a number and K, M, G or T)")
            }
            volumeBudgetBytes = bytes
        }
    }

    /// `512M`, `20G`, `1T`, `1024` (bytes): binary units; `nil` when `text` is not a size.
    public static func bytes(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(trimmed)
        var multiplier: Int64 = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        if digits.hasSuffix("I") || digits.hasSuffix("B") { return nil }
        guard let number = Int64(digits), number > 0, number <= Int64.max / multiplier else { return nil }
        return number * multiplier
    }

    /// `bytes` for a person: `1.5 GiB`, `312 MiB`, `4 KiB`, `12 B`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        return index == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[index])
    }
}
