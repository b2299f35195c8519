/// Everything non-default that shapes a run (SPEC F-MANIFEST): printed at run start and stored in
/// the results, so a reader knows what was customised without reading the pack.
///
/// The runner builds it with the same functions that drive the run (meta loader, test discovery,
/// overlay selection), so it cannot disagree with what executes. Values are redacted on the way in.
public struct Manifest: Sendable, Hashable, Codable {
    /// A customised meta key and the file that set it.
    public struct MetaEntry: Sendable, Hashable, Codable {
        public let value: JSONValue
        public let source: String
    }

    /// Customised meta keys (redacted).
    public var meta: [String: MetaEntry]
    /// Hook keys → the executable they name.
    public var hooks: [String: String]
    /// Compose files added to the recipe's own (`compose.ccci.yml`, the lab's dnsrr overlay).
    public var overlays: [String]
    /// Custom tests found, as `<pack>/<dir>/<file>`.
    public var customTests: [String]
    /// Env keys the run sets on top of `.env.sample` (redacted).
    public var envOverrides: [String: String]
    /// Deprecation warnings and the like.
    public var warnings: [String]
    /// Env keys (`env.<KEY>`) and secrets (`secret.<name>`) filled in at run time, each with where
    /// its value came from: `deps.<recipe>.<fact>` or `pre_deploy`. Never the values.
    public var inputs: [String: String] = [:]
    /// Each app's services and the images they ran: digests of what was pulled, image ids
    /// (SPEC F-PREPULL). Filled in as the apps deploy.
    public var images: [DeployedImage] = []

    public init(
        meta: RecipeMeta, overlays: [String], customTests: [String], envOverrides: [String: String]
    ) {
        var entries: [String: MetaEntry] = [:]
        for (key, setting) in meta.settings where meta.isCustomized(key) {
            let wrapped = Redaction.redact(.object([key.rawValue: setting.value.json]))
            entries[key.rawValue] = MetaEntry(value: wrapped[key.rawValue] ?? .null, source: setting.source)
        }
        self.meta = entries
        self.hooks = Dictionary(uniqueKeysWithValues: meta.hooks.map { ($0.key.rawValue, $0.value.declared) })
        self.overlays = overlays
        self.customTests = customTests.sorted()
        self.envOverrides = Redaction.redact(envOverrides)
        self.warnings = meta.warnings
    }

    enum CodingKeys: String, CodingKey {
        case meta, hooks, overlays, warnings, inputs, images
        case customTests = "custom_tests"
        case envOverrides = "env_overrides"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        meta = try container.decode([String: MetaEntry].self, forKey: .meta)
        hooks = try container.decode([String: String].self, forKey: .hooks)
        overlays = try container.decode([String].self, forKey: .overlays)
        customTests = try container.decode([String].self, forKey: .customTests)
        envOverrides = try container.decode([String: String].self, forKey: .envOverrides)
        warnings = try container.decode([String].self, forKey: .warnings)
        // Documents written before run-time inputs existed have none.
        inputs = try container.decodeIfPresent([String: String].self, forKey: .inputs) ?? [:]
        images = try container.decodeIfPresent([DeployedImage].self, forKey: .images) ?? []
    }

    /// Whether nothing is customised.
    public var isEmpty: Bool {
        meta.isEmpty && hooks.isEmpty && overlays.isEmpty && customTests.isEmpty && envOverrides.isEmpty
            && inputs.isEmpty
    }

    /// The block printed at run start, one line per item.
    public func renderLines() -> [String] {
        var lines: [String] = []
        if isEmpty { return ["customization: none (registry defaults, no hooks, no custom tests)"] }
        lines.append("customization:")
        for key in meta.keys.sorted() {
            lines.append("  meta  \(key) = \(meta[key]!.value.display)  (\(meta[key]!.source))")
        }
        for key in hooks.keys.sorted() { lines.append("  hook  \(key) → \(hooks[key]!)") }
        for overlay in overlays { lines.append("  overlay  \(overlay)") }
        for key in envOverrides.keys.sorted() { lines.append("  env  \(key)=\(envOverrides[key]!)") }
        for key in inputs.keys.sorted() { lines.append("  input  \(key) ← \(inputs[key]!)") }
        for test in customTests { lines.append("  test  \(test)") }
        for warning in warnings { lines.append("  warning  \(warning)") }
        return lines
    }
}
