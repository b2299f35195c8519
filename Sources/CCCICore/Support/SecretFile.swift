import Foundation

/// A secret kept in a file of its own (a webhook secret, a forge or upstream token): one line,
/// readable by its owner only. A file others may read is refused, so a secret cannot leak
/// through a loose permission.
public enum SecretFile {
    /// What is wrong with a secret file, as the end of a sentence naming it ("… does not exist").
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// The secret in `path`: the file's text without its trailing newline.
    public static func read(_ path: String) throws(Problem) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Problem(
                description: FileManager.default.fileExists(atPath: path)
                    ? "cannot be read by this user" : "does not exist")
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o007 != 0
        {
            throw Problem(
                description: "may be read by any user (mode \(String(mode & 0o777, radix: 8))) — `chmod 600 \(path)`")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw Problem(description: "is empty") }
        guard !text.contains("\n") else {
            throw Problem(description: "holds more than one line — it must hold the secret only")
        }
        return text
    }
}
