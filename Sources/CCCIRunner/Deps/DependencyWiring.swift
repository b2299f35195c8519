import CCCICore
import CCCIDeploy
import Foundation

/// The dependencies' facts wired into the app under test before its one deploy (SPEC F-DEPS,
/// F-ENV): `extra_env`, `upgrade_extra_env` and `extra_secrets` with their
/// `{{deps.<recipe>.<fact>}}` placeholders filled in, and where each filled-in value came from.
struct DependencyWiring: Sendable {
    var extraEnv: [String: String] = [:]
    var upgradeExtraEnv: [String: String] = [:]
    var extraSecrets: [String: String] = [:]
    /// `env.<KEY>` / `secret.<name>` → the placeholders it used (`deps.provider.url`).
    var inputs: [String: String] = [:]

    /// Resolves every placeholder of `meta` with `facts`; a fact no dependency provides is a
    /// configuration error naming the key and the known facts.
    static func resolve(
        _ meta: RecipeMeta, facts: [String: DependencyInfo]
    ) throws(DependencyPlaceholders.Problem) -> DependencyWiring {
        var wiring = DependencyWiring()
        func fill(
            _ values: [String: String], key: MetaKey, kind: String
        ) throws(DependencyPlaceholders.Problem)
            -> [String: String]
        {
            var resolved: [String: String] = [:]
            for name in values.keys.sorted() {
                let (value, used) = try DependencyPlaceholders.resolve(
                    values[name]!, key: "\(key.rawValue).\(name)", facts: facts)
                // What a dependency provided must still be a value an env file can hold.
                if kind == "env", !used.isEmpty, let problem = AppEnv.problem(withOverride: name, value: value) {
                    throw DependencyPlaceholders.Problem(
                        key: "\(key.rawValue).\(name)",
                        description:
                            "`\(key.rawValue).\(name)` filled in from \(used.joined(separator: ", ")): \(problem)")
                }
                resolved[name] = value
                guard !used.isEmpty else { continue }
                let source = used.joined(separator: " ")
                let item = "\(kind).\(name)"
                wiring.inputs[item] = wiring.inputs[item].map { $0 == source ? $0 : "\($0), \(source)" } ?? source
            }
            return resolved
        }
        wiring.extraEnv = try fill(meta.extraEnv, key: .extraEnv, kind: "env")
        wiring.upgradeExtraEnv = try fill(meta.upgradeExtraEnv, key: .upgradeExtraEnv, kind: "env")
        wiring.extraSecrets = try fill(meta.extraSecrets, key: .extraSecrets, kind: "secret")
        return wiring
    }
}

/// Where the env keys and secrets filled in at run time came from (the manifest's `inputs`): the
/// dependencies' facts, and what `pre_deploy` hooks added.
actor RunInputs {
    private(set) var sources: [String: String] = [:]

    func record(_ item: String, from source: String) {
        sources[item] = sources[item].map { $0 == source ? $0 : "\($0), \(source)" } ?? source
    }

    func record(_ inputs: [String: String]) {
        for (item, source) in inputs { record(item, from: source) }
    }
}

/// Every image the run's apps deployed, as each deploy reported it (for the manifest).
actor DeployedImages {
    private(set) var all: [DeployedImage] = []

    /// Keeps `record`'s images under `app` (`head`, `upgrade-base`, `upgrade`), replacing what
    /// an earlier deploy of the same app and service recorded.
    func record(_ images: [DeployedImage], app: String) {
        for var image in images {
            image.app = app
            all.removeAll { $0.app == app && $0.service == image.service }
            all.append(image)
        }
    }
}
