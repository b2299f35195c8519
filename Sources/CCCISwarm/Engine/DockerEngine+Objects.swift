import CCCICore
import Foundation
import NIOCore
import NIOFoundationCompat

/// Reads and writes of swarm objects.
extension DockerEngine {
    public func info() async throws -> EngineInfo {
        try await request(.GET, "/info", as: EngineInfo.self)
    }

    /// Services, optionally only those with every label in `labels` (`key` or `key=value`).
    public func services(labels: [String] = []) async throws -> [SwarmService] {
        var query = ["status": "true"]
        if !labels.isEmpty { query["filters"] = Self.filters(["label": labels]) }
        return try await request(.GET, "/services", query: query, as: [SwarmService].self)
    }

    /// The services of a stack.
    public func services(stack: String) async throws -> [SwarmService] {
        try await services(labels: ["com.docker.stack.namespace=\(stack)"])
    }

    public func service(_ idOrName: String) async throws -> SwarmService {
        try await request(.GET, "/services/\(idOrName)", as: SwarmService.self)
    }

    public func removeService(_ idOrName: String) async throws {
        try await perform(.DELETE, "/services/\(idOrName)", allow: [404])
    }

    /// Tasks of the given services (all when empty).
    public func tasks(services: [String] = []) async throws -> [SwarmTask] {
        var query: [String: String] = [:]
        if !services.isEmpty { query["filters"] = Self.filters(["service": services]) }
        return try await request(.GET, "/tasks", query: query, as: [SwarmTask].self)
    }

    /// Containers (running and stopped) carrying every label in `labels`.
    public func containers(labels: [String], all: Bool = true) async throws -> [ContainerSummary] {
        try await request(
            .GET, "/containers/json",
            query: ["all": all ? "true" : "false", "filters": Self.filters(["label": labels])],
            as: [ContainerSummary].self)
    }

    public func inspectContainer(_ id: String) async throws -> ContainerInspect {
        try await request(.GET, "/containers/\(id)/json", as: ContainerInspect.self)
    }

    public func removeContainer(_ id: String) async throws {
        try await perform(.DELETE, "/containers/\(id)", query: ["force": "true", "v": "false"], allow: [404])
    }

    // MARK: Secrets and configs

    public func secrets(labels: [String] = [], names: [String] = []) async throws -> [SwarmObject] {
        try await request(.GET, "/secrets", query: objectFilters(labels: labels, names: names), as: [SwarmObject].self)
    }

    /// Creates a secret; the value never appears in logs or errors.
    @discardableResult
    public func createSecret(name: String, value: String, labels: [String: String]) async throws -> String {
        struct Body: Encodable {
            let Name: String
            let Labels: [String: String]
            let Data: String
        }
        let body = Body(Name: name, Labels: labels, Data: Foundation.Data(value.utf8).base64EncodedString())
        let (status, buffer) = try await send(.POST, "/secrets/create", json: body)
        guard (200..<300).contains(status.code) else {
            let message =
                (try? JSONDecoder().decode(EngineMessage.self, from: Foundation.Data(buffer: buffer)))?.message ?? ""
            throw EngineError.requestFailed(
                method: "POST", path: "/secrets/create (\(name))", status: Int(status.code),
                message: message.replacingOccurrences(of: value, with: Redaction.mask))
        }
        return (try? JSONDecoder().decode(CreatedID.self, from: Foundation.Data(buffer: buffer)))?.value ?? ""
    }

    public func removeSecret(_ idOrName: String) async throws {
        try await perform(.DELETE, "/secrets/\(idOrName)", allow: [404])
    }

    public func configs(labels: [String] = [], names: [String] = []) async throws -> [SwarmObject] {
        try await request(.GET, "/configs", query: objectFilters(labels: labels, names: names), as: [SwarmObject].self)
    }

    public func removeConfig(_ idOrName: String) async throws {
        try await perform(.DELETE, "/configs/\(idOrName)", allow: [404])
    }

    private func objectFilters(labels: [String], names: [String]) -> [String: String] {
        var filters: [String: [String]] = [:]
        if !labels.isEmpty { filters["label"] = labels }
        if !names.isEmpty { filters["name"] = names }
        return filters.isEmpty ? [:] : ["filters": Self.filters(filters)]
    }

    // MARK: Volumes

    public func volumes(labels: [String] = []) async throws -> [DockerVolume] {
        let query = labels.isEmpty ? [:] : ["filters": Self.filters(["label": labels])]
        return try await request(.GET, "/volumes", query: query, as: VolumeList.self).Volumes ?? []
    }

