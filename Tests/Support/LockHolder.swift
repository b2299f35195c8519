import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Another process holding a SQLite database's write lock (`Tests/Scripts/hold_write_lock.py`):
/// a store this server cannot write while it lives. ``release()`` ends it by pid.
///
/// `@unchecked Sendable`: `Process` guards its own state; the property is a constant.
public final class LockHolder: @unchecked Sendable {
    let process = Process()

    /// Starts the holder and returns once it holds the lock.
    public init(database: URL) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Scripts/hold_write_lock.py").path,
            database.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard line.contains("locked") else {
            release()
            throw TestSetupError("the lock holder did not take the lock of \(database.path): \(line)")
        }
    }

    /// Ends the holder (SIGKILL, by pid) and waits for it: the lock is free.
    public func release() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { release() }
}
