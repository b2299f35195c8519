import Foundation

/// The merged view of a recipe's `COMPOSE_FILE` files for one app env: what cc-ci needs to know
/// about services, images, volumes, secrets, configs, networks, labels and healthchecks.
public struct ComposeProject: Sendable, Hashable {
    /// The files merged, in order (relative to the recipe root).
    public let files: [String]
    public let services: [String: ComposeService]
    public let volumes: [String: VolumeDefinition]
    public let secrets: [String: ExternalObjectDefinition]
    public let configs: [String: ExternalObjectDefinition]
    public let networks: [String: NetworkDefinition]
    /// The merged document (after interpolation and normalisation).
    public let document: JSONValue

    /// Reads and merges `files` from `recipeRoot`, interpolated with `environment`.
    public static func load(
        recipeRoot: URL, files: [String], environment: [String: String], recipe: String
    ) throws(ComposeError) -> ComposeProject {
        var merged = JSONValue.object([:])
        for file in files {
            let url: URL
            do {
                url = try ContainedPath.resolve(file, in: recipeRoot, what: "COMPOSE_FILE entry")
            } catch {
                throw .unsafePath(error)
            }
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw .missingFile(file: file, recipe: recipe)
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            guard size <= 1 << 20 else { throw .tooLarge(file: file) }
            let text: String
            do {
                text = try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw .unreadable(file: url.path, reason: error.localizedDescription)
            }
            let document = try ComposeDocument.load(yaml: text, name: file, environment: environment)
            merged = ComposeDocument.merge(merged, document)
        }
        let project = try ComposeProject(document: merged, files: files)
        try project.checkFileReferences(in: recipeRoot)
        return project
    }

    /// Every config and secret created from a file (`file:`) must name a file inside the recipe:
    /// `docker stack deploy` would otherwise upload any file of the host it can read.
    public func checkFileReferences(in recipeRoot: URL) throws(ComposeError) {
        for (kind, objects) in [("config", configs), ("secret", secrets)] {
            for (name, definition) in objects.sorted(by: { $0.key < $1.key }) {
                guard let file = definition.file, !definition.external else { continue }
                do {
                    _ = try ContainedPath.resolve(file, in: recipeRoot, what: "the `file` of \(kind) `\(name)`")
                } catch {
                    throw .unsafePath(error)
                }
            }
        }
    }

    /// Builds the model from an already merged document.
    public init(document: JSONValue, files: [String]) throws(ComposeError) {
        self.document = document
        self.files = files
        let services = document["services"]?.objectValue ?? [:]
        guard !services.isEmpty else { throw .noServices(files: files) }
        var parsed: [String: ComposeService] = [:]
        for (name, value) in services { parsed[name] = ComposeService(name: name, value) }
        self.services = parsed
        self.volumes = (document["volumes"]?.objectValue ?? [:]).mapValues(VolumeDefinition.init)
        self.secrets = (document["secrets"]?.objectValue ?? [:]).mapValues(ExternalObjectDefinition.init)
        self.configs = (document["configs"]?.objectValue ?? [:]).mapValues(ExternalObjectDefinition.init)
        self.networks = (document["networks"]?.objectValue ?? [:]).mapValues(NetworkDefinition.init)
    }

    /// Service names in a stable order.
    public var serviceNames: [String] { services.keys.sorted() }

    /// Every image the project runs, de-duplicated, sorted.
    public var images: [String] {
        Array(Set(services.values.compactMap(\.image))).sorted()
    }

    /// The docker name of a named volume in stack `stack` (`<stack>_<volume>` unless named).
    public func dockerVolumeName(_ volume: String, stack: String) -> String {
        if let name = volumes[volume]?.name { return name }
        return "\(stack)_\(volume)"
    }

    /// The traefik routes the services declare.
    public var routes: [TraefikRoute] {
        serviceNames.flatMap { TraefikRoute.routes(for: services[$0]!) }
    }
}

