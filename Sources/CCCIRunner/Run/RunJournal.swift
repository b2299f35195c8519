import CCCICore
import Foundation

/// The run's log files (SPEC F-LOGS): `run.log` with every line of the run, timestamped, and
/// one `tiers/<tier>.log` per tier with that tier's lines and the output of its commands, hooks
/// and tests. Writes are serialised; each line is flushed as written so the log is live.
public actor RunJournal {
    public let directory: URL
    private var handles: [String: FileHandle] = [:]
    private let start: ContinuousClock.Instant
    private let clock = ContinuousClock()

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("tiers"), withIntermediateDirectories: true)
        start = clock.now
    }

    /// `run.log`.
    public nonisolated var runLog: URL { directory.appendingPathComponent("run.log") }

    /// The log file of `tier`, relative to the run directory.
    public nonisolated func tierLogPath(_ tier: String) -> String { "tiers/\(tier).log" }

    /// The log file of `tier`.
    public nonisolated func tierLog(_ tier: String) -> URL { directory.appendingPathComponent(tierLogPath(tier)) }

    /// Appends a line to `run.log` and, when given, to the tier's log.
    public func line(_ text: String, tier: String? = nil) {
        let elapsed = String(format: "%8.2fs", (clock.now - start).seconds)
        let stamp = ISO8601DateFormatter().string(from: Date())
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            append("\(stamp) \(elapsed) \(tier.map { "[\($0)] " } ?? "")\(line)\n", to: "run.log")
            if let tier { append("\(stamp) \(line)\n", to: tierLogPath(tier)) }
        }
    }

    /// Closes every file.
    public func close() {
        for handle in handles.values { try? handle.close() }
        handles = [:]
    }

    private func append(_ text: String, to relative: String) {
        if handles[relative] == nil {
            let url = directory.appendingPathComponent(relative)
            if !FileManager.default.fileExists(atPath: url.path) {
                _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            }
            handles[relative] = try? FileHandle(forWritingTo: url)
            _ = try? handles[relative]?.seekToEnd()
        }
        try? handles[relative]?.write(contentsOf: Data(text.utf8))
    }
}
