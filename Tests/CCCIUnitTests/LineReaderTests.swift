import CCCISystem
import CCCITestSupport
import Foundation
import Testing

/// Reading a long listing line by line in chunks.
@Suite struct LineReaderTests {
    @Test("every line, in order, across chunk boundaries, multi-byte characters and a last line without newline")
    func lines() throws {
        let directory = try TemporaryDirectory("ccci-lines")
        let file = directory.appending("listing.jsonl")
        var expected = (0..<1000).map { "line \($0) — ü \(String(repeating: "x", count: $0 % 37))" }
        expected.append("")
        expected.append("last, no newline")
        try expected.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        for chunk in [1, 7, 64, 1 << 20] {
            var read: [String] = []
            try LineReader.forEachLine(of: file, chunkSize: chunk) { read.append($0) }
            #expect(read == expected, "chunk size \(chunk)")
        }
    }
}
