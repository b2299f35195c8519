import AsyncHTTPClient
import CCCICore
import Foundation
import NIOCore
import NIOFoundationCompat

/// Exec, logs and the event stream.
extension DockerEngine {
    /// What a command run inside a container printed, and how it exited.
    /// Runs `command` inside a running container and waits for it.
    public func exec(
        container: String, command: [String], environment: [String: String] = [:], timeout: TimeAmount = .minutes(10)
    ) async throws -> ExecResult {
        struct Create: Encodable {
            let AttachStdout = true
            let AttachStderr = true
            let Cmd: [String]
            let Env: [String]
        }
        struct Start: Encodable {
            let Detach = false
            let Tty = false
        }
        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let created = try await request(
            .POST, "/containers/\(container)/exec", json: Create(Cmd: command, Env: env), as: CreatedID.self)
        let (status, buffer) = try await send(.POST, "/exec/\(created.value)/start", json: Start(), timeout: timeout)
        try Self.check(status, buffer, method: .POST, path: "/exec/\(created.value)/start")
        let (stdout, stderr) = Self.demultiplex(buffer)
        let inspect = try await request(.GET, "/exec/\(created.value)/json", as: ExecInspect.self)
        return ExecResult(exitCode: inspect.ExitCode ?? -1, stdout: stdout, stderr: stderr)
    }

    /// The last `tail` lines a service logged, stdout and stderr in the order they were written.
    public func serviceLogs(_ service: String, tail: Int = 50) async throws -> String {
        try await logs("/services/\(service)/logs", tail: tail)
    }

    /// The last `tail` lines a container logged, stdout and stderr in the order they were written.
    public func containerLogs(_ container: String, tail: Int = 50) async throws -> String {
        try await logs("/containers/\(container)/logs", tail: tail)
    }

    private func logs(_ path: String, tail: Int) async throws -> String {
        let (status, buffer) = try await send(
            .GET, path, query: ["stdout": "true", "stderr": "true", "tail": String(tail), "timestamps": "true"],
            timeout: .seconds(30))
        try Self.check(status, buffer, method: .GET, path: path)
        return Self.demultiplex(buffer, keepingOrder: true).0
    }

    /// Splits Docker's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, big-endian
    /// length) into stdout and stderr. A body without frame headers is returned as stdout.
    /// With `keepingOrder`, both streams go to the first string in the order of their frames.
    static func demultiplex(_ buffer: ByteBuffer, keepingOrder: Bool = false) -> (String, String) {
        var buffer = buffer
        var stdout = Data()
        var stderr = Data()
        while buffer.readableBytes >= 8 {
            let header = buffer.getBytes(at: buffer.readerIndex, length: 8)!
            guard header[0] <= 2, header[1] == 0, header[2] == 0, header[3] == 0 else {
                stdout.append(contentsOf: buffer.readBytes(length: buffer.readableBytes)!)
                break
            }
            let length = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
            buffer.moveReaderIndex(forwardBy: 8)
            guard let payload = buffer.readBytes(length: min(length, buffer.readableBytes)) else { break }
            if header[0] == 2 && !keepingOrder {
                stderr.append(contentsOf: payload)
            } else {
                stdout.append(contentsOf: payload)
            }
        }
        if buffer.readableBytes > 0 { stdout.append(contentsOf: buffer.readBytes(length: buffer.readableBytes)!) }
        return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Reads the engine's event stream from now on, filtered by `filters` (e.g.
    /// `["type": ["container"]]`), calling `onEvent` for each event, until the calling task is
    /// cancelled (the normal way to stop) or the engine closes the stream.
    public func streamEvents(
        filters: [String: [String]] = [:], since: String? = nil, until: String? = nil,
        onEvent: @Sendable (EngineEvent) async -> Void
    ) async throws {
        var query: [String: String] = [:]
        if !filters.isEmpty { query["filters"] = Self.filters(filters) }
        // With `until`, the engine replays the events of the period and ends the stream.
        if let since { query["since"] = since }
        if let until { query["until"] = until }
        try await streamLines("/events", query: query, as: EngineEvent.self) { event in
            await onEvent(event)
            return true
        }
    }

    /// Reads the stats stream of container `id` (`GET /containers/{id}/stats`, one sample a
    /// second), calling `onSample` for each, until `onSample` returns `false`, the calling task is
    /// cancelled, or the engine ends the stream (it goes on sending empty samples for a stopped
    /// container that is not removed: the caller stops on those).
    public func streamStats(
        container id: String, onSample: @Sendable (ContainerStats) async -> Bool
    ) async throws {
        try await streamLines(
            "/containers/\(id)/stats", query: ["stream": "true"], as: ContainerStats.self, onValue: onSample)
    }

    /// Reads a streaming `GET` of newline-separated JSON values, calling `onValue` for each one
    /// that decodes, until `onValue` returns `false`, the calling task is cancelled or the engine
    /// ends the stream.
    private func streamLines<Value: Decodable>(
        _ path: String, query: [String: String], as type: Value.Type, onValue: @Sendable (Value) async -> Bool
    ) async throws {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = .GET
        request.headers.replaceOrAdd(name: "Host", value: "docker")
        let response = try await client.execute(request, timeout: .hours(24 * 365))
        guard response.status == .ok else {
            throw EngineError.requestFailed(method: "GET", path: path, status: Int(response.status.code), message: "")
        }
        var pending = Data()
        let decoder = JSONDecoder()
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if let value = try? decoder.decode(Value.self, from: pending[start..<newline]),
                    !(await onValue(value))
                {
                    return
                }
                start = pending.index(after: newline)
            }
            pending.removeSubrange(pending.startIndex..<start)
        }
    }
}
