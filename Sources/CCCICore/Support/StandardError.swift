import Foundation

/// Writes to the process's standard error that can never end the process.
///
/// Foundation's `FileHandle.write(_:)` traps when the write fails — and it fails with `EPIPE`
/// whenever whoever reads our stderr is gone: a CI engine's worker that died (its run then gets
/// the parent-death signal and must still tear down and record its end), a closed terminal, a
/// pipe into `head`. A diagnostic that cannot be shown is dropped; the run goes on.
public enum StandardError {
    public static func write(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }

    /// `text` and a newline.
    public static func line(_ text: String) {
        write(text + "\n")
    }
}
