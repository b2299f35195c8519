import Crypto
import Foundation
import NIOCore
import Synchronization

/// Pages and badges as rendered from the store at one ``RunHistory/generation()``: kept until
/// the generation moves (a run recorded, by this process or a `ccci run`), or, for what shows
/// an age, until `maxAge` has passed. A hit costs one read of the generation and no rendering,
/// which is what lets the matrix and the badges answer in milliseconds under many clients.
///
/// Requests that miss together wait for one render (so a cold or expired matrix under fifty
/// clients is rendered once, not fifty times over). The cache holds at most ``limit`` entries and
/// starts over when full.
final class RenderCache: Sendable {
    /// A rendered body and its entity tag (a digest of the body, so equal bodies share it
    /// across generations).
    struct Entry: Sendable {
        let generation: Int64
        let renderedAt: ContinuousClock.Instant
        let body: ByteBuffer
        let etag: String
    }

    /// A render under way, and the generation it renders.
    private struct Rendering {
        let generation: Int64
        let task: Task<Entry?, any Error>
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var rendering: [String: Rendering] = [:]
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int = 4096) {
        self.limit = limit
    }

    /// `key`'s body at `generation`: the kept one when it is of that generation and younger
    /// than `maxAge`, else what `render` makes now (then kept) — or what a render of the same
    /// generation already under way makes.
    func body(
        _ key: String, generation: Int64, maxAge: Duration? = nil,
        render: @escaping @Sendable () async throws -> String
    ) async throws -> Entry {
        // A render that returns a body gives an entry.
        try await body(ifAny: key, generation: generation, maxAge: maxAge) { try await render() }!
    }

    /// ``body(_:generation:maxAge:render:)`` for what may have no body to keep: `render` returns
    /// `nil` (a page not to cache, such as a run still running), and so does this, keeping nothing.
    func body(
        ifAny key: String, generation: Int64, maxAge: Duration? = nil,
        render: @escaping @Sendable () async throws -> String?
    ) async throws -> Entry? {
        let now = ContinuousClock.now
        enum Found {
            case kept(Entry)
            case rendering(Task<Entry?, any Error>)
        }
        let found: Found = state.withLock { current in
            if let kept = current.entries[key], kept.generation == generation,
                maxAge.map({ now - kept.renderedAt < $0 }) ?? true
            {
                return .kept(kept)
            }
            if let under = current.rendering[key], under.generation == generation { return .rendering(under.task) }
            let task = Task { [self] () async throws -> Entry? in
                defer {
                    state.withLock { state in
                        if state.rendering[key]?.generation == generation { state.rendering[key] = nil }
                    }
                }
                guard let text = try await render() else { return nil }
                let entry = Entry(
                    generation: generation, renderedAt: now, body: ByteBuffer(string: text), etag: Self.etag(text))
                state.withLock { state in
                    if state.entries.count >= limit, state.entries[key] == nil {
                        state.entries.removeAll(keepingCapacity: true)
                    }
                    state.entries[key] = entry
                }
                return entry
            }
            current.rendering[key] = Rendering(generation: generation, task: task)
            return .rendering(task)
        }
        switch found {
        case .kept(let entry): return entry
        case .rendering(let task): return try await task.value
        }
    }

    /// A strong entity tag: the first 8 bytes of the text's SHA-256, in hex, quoted.
    static func etag(_ text: String) -> String {
        let digest = SHA256.hash(data: Data(text.utf8)).prefix(8)
        return "\"" + digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\""
    }
}
