import Foundation

/// Reads a text file line by line in fixed-size chunks, so a file of any size costs one chunk of
/// memory plus the longest line.
public enum LineReader {
    /// Calls `body` with every line of `file` (without its newline), in order.
    public static func forEachLine(
        of file: URL, chunkSize: Int = 1 << 20, _ body: (String) throws -> Void
    ) throws {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var pending = Data()
        while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
            pending.append(chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                try body(String(decoding: pending[start..<newline], as: UTF8.self))
                start = pending.index(after: newline)
            }
            pending = Data(pending[start...])
        }
        if !pending.isEmpty { try body(String(decoding: pending, as: UTF8.self)) }
    }
}
