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
            guard let value = tag, !value.isEmpty, value.count <= 128,
                value.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) })
            else { throw .invalid(text, "the tag is not a docker tag ([A-Za-z0-9_.-], at most 128)") }
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
        guard !components.isEmpty,
            components.allSatisfy({ part in
                !part.isEmpty && part.allSatisfy { $0.isLowercase || $0.isNumber || "._-".contains($0) }
            })
        else { throw .invalid(text, "the repository name must be lower-case letters, digits and ._- parts") }
        self.registry = registry
        self.repository = components.joined(separator: "/")
        self.tag = tag ?? (digest == nil ? "latest" : nil)
        self.digest = digest
        self.original = trimmed
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
