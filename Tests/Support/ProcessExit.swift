import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process that did not exit in time (it has been killed).
public struct ProcessExitTimeout: Error, CustomStringConvertible {
    public let executable: String
    public let timeout: Duration
    public var description: String {
        "\(executable) did not exit within \(timeout); killed with SIGKILL"
    }
}

extension Process {
    /// Waits for the process to exit without blocking a thread, bounded by `timeout`: a process
    /// still running then is killed (SIGKILL, by its pid) and the wait throws, so a test that
    /// hangs fails with the process it waited for named.
    public func exit(within timeout: Duration = .seconds(180)) async throws {
        if try await poll(until: { !isRunning }, timeout: timeout) { return }
        kill(processIdentifier, SIGKILL)
        _ = try? await poll(until: { !isRunning }, timeout: .seconds(10))
        throw ProcessExitTimeout(executable: executableURL?.path ?? "?", timeout: timeout)
    }
}
