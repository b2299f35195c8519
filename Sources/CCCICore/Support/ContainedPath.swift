import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Paths that must stay inside a directory: a recipe's files inside its checkout, a pack's hooks,
/// overlay and tests inside the pack.
///
/// A recipe and its own test pack come from a pull request, so a path written in them is
/// untrusted: an absolute path, a `..` or a symlink could make cc-ci read, deploy or execute a
/// file of the host. Every such path goes through ``resolve(_:in:what:)``, which follows
/// symlinks (the kernel's `realpath`) and refuses anything that ends up outside the root.
public enum ContainedPath {
    /// `relative`, resolved inside `root`. Throws when it is absolute, or leaves `root` through
    /// `..` or a symlink. A path that does not exist yet is checked as far as it exists.
    public static func resolve(_ relative: String, in root: URL, what: String) throws(ContainmentError) -> URL {
        guard !relative.isEmpty else {
            throw ContainmentError(path: relative, root: root.path, what: what, reason: .empty)
        }
        guard !relative.hasPrefix("/") else {
            throw ContainmentError(path: relative, root: root.path, what: what, reason: .absolute)
        }
        guard !relative.contains("\0") else {
            throw ContainmentError(path: relative, root: root.path, what: what, reason: .outside)
        }
        let realRoot = canonical(root.path)
        let joined = root.appendingPathComponent(relative).path
        let resolved = canonical(joined)
        guard resolved == realRoot || resolved.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else {
            throw ContainmentError(
                path: relative, root: root.path, what: what,
                reason: relative.split(separator: "/").contains("..") ? .outside : .symlink(resolved))
        }
        return URL(fileURLWithPath: resolved)
    }

    /// Whether the existing (or not yet existing) `url` lies inside `root`, symlinks followed.
    public static func isInside(_ url: URL, root: URL) -> Bool {
        let realRoot = canonical(root.path)
        let resolved = canonical(url.path)
        return resolved == realRoot || resolved.hasPrefix(realRoot + "/")
    }

    /// The canonical form of `path`: symlinks followed as far as the path exists, `.` and `..`
    /// folded for the rest.
    public static func canonical(_ path: String) -> String {
        if let real = realPath(path) { return real }
        // Resolve the longest existing prefix, then fold the remaining components lexically.
        var components = (path as NSString).pathComponents
        var rest: [String] = []
        while !components.isEmpty {
            rest.insert(components.removeLast(), at: 0)
            let prefix = components.isEmpty ? "/" : NSString.path(withComponents: components)
            if let real = realPath(prefix) {
                var parts = real.split(separator: "/").map(String.init)
                for component in rest {
                    switch component {
                    case ".", "": continue
                    case "..": if !parts.isEmpty { parts.removeLast() }
                    default: parts.append(component)
                    }
                }
                return "/" + parts.joined(separator: "/")
            }
        }
        return (path as NSString).standardizingPath
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A path that leaves the directory it must stay in.
public struct ContainmentError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        case empty
        case absolute
        case outside
        /// A symlink on the way leads to this real path.
        case symlink(String)
    }

    public let path: String
    public let root: String
    /// What the path names, for the message: "hook `pre_install`", "COMPOSE_FILE entry".
    public let what: String
    public let reason: Reason

    public var description: String {
        switch reason {
        case .empty:
            return "\(what) is empty — name a file inside \(root)"
        case .absolute:
            return "\(what) '\(path)' is an absolute path — it must be a path inside \(root), relative to it"
        case .outside:
            return "\(what) '\(path)' leaves \(root) through '..' — it must name a file inside it"
        case .symlink(let target):
            return "\(what) '\(path)' is (or passes through) a symlink to \(target), outside \(root) — "
                + "it must name a file inside it"
        }
    }
}
