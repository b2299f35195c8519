import Foundation

/// The environment of one deployed app: abra's `<domain>.env`, built from the recipe's
/// `.env.sample` (SPEC F-ENV).
public struct AppEnv: Sendable, Hashable {
    /// The compose file abra deploys when `COMPOSE_FILE` is not set.
    public static let defaultComposeFile = "compose.yml"

    /// The env file as it will be written.
    public private(set) var file: EnvFile
    public let recipe: String
    public let domain: String
    public let stackName: String

    /// Builds an app env the way `abra app new <recipe> --domain <domain>` does: the sample is
    /// copied, `<recipe>.example.com` placeholders become the domain, `DOMAIN` is set, and
    /// `TYPE` names the recipe.
    public init(sample: EnvFile, recipe: String, domain: String) {
        var file = EnvFile(
            lines: sample.lines.map { line in
                guard case .entry(var entry) = line else { return line }
                entry.value = entry.value.replacingOccurrences(of: "\(recipe).example.com", with: domain)
                return .entry(entry)
            })
        file.set("DOMAIN", domain)
        if file["TYPE"] == nil && file["RECIPE"] == nil { file.set("TYPE", recipe) }
        self.init(file: file, recipe: recipe, domain: domain)
    }

    /// Wraps an existing app env file.
    public init(file: EnvFile, recipe: String, domain: String) {
        self.file = file
        self.recipe = recipe
        self.domain = domain
        self.stackName = AppNaming.stackName(forDomain: domain)
    }

    /// Keys abra and cc-ci set for an app; a recipe's customization may not override them.
    public static let reservedKeys: Set<String> = ["DOMAIN", "STACK_NAME", "TYPE", "RECIPE"]

    /// Why `key = value` cannot be an env override (`nil` when it can): the key must be a
    /// variable name that cc-ci does not own, and the value a single line.
    public static func problem(withOverride key: String, value: String) -> String? {
        let valid =
            key.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
            && key.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
        guard valid, key.count <= 128 else {
            return "'\(key.prefix(40))' is not a variable name (letters, digits and '_', not starting with a digit)"
        }
        guard !reservedKeys.contains(key) else {
            return "\(key) is set by cc-ci for every app (\(reservedKeys.sorted().joined(separator: ", ")) are) and "
                + "cannot be overridden"
        }
        guard !value.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
            return "the value spans several lines; an env file holds one line per key"
        }
        return nil
    }

    /// Overrides (meta `extra_env`, `upgrade_extra_env`): each key is set, in key order.
    public func applying(_ overrides: [String: String]) -> AppEnv {
        var copy = self
        for key in overrides.keys.sorted() { copy.file.set(key, overrides[key]!) }
        return copy
    }

    /// The key → value map of the env file.
    public var values: [String: String] { file.values }

    /// What compose interpolation sees: the env file plus `STACK_NAME`, as abra exports them to
    /// `docker stack deploy`.
    public var interpolationEnvironment: [String: String] {
        var environment = values
        environment["STACK_NAME"] = stackName
        return environment
    }

    /// The compose files to deploy, in order (`COMPOSE_FILE` split on `:`).
    public var composeFiles: [String] { Self.composeFiles(in: file) }

    /// The compose files an env file names, in order: `COMPOSE_FILE` split on `:`, or
    /// ``defaultComposeFile`` when it is unset or empty.
    public static func composeFiles(in file: EnvFile) -> [String] {
        let raw = file["COMPOSE_FILE"] ?? Self.defaultComposeFile
        let files = raw.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return files.isEmpty ? [Self.defaultComposeFile] : files
    }

    /// The `SECRET_<NAME>_VERSION` declarations of the env, with their modifiers.
    public var secretVersions: [SecretVersion] { Self.secretVersions(in: file) }

    /// The `SECRET_<NAME>_VERSION` declarations of an env file (`.env.sample`), by secret name.
    public static func secretVersions(in file: EnvFile) -> [SecretVersion] {
        var seen: [String: SecretVersion] = [:]
        for entry in file.entries where entry.key.hasPrefix("SECRET_") && entry.key.hasSuffix("_VERSION") {
            let name = entry.key.dropFirst("SECRET_".count).dropLast("_VERSION".count).lowercased()
            guard !name.isEmpty else { continue }
            seen[name] = SecretVersion(
                name: String(name), envKey: entry.key, version: entry.value, modifiers: entry.modifiers)
        }
        return seen.values.sorted { $0.name < $1.name }
    }

    /// The secrets a deploy needs: every external secret the merged compose files declare, joined
    /// with its `SECRET_<NAME>_VERSION` line (its length and whether to generate it). A secret whose
    /// `name:` is versioned by another variable (`orchid_client_secret` named
    /// `${STACK_NAME}_orchid_client_secret_${SECRET_ORCID_CLIENT_SECRET_VERSION:-v1}`) takes its
    /// version, as abra does, from the name's last `_` segment once interpolated.
    public func secrets(for project: ComposeProject) throws(AppEnvError) -> [SecretSpec] {
        let versions = Dictionary(uniqueKeysWithValues: secretVersions.map { ($0.name, $0) })
        var specs: [SecretSpec] = []
        for (id, definition) in project.secrets.sorted(by: { $0.key < $1.key }) where definition.external {
            let named = definition.name.flatMap { name -> SecretVersion? in
                guard let last = name.split(separator: "_", omittingEmptySubsequences: false).last, !last.isEmpty,
                    name.count > last.count
                else { return nil }
                return SecretVersion(
                    name: id, envKey: "SECRET_\(id.uppercased())_VERSION", version: String(last), modifiers: [:])
            }
            guard let version = versions[id] ?? named else {
                throw .missingSecretVersion(
                    recipe: recipe, secret: id, envKey: "SECRET_\(id.uppercased())_VERSION")
            }
            guard !version.hasInvalidLength else {
                throw .invalidLength(recipe: recipe, envKey: version.envKey, value: version.modifiers["length"] ?? "")
            }
            let length = version.length
            let dockerName = definition.name ?? "\(stackName)_\(id)_\(version.version)"
            guard dockerName.count <= 64 else {
                throw .secretNameTooLong(name: dockerName, domain: domain)
            }
            specs.append(
                SecretSpec(
                    name: id, version: version.version, length: length,
                    generate: version.modifiers["generate"] != "false", dockerName: dockerName))
        }
        return specs
    }
}

