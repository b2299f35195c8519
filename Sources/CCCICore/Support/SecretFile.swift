import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A secret kept in a file of its own (a webhook secret, a forge or upstream token): one line,
/// readable by its owner only. A file its group or others may read is refused, so a secret
/// cannot leak through a loose permission; a secret shorter than ``minimumLength`` is refused, so
/// a placeholder never guards a server.
///
/// A symlink is followed and its target checked — systemd credentials and Docker secrets are
/// symlinks to files of mode 0400 or 0600.
public enum SecretFile {
    /// What is wrong with a secret file, as the end of a sentence naming it ("… does not exist").
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// The fewest characters a secret may have.
    public static let minimumLength = 16

    /// The secret in `path`: the file's text without its trailing newline.
    public static func read(_ path: String, minimumLength: Int = minimumLength) throws(Problem) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let exists = lstat(path, &info) == 0
            throw Problem(description: exists ? "is a symlink to a file that does not exist" : "does not exist")
        }
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil ? "" : " (its target)"
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Problem(description: "is not a regular file\(target)")
        }
        let mode = Int(info.st_mode) & 0o777
        if mode & 0o077 != 0 {
            let who = mode & 0o007 != 0 ? "any user" : "its group"
            throw Problem(
                description:
                    "may be read by \(who)\(target) (mode \(String(mode, radix: 8))) — `chmod 600 \(path)` (0600 or 0400)"
            )
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Problem(description: "cannot be read by this user")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw Problem(description: "is empty") }
        guard !text.contains("\n") else {
            throw Problem(description: "holds more than one line — it must hold the secret only")
        }
        guard text.count >= minimumLength else {
            throw Problem(
                description:
                    "holds a secret of \(text.count) characters; it needs at least \(minimumLength) — e.g. `openssl rand -hex 32 > \(path)`"
            )
        }
        return text
    }
}
