import CCCICore
import CCCIStore
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The live log streams the server has open (`/runs/<id>/events`): at most ``limit`` in all and
/// ``perClient`` from one client address, each answered 429 beyond that; and the switch that
/// ends every one of them when the server stops (``close()``), so that a browser tab never holds
/// a stopping server open.
///
/// Behind a reverse proxy every client has the proxy's address: ``perClient`` then caps the
/// proxy, and ``limit`` is the bound that matters.
public final class LiveStreams: Sendable {
    public let limit: Int
    public let perClient: Int

    private struct State {
        var open = 0
        var byClient: [String: Int] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    public init(limit: Int, perClient: Int) {
        self.limit = limit
        self.perClient = perClient
    }

    /// Why a stream was not opened.
    enum Refusal: Error {
        case stopping
        case full(Int)
        case clientFull(Int)
    }

    /// A place among the open streams; given back when the stream (its response) is gone.
    final class Ticket: Sendable {
        let streams: LiveStreams
        let client: String

        init(streams: LiveStreams, client: String) {
            self.streams = streams
            self.client = client
        }

        deinit { streams.release(client) }
    }

    func open(client: String) -> Result<Ticket, Refusal> {
        let refusal = state.withLock { state -> Refusal? in
            if state.closed { return .stopping }
            if state.open >= limit { return .full(limit) }
            if state.byClient[client, default: 0] >= perClient { return .clientFull(perClient) }
            state.open += 1
            state.byClient[client, default: 0] += 1
            return nil
        }
        if let refusal { return .failure(refusal) }
        return .success(Ticket(streams: self, client: client))
    }

    private func release(_ client: String) {
        state.withLock { state in
            state.open -= 1
            let left = state.byClient[client, default: 1] - 1
            state.byClient[client] = left > 0 ? left : nil
        }
    }

    /// Ends every stream (each sends `end` and finishes within one poll) and refuses new ones.
    public func close() {
        state.withLock { $0.closed = true }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// How many streams are open.
    public var count: Int { state.withLock { $0.open } }
}

/// A live run's log as server-sent events: every new line is a `message`; `done` once the run's
/// results exist; `end` (with why) when the stream stops for another reason — the run ended
/// without results (it could not start, it was killed), the server is stopping, the stream's time
/// is up — so that the page stops listening instead of reconnecting. It also ends, silently, as
/// soon as its client has gone. Polls the file (a run writes its log line by line) and reads only
/// the bytes past what it has sent, from byte `from` on; asks whether the run still runs every
/// ``livenessInterval``; writes a comment every ``keepalive`` of silence (a write to a client that
/// vanished without closing fails, and ends the stream).
struct LogEvents {
    let runID: String
    let artifacts: any RunArtifacts
    /// Whether the run still runs (its job, or its registration as a live run).
    let isRunning: @Sendable () async -> Bool
    let ticket: LiveStreams.Ticket
    let watch: ConnectionWatch?
    var interval: Duration = .milliseconds(250)
    var livenessInterval: Duration = .seconds(2)
    var keepalive: Duration = .seconds(15)
    var maximumDuration: Duration = .seconds(3 * 3600)

    func response(from offset: Int) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let events = self
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await events.stream(from: offset) { try await writer.write(ByteBuffer(string: $0)) }
                try await writer.finish(nil)
            })
    }

    /// Writes the events through `send` until the stream ends.
    func stream(from offset: Int, send: (String) async throws -> Void) async throws {
        let clock = ContinuousClock()
        let started = clock.now
        var lastWrite = started
        var lastLiveness = started
        var offset = max(0, offset)
        var pending = ""
        func flush() async throws {
            guard let fresh = await artifacts.log(of: runID, from: offset), !fresh.isEmpty else { return }
            pending += String(decoding: fresh, as: UTF8.self)
            offset += fresh.count
            var lines = pending.split(separator: "\n", omittingEmptySubsequences: false)
            pending = String(lines.removeLast())
            guard !lines.isEmpty else { return }
            try await send(lines.map { "data: \($0)\n\n" }.joined())
            lastWrite = clock.now
        }
        while !Task.isCancelled {
            if watch?.clientGone == true { return }
            if ticket.streams.isClosed {
                try await send("event: end\ndata: the server is stopping\n\n")
                return
            }
            let finished = await artifacts.has("results.json", of: runID)
            try await flush()
            if finished {
                try await send("event: done\ndata: finished\n\n")
                return
            }
            let now = clock.now
            if now - lastLiveness >= livenessInterval {
                lastLiveness = now
                if await !isRunning() {
                    // It may have written its last lines and its results meanwhile.
                    try await flush()
                    let results = await artifacts.has("results.json", of: runID)
                    try await send(
                        results
                            ? "event: done\ndata: finished\n\n" : "event: end\ndata: the run ended without results\n\n")
                    return
                }
            }
            if now - started >= maximumDuration {
                try await send("event: end\ndata: this stream's time is up: reload the page\n\n")
                return
            }
            if now - lastWrite >= keepalive {
                try await send(": keepalive\n\n")
                lastWrite = now
            }
            try await Task.sleep(for: interval)
        }
    }
}