    public func volume(_ name: String) async throws -> DockerVolume? {
        let (status, buffer) = try await send(.GET, "/volumes/\(name)")
        if status.code == 404 { return nil }
        try Self.check(status, buffer, method: .GET, path: "/volumes/\(name)")
        return try JSONDecoder().decode(DockerVolume.self, from: Data(buffer: buffer))
    }

    @discardableResult
    public func createVolume(name: String, labels: [String: String]) async throws -> DockerVolume {
        struct Body: Encodable {
            let Name: String
            let Labels: [String: String]
        }
        return try await request(
            .POST, "/volumes/create", json: Body(Name: name, Labels: labels), as: DockerVolume.self)
    }

    /// Removes a volume. A volume still in use by a (stopping) container answers 409; callers retry.
    public func removeVolume(_ name: String, force: Bool = false) async throws {
        try await perform(.DELETE, "/volumes/\(name)", query: force ? ["force": "true"] : [:], allow: [404])
    }

    // MARK: Networks

    public func networks(labels: [String] = [], names: [String] = []) async throws -> [DockerNetwork] {
        try await request(
            .GET, "/networks", query: objectFilters(labels: labels, names: names), as: [DockerNetwork].self)
    }

    @discardableResult
    public func createNetwork(
        name: String, driver: String, attachable: Bool, labels: [String: String]
    ) async throws -> String {
        struct Body: Encodable {
            let Name: String
            let Driver: String
            let Attachable: Bool
            let CheckDuplicate: Bool
            let Labels: [String: String]
        }
        let body = Body(Name: name, Driver: driver, Attachable: attachable, CheckDuplicate: true, Labels: labels)
        return try await request(.POST, "/networks/create", json: body, as: CreatedID.self).value
    }

    public func removeNetwork(_ idOrName: String) async throws {
        try await perform(.DELETE, "/networks/\(idOrName)", allow: [404])
    }

    // MARK: Images

    public func images() async throws -> [DockerImage] {
        try await request(.GET, "/images/json", as: [DockerImage].self)
    }

    /// Whether an image reference resolves locally (`busybox` means `busybox:latest`).
    /// Tags image `source` (a name, `name@digest` or id) as `repository:tag` (`POST /images/{name}/tag`).
    public func tagImage(_ source: String, repository: String, tag: String) async throws {
        try await perform(.POST, "/images/\(source)/tag", query: ["repo": repository, "tag": tag])
    }

    /// An image's id, repo digests and size; `nil` when the node does not have it.
    public func inspectImage(_ reference: String) async throws -> ImageDetails? {
        let (status, buffer) = try await send(.GET, "/images/\(reference)/json")
        if status.code == 404 { return nil }
        try Self.check(status, buffer, method: .GET, path: "/images/\(reference)/json")
        do {
            return try JSONDecoder().decode(ImageDetails.self, from: Data(buffer: buffer))
        } catch {
            throw EngineError.undecodable(path: "/images/\(reference)/json", reason: String(describing: error))
        }
    }

    public func imageExists(_ reference: String) async throws -> Bool {
        let (status, buffer) = try await send(.GET, "/images/\(reference)/json")
        if status.code == 404 { return false }
        try Self.check(status, buffer, method: .GET, path: "/images/\(reference)/json")
        return true
    }

    /// Pulls an image (`POST /images/create`); the engine streams progress and reports errors
    /// inside the stream, so the last `error` member is surfaced.
    /// `registryAuth` is the `X-Registry-Auth` value for the image's registry (never logged).
    public func pullImage(
        _ reference: String, registryAuth: String? = nil, timeout: TimeAmount = .minutes(20)
    ) async throws {
        var name = reference
        var tag = "latest"
        if let at = reference.firstIndex(of: "@") {
            name = String(reference[..<at])
            tag = String(reference[reference.index(after: at)...])
        } else if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            name = String(reference[..<colon])
            tag = String(reference[reference.index(after: colon)...])
        }
        let (status, buffer) = try await send(
            .POST, "/images/create", query: ["fromImage": name, "tag": tag],
            headers: registryAuth.map { [("X-Registry-Auth", $0)] } ?? [], timeout: timeout)
        try Self.check(status, buffer, method: .POST, path: "/images/create (\(reference))")
        for line in String(buffer: buffer).split(separator: "\n") {
            if let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(line.utf8)),
                let message = object["error"]?.stringValue
            {
                throw EngineError.requestFailed(
                    method: "POST", path: "/images/create (\(reference))", status: 500, message: message)
            }
        }
    }

    // MARK: Swarm

    public func swarmInit(advertiseAddress: String) async throws {
        struct Body: Encodable {
            let ListenAddr: String
            let AdvertiseAddr: String
        }
        try await perform(.POST, "/swarm/init", json: Body(ListenAddr: "0.0.0.0:2377", AdvertiseAddr: advertiseAddress))
    }
}
