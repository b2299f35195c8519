import Foundation

/// Writes files other processes read (results.json, canonical records, env files) so a reader
/// sees the old content or the new, never a torn write: write a temporary file in the same
/// directory, flush it, rename it over the target.
public enum AtomicFile {
    /// Atomically replaces `url` with `data`; `permissions` applies to the new file (e.g. 0o600).
    public static func write(_ data: Data, to url: URL, permissions: Int? = nil) throws {
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        )
        guard
            FileManager.default.createFile(
                atPath: temporary.path, contents: nil,
                attributes: permissions.map { [.posixPermissions: $0] })
        else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            if rename(temporary.path, url.path) != 0 {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Atomically writes `text` as UTF-8.
    public static func write(_ text: String, to url: URL, permissions: Int? = nil) throws {
        try write(Data(text.utf8), to: url, permissions: permissions)
    }
}
