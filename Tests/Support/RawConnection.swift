import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a loopback server, for what an HTTP client library will not do: hold
/// a stream open and walk away, trickle a request's bytes, come from another loopback address
/// (`127.0.0.2`, … — the whole of 127/8 is this host) so that per-client limits can be tried.
///
/// `@unchecked Sendable`: the descriptor is an `Int32` guarded by a lock.
public final class RawConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32

    /// Connects to `127.0.0.1:port`, from `source` (a loopback address) when given.
    public init(port: Int, from source: String? = nil, timeout: TimeInterval = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket: \(String(cString: strerror(errno)))") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            guard Self.withAddress(source, port: 0, { bind(fd, $0, $1) }) == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw TestSetupError("bind \(source): \(reason)")
            }
        }
        guard Self.withAddress("127.0.0.1", port: port, { connect(fd, $0, $1) }) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw TestSetupError("connect to port \(port): \(reason)")
        }
    }

    /// Calls `body` with an IPv4 socket address and its length.
    private static func withAddress(
        _ host: String, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Sends `text` (all of it).
    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        try lock.withLock {
            var sent = 0
            while sent < bytes.count {
                let written = bytes[sent...].withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
                guard written > 0 else { throw TestSetupError("send: \(String(cString: strerror(errno)))") }
                sent += written
            }
        }
    }

    /// Reads until `marker` has arrived (or the connection ends, or the read times out); returns
    /// what came.
    public func read(until marker: String = "\r\n\r\n", limit: Int = 1 << 20) -> String {
        lock.withLock {
            var received = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while received.count < limit {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                received += buffer[0..<count]
                if String(decoding: received, as: UTF8.self).contains(marker) { break }
            }
            return String(decoding: received, as: UTF8.self)
        }
    }

    /// Whether the server closed the connection: a read returns end of file (or an error) within
    /// `timeout`, rather than nothing.
    public func isClosedByPeer(within timeout: TimeInterval) -> Bool {
        lock.withLock {
            var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count == 0 { return true }
                if count < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
            }
        }
    }

    /// Opens a server-sent event stream: sends the GET and reads its head. Returns the head.
    public func openStream(_ path: String) throws -> String {
        try send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        return read()
    }

    /// Closes the connection (a client that walks away).
    public func close() {
        lock.withLock {
            if fd >= 0 {
                Glibc.close(fd)
                fd = -1
            }
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }
}

/// A process' open descriptors and resident memory, from `/proc`.
public enum ProcessUsage {
    public static func descriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Resident memory in KiB.
    public static func residentKiB(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return -1 }
        return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? -1
    }

    /// CPU time (user + system) in clock ticks.
    public static func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return -1 }
        return user + system
    }
}
