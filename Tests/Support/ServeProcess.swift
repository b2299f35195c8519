import CCCIStore
import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `ccci serve` process of a ``RunHarness`` (its home, CI domain, catalogue and locks),
/// configured for a ``ForgeStub``. The test ends it by pid (``stop(_:)``, ``kill()``); `deinit`
/// kills it if the test did not.
///
/// `@unchecked`: Foundation's `Process` is not `Sendable`; the stored properties are constants,
/// and `Process` guards its own state.
public final class ServeProcess: @unchecked Sendable {
    public let process: Process
    public let output: URL
    /// `http://127.0.0.1:<port>`.
    public let baseURL: String

    /// Starts `ccci serve` and waits (bounded) until it listens.
    public init(
        harness: RunHarness, server: ServerHarness, stub: ForgeStub, allowlist: [String] = ["alice"],
        extra: [String: String] = [:], name: String = "serve", serve: String = "", arguments: [String] = []
    ) async throws {
        let config = try server.writeServeConfig(stub: stub, allowlist: allowlist, serve: serve)
        output = harness.home.appending("\(name)-\(UUID().uuidString.prefix(6)).log")
        var environment = ["CCCI_CONFIG": config.path, "CCCI_LOG_LEVEL": "info"]
        for (key, value) in extra { environment[key] = value }
        let (process, output) = (
            try await harness.start(["serve"] + arguments, output: output, extra: environment), output
        )
        self.process = process
        // The port it logs once it listens; "" when it exited first.
        let port = try await poll(
            until: { () -> String? in
                let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
                if let range = text.range(of: "http.port=") {
                    return String(text[range.upperBound...].prefix { $0.isNumber })
                }
                return process.isRunning ? nil : ""
            }, timeout: .seconds(60))
        guard let port, !port.isEmpty else {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            throw TestSetupError("ccci serve did not start listening:\n\(text)")
        }
        baseURL = "http://127.0.0.1:\(port)"
    }

    public var hookURL: String { "\(baseURL)/hooks/forge" }

    /// Whether a new TCP connection to the server's port is accepted (a raw connect, no pool).
    public func acceptsConnections() -> Bool {
        guard let port = UInt16(baseURL.split(separator: ":").last ?? "") else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// The process' output so far.
    public var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (bounded) for the exit; returns the exit status (nil: still running).
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM, timeout: Duration = .seconds(180)) async -> Int32? {
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
        return await waitForExit(timeout: timeout)
    }

    /// Waits (bounded) for the process to exit; returns its exit status (nil: still running).
    public func waitForExit(timeout: Duration = .seconds(180)) async -> Int32? {
        guard (try? await poll(until: { !process.isRunning }, timeout: timeout)) == true else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}