/// One service of a compose project.
public struct ComposeService: Sendable, Hashable {
    public let name: String
    public let image: String?
    /// Service labels (`deploy.labels`): traefik, backupbot and coop-cloud version labels live here.
    public let deployLabels: [String: String]
    /// Container labels (`labels`).
    public let containerLabels: [String: String]
    public let environment: [String: String?]
    public let volumes: [ServiceVolume]
    public let secrets: [String]
    public let configs: [String]
    public let networks: [String]
    public let ports: [PortSpec]
    public let healthcheck: Healthcheck?
    /// `deploy.replicas` (nil: swarm's default of 1).
    public let replicas: Int?
    /// `deploy.mode` (`replicated` or `global`).
    public let mode: String
    /// `deploy.restart_policy.condition` (`any`, `on-failure`, `none`).
    public let restartCondition: String?
    public let endpointMode: String?
    /// The raw service document.
    public let raw: JSONValue

    init(name: String, _ value: JSONValue) {
        self.name = name
        self.raw = value
        self.image = value["image"]?.stringValue
        let deploy = value["deploy"]
        self.deployLabels = Self.stringMap(deploy?["labels"])
        self.containerLabels = Self.stringMap(value["labels"])
        var environment: [String: String?] = [:]
        for (key, item) in value["environment"]?.objectValue ?? [:] {
            environment[key] = item == .null ? String?.none : item.display
        }
        self.environment = environment
        self.volumes = (value["volumes"]?.arrayValue ?? []).compactMap(ServiceVolume.init)
        self.secrets = Self.references(value["secrets"])
        self.configs = Self.references(value["configs"])
        if let list = value["networks"]?.arrayValue {
            self.networks = list.compactMap(\.stringValue).sorted()
        } else {
            self.networks = (value["networks"]?.objectValue ?? [:]).keys.sorted()
        }
        self.ports = (value["ports"]?.arrayValue ?? []).compactMap(PortSpec.init)
        self.healthcheck = value["healthcheck"].flatMap(Healthcheck.init)
        self.replicas = deploy?["replicas"].flatMap(Self.int)
        self.mode = deploy?["mode"]?.stringValue ?? "replicated"
        self.restartCondition = deploy?["restart_policy"]?["condition"]?.stringValue
        self.endpointMode = deploy?["endpoint_mode"]?.stringValue
    }

    /// Named volumes (not binds or tmpfs) the service mounts.
    public var namedVolumes: [ServiceVolume] {
        volumes.filter { $0.type == "volume" && $0.source != nil }
    }

    /// A one-shot service runs to completion once: `restart_policy.condition: none`.
    public var isOneShot: Bool { restartCondition == "none" }

    static func stringMap(_ value: JSONValue?) -> [String: String] {
        var result: [String: String] = [:]
        for (key, item) in value?.objectValue ?? [:] where item != .null { result[key] = item.display }
        return result
    }

    static func references(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? []).compactMap { $0.stringValue ?? $0["source"]?.stringValue }
    }

    static func int(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let number): return number
        case .string(let text): return Int(text.trimmingCharacters(in: .whitespaces))
        case .double(let number): return Int(exactly: number)
        default: return nil
        }
    }
}

/// A volume mount of a service, from the short (`name:/path:ro`) or long syntax.
public struct ServiceVolume: Sendable, Hashable {
    /// `volume`, `bind` or `tmpfs`.
    public let type: String
    /// The volume name or host path; `nil` for anonymous volumes and tmpfs.
    public let source: String?
    public let target: String
    public let readOnly: Bool

