import Foundation

/// An image reference as docker reads it (`nginx:1.19.2`, `127.0.0.1:5001/team/app:1.0`,
/// `nginx@sha256:…`), normalised the way the engine does: a first component with a `.` or `:`
/// (or `localhost`) names the registry, anything else is on Docker Hub, where a single-component
/// name lives under `library/`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// Docker Hub's name in references and in the engine's mirror configuration.
    public static let dockerHub = "docker.io"

    /// The registry host (and port): `docker.io` for Docker Hub.
    public let registry: String
    /// The repository path in the registry (`library/nginx`).
    public let repository: String
    /// The tag (`latest` when the reference names neither tag nor digest).
    public let tag: String?
    /// `sha256:…` when the reference pins a digest.
    public let digest: String?
    /// The reference as written.
    public let original: String

    public init(_ text: String) throws(ImageReferenceError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .invalid(text, "it is empty") }
        guard !trimmed.contains(where: { $0.isWhitespace || $0 == "$" }) else {
            throw .invalid(text, "it contains whitespace or an uninterpolated variable")
        }
        var name = trimmed
        var digest: String?
        if let at = name.firstIndex(of: "@") {
            digest = String(name[name.index(after: at)...])
            name = String(name[..<at])
            guard let pinned = digest, pinned.hasPrefix("sha256:"), pinned.count == 71,
                pinned.dropFirst(7).allSatisfy(\.isHexDigit)
            else { throw .invalid(text, "the digest after @ is not sha256:<64 hex digits>") }
        }
        var tag: String?
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") {
            tag = String(name[name.index(after: colon)...])
            name = String(name[..<colon])
            // `[\w][\w.-]{0,127}` (ASCII): not starting with `.` or `-`.
            guard let value = tag, let first = value.first, value.count <= 128,
                first.isASCII && (first.isLetter || first.isNumber || first == "_"),
                value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else {
                throw .invalid(
                    text, "the tag is not a docker tag ([A-Za-z0-9_.-], not starting with . or -, at most 128)")
            }
        }
        var components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var registry = Self.dockerHub
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost"
        {
            registry = first == "index.docker.io" || first == "registry-1.docker.io" ? Self.dockerHub : first
            components.removeFirst()
        }
        if registry == Self.dockerHub && components.count == 1 { components.insert("library", at: 0) }
        guard !components.isEmpty, components.allSatisfy(Self.isPathComponent) else {
            throw .invalid(
                text,
                "the repository name must be parts of lower-case letters and digits, separated inside a part by one "
                    + "`.`, one or two `_`, or dashes")
        }
        self.registry = registry
        self.repository = components.joined(separator: "/")
        self.tag = tag ?? (digest == nil ? "latest" : nil)
        self.digest = digest
        self.original = trimmed
    }

    /// One `/`-separated part of a repository name, by the distribution grammar:
    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    static func isPathComponent(_ part: String) -> Bool {
        var separator = ""
        var sawAlphanumeric = false
        for character in part {
            if character.isASCII && (character.isLowercase || character.isNumber) {
                guard separator.isEmpty || [".", "_", "__"].contains(separator) || separator.allSatisfy({ $0 == "-" })
                else { return false }
                if !separator.isEmpty && !sawAlphanumeric { return false }
                separator = ""
                sawAlphanumeric = true
            } else if "._-".contains(character) {
                guard sawAlphanumeric else { return false }
                separator.append(character)
            } else {
                return false
            }
        }
        return sawAlphanumeric && separator.isEmpty
    }

    /// Two references are the same image when they normalise alike (`nginx` = `docker.io/library/nginx:latest`).
    public static func == (lhs: ImageReference, rhs: ImageReference) -> Bool {
        (lhs.registry, lhs.repository, lhs.tag, lhs.digest) == (rhs.registry, rhs.repository, rhs.tag, rhs.digest)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(registry)
        hasher.combine(repository)
        hasher.combine(tag)
        hasher.combine(digest)
    }

    /// The name without tag or digest, as `docker image inspect` lists repo digests
    /// (`nginx`, `127.0.0.1:5001/team/app`).
    public var familiarName: String {
        if registry == Self.dockerHub {
            return repository.hasPrefix("library/") ? String(repository.dropFirst(8)) : repository
        }
        return "\(registry)/\(repository)"
    }

    /// What a registry's manifest endpoint is asked for: the digest when pinned, else the tag.
    public var manifestReference: String { digest ?? tag ?? "latest" }

    /// `name:tag@digest`: what runs, pinned to the bits that were pulled.
    public func pinned(to digest: String) -> String {
        "\(familiarName)\(tag.map { ":\($0)" } ?? "")@\(digest)"
    }

    /// `name:tag` (or `name@digest`) in the familiar form.
    public var description: String {
        if let digest { return "\(familiarName)\(tag.map { ":\($0)" } ?? "")@\(digest)" }
        return "\(familiarName):\(tag ?? "latest")"
    }
}

/// An image reference docker would not accept.
public enum ImageReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let text, let why): return "'\(text)' is not an image reference: \(why)"
        }
    }
}