/// One `SECRET_<NAME>_VERSION=<version> # modifiers` line.
public struct SecretVersion: Sendable, Hashable {
    /// The secret id in lower case (`db_password`).
    public let name: String
    public let envKey: String
    public let version: String
    public let modifiers: [String: String]

    public init(name: String, envKey: String, version: String, modifiers: [String: String]) {
        self.name = name
        self.envKey = envKey
        self.version = version
        self.modifiers = modifiers
    }

    /// The longest secret cc-ci generates (`# length=N`).
    public static let maximumLength = 4096

    /// The `# length=N` modifier, when it is a length between 1 and ``maximumLength``.
    public var length: Int? {
        guard let text = modifiers["length"], let value = Int(text), value > 0, value <= Self.maximumLength
        else { return nil }
        return value
    }

    /// Whether the line has a `length=` modifier that is not a length between 1 and ``maximumLength``.
    public var hasInvalidLength: Bool {
        modifiers["length"] != nil && length == nil
    }
}

/// A secret an app needs, as the native driver creates it. Values are never part of this type.
public struct SecretSpec: Sendable, Hashable, Codable {
    /// The secret id in the compose file (`db_password`).
    public let name: String
    /// The version from the env (`v1`).
    public let version: String
    /// Requested length (`# length=N`); `nil` means cc-ci's default.
    public let length: Int?
    /// `false` when the env says `# generate=false` (the operator inserts it by hand).
    public let generate: Bool
    /// The docker secret name: `<stack>_<name>_<version>`.
    public let dockerName: String

    /// The length of a generated value when the env does not ask for one.
    public static let defaultLength = 32
}

/// An app env that cannot be turned into a deploy.
public enum AppEnvError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingSecretVersion(recipe: String, secret: String, envKey: String)
    case invalidLength(recipe: String, envKey: String, value: String)
    case secretNameTooLong(name: String, domain: String)

    public var description: String {
        switch self {
        case .missingSecretVersion(let recipe, let secret, let envKey):
            return "recipe \(recipe): the compose files use external secret '\(secret)' but .env.sample has no "
                + "\(envKey) line — add `\(envKey)=v1` to .env.sample"
        case .invalidLength(let recipe, let envKey, let value):
            return "recipe \(recipe): \(envKey) has `length=\(value)`, which is not a length between 1 and 4096"
        case .secretNameTooLong(let name, let domain):
            return "secret name '\(name)' is \(name.count) characters; docker allows 64 — use a shorter "
                + "domain than \(domain) or a shorter secret name"
        }
    }
}
