import CCCICore
import CCCISystem
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The run's log files (SPEC F-LOGS): `run.log` with every line of the run, timestamped, and
/// one `tiers/<tier>.log` per tier with that tier's lines and the output of its commands, hooks
/// and tests. Writes are serialised; each line is written through as it comes, so the log is
/// live. Library log lines reach `run.log` through ``handler(label:level:)``.
public final class RunJournal: Sendable {
    public let directory: URL
    /// Every line is cleaned of the run's secret values before it is written.
    public let redactor: SecretRegistry
    private let handles = Mutex<[String: FileHandle]>([:])
    private let start = ContinuousClock.now

    public init(directory: URL, redactor: SecretRegistry = SecretRegistry()) throws {
        self.directory = directory
        self.redactor = redactor
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("tiers"), withIntermediateDirectories: true)
    }

    /// `run.log`.
    public var runLog: URL { directory.appendingPathComponent("run.log") }

    /// The log file of `tier`, relative to the run directory.
    public func tierLogPath(_ tier: String) -> String { "tiers/\(tier).log" }

    /// The log file of `tier`.
    public func tierLog(_ tier: String) -> URL { directory.appendingPathComponent(tierLogPath(tier)) }

    /// Appends a line to `run.log` and, when given, to the tier's log.
    public func line(_ text: String, tier: String? = nil) {
        let elapsed = String(format: "%8.2fs", (ContinuousClock.now - start).seconds)
        let stamp = ISO8601DateFormatter().string(from: Date())
        let lines = redactor.redact(text).split(separator: "\n", omittingEmptySubsequences: false)
        handles.withLock { handles in
            for line in lines {
                append("\(stamp) \(elapsed) \(tier.map { "[\($0)] " } ?? "")\(line)\n", to: "run.log", &handles)
                if let tier { append("\(stamp) \(line)\n", to: tierLogPath(tier), &handles) }
            }
        }
    }

    /// Closes every file; a later line opens its file again.
    public func close() {
        handles.withLock { handles in
            for handle in handles.values { try? handle.close() }
            handles = [:]
        }
    }

    /// Removes the run directory again when nothing was written into it (a run that could not
    /// start); a directory with any file in it — the caller's own log, a line of ours — stays.
    public func discardIfEmpty() {
        close()
        let files = FileManager.default
        for directory in [directory.appendingPathComponent("tiers"), directory] {
            guard (try? files.contentsOfDirectory(atPath: directory.path))?.isEmpty == true else { return }
            try? files.removeItem(at: directory)
        }
    }

    /// A swift-log handler that writes into `run.log` (SPEC F-LOGS): what the engine client, the
    /// driver and the ingress log while this run goes on is part of its record.
    public func handler(label: String, level: Logger.Level) -> some LogHandler {
        RunLogHandler(journal: self, label: label, logLevel: level)
    }

    private func append(_ text: String, to relative: String, _ handles: inout [String: FileHandle]) {
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

/// Library log lines in `run.log`: `<level> <label>: <message> key=value …`, metadata sorted,
/// secrets redacted by the journal like every other line.
struct RunLogHandler: LogHandler {
    let journal: RunJournal
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let pairs = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        journal.line(
            "\(event.level) \(label): \(event.message)" + (pairs.isEmpty ? "" : " " + pairs.joined(separator: " ")))
    }
}