    init?(_ value: JSONValue) {
        if let text = value.stringValue {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            switch parts.count {
            case 1:
                self.init(type: "volume", source: nil, target: parts[0], readOnly: false)
            case 2, 3:
                let source = parts[0]
                let isPath = source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~")
                self.init(
                    type: isPath ? "bind" : "volume", source: source, target: parts[1],
                    readOnly: parts.count == 3 && parts[2].split(separator: ",").contains("ro"))
            default:
                return nil
            }
            return
        }
        guard let target = value["target"]?.stringValue else { return nil }
        let readOnly: Bool
        if case .bool(let flag) = value["read_only"] ?? .bool(false) { readOnly = flag } else { readOnly = false }
        self.init(
            type: value["type"]?.stringValue ?? "volume", source: value["source"]?.stringValue,
            target: target, readOnly: readOnly)
    }

    init(type: String, source: String?, target: String, readOnly: Bool) {
        self.type = type
        self.source = source
        self.target = target.count > 1 && target.hasSuffix("/") ? String(target.dropLast()) : target
        self.readOnly = readOnly
    }
}

/// A published port.
public struct PortSpec: Sendable, Hashable {
    public let target: Int
    public let published: Int?
    public let protocolName: String
    /// `ingress` (the routing mesh) or `host`.
    public let mode: String

    init?(_ value: JSONValue) {
        if case .int(let port) = value {
            self.init(target: port, published: nil, protocolName: "tcp", mode: "ingress")
            return
        }
        if let text = value.stringValue {
            var spec = text
            var proto = "tcp"
            if let slash = spec.lastIndex(of: "/") {
                proto = String(spec[spec.index(after: slash)...])
                spec = String(spec[..<slash])
            }
            let parts = spec.split(separator: ":").map(String.init)
            guard let target = parts.last.flatMap({ Int($0) }) else { return nil }
            let published = parts.count >= 2 ? Int(parts[parts.count - 2]) : nil
            self.init(target: target, published: published, protocolName: proto, mode: "ingress")
            return
        }
        guard let target = value["target"].flatMap(ComposeService.int) else { return nil }
        self.init(
            target: target, published: value["published"].flatMap(ComposeService.int),
            protocolName: value["protocol"]?.stringValue ?? "tcp", mode: value["mode"]?.stringValue ?? "ingress")
    }

    init(target: Int, published: Int?, protocolName: String, mode: String) {
        self.target = target
        self.published = published
        self.protocolName = protocolName
        self.mode = mode
    }
}

/// A service healthcheck.
public struct Healthcheck: Sendable, Hashable {
    public let test: [String]
    public let disabled: Bool
    public let interval: String?
    public let startPeriod: String?

    init?(_ value: JSONValue) {
        guard case .object = value else { return nil }
        if let list = value["test"]?.arrayValue {
            test = list.map(\.display)
        } else if let text = value["test"]?.stringValue {
            test = ["CMD-SHELL", text]
        } else {
            test = []
        }
        if case .bool(let flag) = value["disable"] ?? .bool(false) {
            disabled = flag || test.first == "NONE"
        } else {
            disabled = test.first == "NONE"
        }
        interval = value["interval"]?.display
        startPeriod = value["start_period"]?.display
    }
}

/// A top-level volume definition.
public struct VolumeDefinition: Sendable, Hashable {
    public let name: String?
    public let external: Bool

    init(_ value: JSONValue) {
        name = value["name"]?.stringValue
        external = value["external"] == .bool(true)
    }
}

/// A top-level secret or config definition.
public struct ExternalObjectDefinition: Sendable, Hashable {
    /// The docker object name (`${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}`, interpolated).
    public let name: String?
    public let external: Bool
    /// The file a config/secret is created from (stack deploy creates those itself).
    public let file: String?

    init(_ value: JSONValue) {
        name = value["name"]?.stringValue
        external = value["external"] == .bool(true)
        file = value["file"]?.stringValue
    }
}

/// A top-level network definition.
public struct NetworkDefinition: Sendable, Hashable {
    public let name: String?
    public let external: Bool

    init(_ value: JSONValue) {
        name = value["name"]?.stringValue
        external = value["external"] == .bool(true)
    }
}
