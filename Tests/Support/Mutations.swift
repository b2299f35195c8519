import Foundation

/// Mutated copies of real input files, for the robustness tests of the readers of untrusted input
/// (and of lint, which reads the same files): byte flips, insertions of syntax, truncation,
/// repetition and deep nesting — deterministic (a fixed seed), so a failure reproduces.
public enum Mutations {
    /// The files under `relative` directories of the repository whose names end in `suffix`.
    public static func seeds(_ relative: [String], suffix: String) -> [Data] {
        var seeds: [Data] = []
        for directory in relative {
            let root = TestEnvironment.repositoryRoot.appendingPathComponent(directory)
            guard let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
                continue
            }
            for case let file as URL in files where file.lastPathComponent.hasSuffix(suffix) {
                if let data = try? Data(contentsOf: file) { seeds.append(data) }
            }
        }
        return seeds
    }

    /// The seeds, then `perSeed` mutations of each.
    public static func inputs(_ seeds: [Data], tokens: [String], perSeed: Int) -> [Data] {
        var random = SplitMix64(seed: 0xC0FFEE)
        var inputs: [Data] = seeds
        for seed in seeds where !seed.isEmpty {
            for _ in 0..<perSeed {
                var bytes = [UInt8](seed)
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    let position = Int(random.next() % UInt64(max(bytes.count, 1)))
                    switch random.next() % 7 {
                    case 0: if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: random.next()) }
                    case 1:
                        bytes.insert(
                            contentsOf: Array(tokens[Int(random.next() % UInt64(tokens.count))].utf8), at: position)
                    case 2: bytes = Array(bytes.prefix(position))
                    case 3: if !bytes.isEmpty { bytes.remove(at: position) }
                    case 4:
                        let slice = bytes[position..<min(bytes.count, position + 40)]
                        bytes.insert(contentsOf: slice, at: position)
                    case 5:
                        let open = ["[", "{", "- ", "  "][Int(random.next() % 4)]
                        bytes.insert(contentsOf: Array(String(repeating: open, count: 200).utf8), at: position)
                    default: bytes.insert(UInt8(truncatingIfNeeded: random.next() % 32), at: position)
                    }
                }
                inputs.append(Data(bytes))
            }
        }
        return inputs
    }
}
