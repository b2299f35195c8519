import Logging
import Synchronization

/// Log lines kept in memory, for tests that check what was (and was not) logged.
public final class LogCapture: Sendable {
    /// One captured line: level, message, metadata rendered as `key=value`.
    public struct Line: Sendable, Hashable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]

        /// The whole line as text (message and metadata), for searching.
        public var text: String {
            ([message] + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
        }
    }

    private let store = Mutex<[Line]>([])

    public init() {}

    /// A logger writing here (level `level` and above).
    public func logger(label: String = "ccci.test", level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    public var lines: [Line] { store.withLock { $0 } }

    /// Every captured line as text, joined.
    public var text: String { lines.map(\.text).joined(separator: "\n") }

    func append(_ line: Line) {
        store.withLock { $0.append(line) }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            for (key, value) in event.metadata ?? [:] { merged[key] = value }
            capture.append(
                Line(
                    level: event.level, message: "\(event.message)",
                    metadata: merged.mapValues { "\($0)" }))
        }
    }
}
