import Foundation

/// A recipe's customization, loaded from its test packs' `ccci.toml` files (SPEC F-META).
///
/// Holds only what the files set; every accessor falls back to the registry default, so there is
/// one place a default is written (``MetaKey/spec``).
public struct RecipeMeta: Sendable {
    /// One key a file set.
    public struct Setting: Sendable, Hashable {
        public let key: MetaKey
        public let value: MetaValue
        /// The `ccci.toml` the value came from.
        public let source: String
    }

    /// The keys the packs set, after deprecated keys were mapped to their replacements.
    public let settings: [MetaKey: Setting]
    /// Non-fatal findings (deprecated keys), to be shown at run start.
    public let warnings: [String]

    public init(settings: [MetaKey: Setting] = [:], warnings: [String] = []) {
        self.settings = settings
        self.warnings = warnings
    }

    /// The value of `key`: what a pack set, else the registry default.
    public func value(_ key: MetaKey) -> MetaValue {
        settings[key]?.value ?? key.spec.defaultValue
    }

    /// Whether a pack set `key` to something other than its default.
    public func isCustomized(_ key: MetaKey) -> Bool {
        guard let setting = settings[key] else { return false }
        return setting.value != key.spec.defaultValue
    }

    public var deployTimeout: Duration {
        if case .duration(let value) = value(.deployTimeout) { return value }
        return .seconds(600)
    }

    /// How long a converged app must stay so before a tier passes on it.
    public var stableFor: Duration {
        if case .duration(let value) = value(.stableFor) { return value }
        return .seconds(3)
    }

    public var extraEnv: [String: String] { stringMap(.extraEnv) }
    public var upgradeExtraEnv: [String: String] { stringMap(.upgradeExtraEnv) }
    public var extraSecrets: [String: String] { stringMap(.extraSecrets) }

    public var healthPath: String {
        if case .string(let path) = value(.healthPath) { return path.hasPrefix("/") ? path : "/" + path }
        return "/"
    }

    public var healthStatuses: [Int] {
        if case .ints(let statuses) = value(.healthStatuses) { return statuses }
        return []
    }

    public var readyProbe: ReadyProbe? {
        if case .probe(let probe) = value(.readyProbe) { return probe }
        return nil
    }

    /// `nil` means auto-detect from backupbot labels.
    public var backupCapable: Bool? {
        if case .triState(let flag) = value(.backupCapable) { return flag }
        return nil
    }

    public var backupVerify: HookReference? { hook(.backupVerify) }

    /// The tiers `[na]` declares N/A, each with its reason ("" when none was given).
    public var naReasons: [Tier: String] {
        if case .naReasons(let reasons) = value(.na) { return reasons }
        return [:]
    }

    /// The tiers declared N/A, in ladder order.
    public var naTiers: [Tier] { naReasons.keys.sorted() }

    /// The `ccci.toml` that declares the N/A tiers.
    public var naSource: String? { settings[.na]?.source }

    /// How many more times a backup is taken when its snapshot proves incomplete.
    public var backupRetries: Int {
        if case .int(let count) = value(.backupRetries) { return count }
        return 2
    }

    public var screenshot: ScreenshotSpec? {
        if case .screenshot(let spec) = value(.screenshot) { return spec }
        return nil
    }

    public var dependencies: [String] {
        if case .strings(let names) = value(.dependencies) { return names }
        return []
    }

    public var warmCanonical: Bool {
        if case .bool(let flag) = value(.warmCanonical) { return flag }
        return false
    }

    public var upgradeBaseVersion: RecipeVersion? {
        if case .version(let version) = value(.upgradeBaseVersion) { return version }
        return nil
    }

    /// The releases the upgrade tier starts from (`upgrade_from`; `upgrade_base_version` is its
    /// one-base form).
    public var upgradeFrom: [UpgradeBaseChoice] {
        if let pinned = upgradeBaseVersion { return [.version(pinned)] }
        if case .strings(let entries) = value(.upgradeFrom) { return entries.compactMap(UpgradeBaseChoice.init) }
        return [.previous]
    }

    /// How many minor lines `upgrade_from = "all-supported"` covers.
    public var supportedLines: Int {
        if case .upgradeSettings(let lines) = value(.upgrade) { return lines }
        return 3
    }

    /// Where the head keeps the base release's data, when an upgrade moves it.
    public var upgradeData: (service: String, path: String)? {
        if case .dataLocation(let service, let path) = value(.upgradeData) { return (service, path) }
        return nil
    }

    /// How long one functional test may run.
    public var testTimeout: Duration {
        if case .duration(let value) = value(.testTimeout) { return value }
        return .seconds(600)
    }

    public var composeOverlay: String {
        if case .string(let name) = value(.composeOverlay) { return name }
        return "compose.ccci.yml"
    }

    /// Every registry key's effective value (defaults included), redacted: the hook context's `meta`.
    public var effectiveJSON: JSONValue {
        var object: [String: JSONValue] = [:]
        for key in MetaKey.allCases where key.spec.deprecatedBy == nil { object[key.rawValue] = value(key).json }
        // Hooks written for the list form still find it.
        object[MetaKey.naTiers.rawValue] = .array(naTiers.map { .string($0.rawValue) })
        return Redaction.redact(.object(object))
    }

    /// The `pre_deploy` hook: run after an app's env file is written, before its deploy.
    public var preDeploy: HookReference? { hook(.preDeploy) }
    /// The `provision` hook of a dependency's pack.
    public var provision: HookReference? { hook(.provision) }

    /// The pre-op hook for a tier (`pre_install`, `pre_upgrade`, `pre_backup`, `pre_restore`).
    public func preHook(for tier: Tier) -> HookReference? {
        switch tier {
        case .install: return hook(.preInstall)
        case .upgrade: return hook(.preUpgrade)
        case .backup: return hook(.preBackup)
        case .restore: return hook(.preRestore)
        default: return nil
        }
    }

    /// Every hook the packs declare, by key.
    public var hooks: [MetaKey: HookReference] {
        var result: [MetaKey: HookReference] = [:]
        for key in MetaKey.allCases {
            switch value(key) {
            case .hook(let hook): result[key] = hook
            case .probe(.hook(let hook)): result[key] = hook
            default: continue
            }
        }
        return result
    }

    func hook(_ key: MetaKey) -> HookReference? {
        if case .hook(let hook) = value(key) { return hook }
        return nil
    }

    func stringMap(_ key: MetaKey) -> [String: String] {
        if case .stringMap(let map) = value(key) { return map }
        return [:]
    }
}
