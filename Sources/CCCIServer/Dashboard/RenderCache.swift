import Crypto
import Foundation
import NIOCore
import Synchronization

/// Pages and badges as rendered from the store at one ``RunHistory/generation()``: kept until
/// the generation moves (a run recorded, by this process or a `ccci run`), or, for what shows
/// an age, until `maxAge` has passed. A hit costs one primary-key read and no rendering, which
/// is what lets the matrix and the badges answer in milliseconds under many clients.
///
/// Two requests that miss together both render; the last one's result is kept. The cache holds
/// at most ``limit`` entries and starts over when full.
final class RenderCache: Sendable {
    /// A rendered body and its entity tag (a digest of the body, so equal bodies share it
    /// across generations).
    struct Entry: Sendable {
        let generation: Int64
        let renderedAt: ContinuousClock.Instant
        let body: ByteBuffer
        let etag: String
    }

    let limit: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(limit: Int = 4096) {
        self.limit = limit
    }

    /// `key`'s body at `generation`: the kept one when it is of that generation and younger
    /// than `maxAge`, else what `render` makes now (then kept).
    func body(
        _ key: String, generation: Int64, maxAge: Duration? = nil, render: () async throws -> String
    ) async rethrows -> Entry {
        let now = ContinuousClock.now
        let kept = entries.withLock { $0[key] }
        if let kept, kept.generation == generation, maxAge.map({ now - kept.renderedAt < $0 }) ?? true {
            return kept
        }
        let text = try await render()
        let entry = Entry(
            generation: generation, renderedAt: now, body: ByteBuffer(string: text), etag: Self.etag(text))
        entries.withLock { entries in
            if entries.count >= limit, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
        return entry
    }

    /// A strong entity tag: the first 8 bytes of the text's SHA-256, in hex, quoted.
    static func etag(_ text: String) -> String {
        let digest = SHA256.hash(data: Data(text.utf8)).prefix(8)
        return "\"" + digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\""
    }
}
