import CCCICore
import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The run's log files (SPEC F-LOGS): `run.log` with every line of the run, timestamped, and
/// one `tiers/<tier>.log` per tier with that tier's lines and the output of its commands, hooks
/// and tests. Writes are serialised; each line is flushed as written so the log is live.
public actor RunJournal {
    public let directory: URL
    /// Every line is cleaned of the run's secret values before it is written.
    public nonisolated let redactor: SecretRegistry
    private var handles: [String: FileHandle] = [:]
    private let start: ContinuousClock.Instant
    private let clock = ContinuousClock()

    public init(directory: URL, redactor: SecretRegistry = SecretRegistry()) throws {
        self.directory = directory
        self.redactor = redactor
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
        for line in redactor.redact(text).split(separator: "\n", omittingEmptySubsequences: false) {
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
            // O_APPEND: hooks and tests append to the same tier log through their own descriptors;
            // every write of ours lands at the end, after theirs, never over them.
            let path = directory.appendingPathComponent(relative).path
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { return }
            handles[relative] = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        }
        try? handles[relative]?.write(contentsOf: Data(text.utf8))
    }
}
