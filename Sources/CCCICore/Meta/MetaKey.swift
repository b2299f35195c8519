/// Every key a recipe test pack's `ccci.toml` may set (SPEC F-META).
///
/// This enum is the registry: the parser accepts exactly these keys, validation checks each one
/// against ``spec`` (an exhaustive switch, so a new case cannot ship without its type, default
/// and doc), and `docs/customization.md` is generated from it.
public enum MetaKey: String, CaseIterable, Sendable, Codable, Hashable {
    case deployTimeout = "deploy_timeout"
    case stableFor = "stable_for"
    case extraEnv = "extra_env"
    case upgradeExtraEnv = "upgrade_extra_env"
    case extraSecrets = "extra_secrets"
    case healthPath = "health_path"
    case healthStatuses = "health_statuses"
    case healthOK = "health_ok"
    case readyProbe = "ready_probe"
    case backupCapable = "backup_capable"
    case backupVerify = "backup_verify"
    case na = "na"
    case naTiers = "na_tiers"
    case backupRetries = "backup_retries"
    case screenshot = "screenshot"
    case dependencies = "dependencies"
    case warmCanonical = "warm_canonical"
    case upgradeBaseVersion = "upgrade_base_version"
    case upgradeFrom = "upgrade_from"
    case upgrade = "upgrade"
    case upgradeData = "upgrade_data"
    case testTimeout = "test_timeout"
    case composeOverlay = "compose_overlay"
    case preDeploy = "pre_deploy"
    case provision = "provision"
    case preInstall = "pre_install"
    case preUpgrade = "pre_upgrade"
    case preBackup = "pre_backup"
    case preRestore = "pre_restore"

    /// The key's type, default, documentation and deprecation.
    public var spec: MetaKeySpec {
        switch self {
        case .deployTimeout:
            return MetaKeySpec(
                type: .duration, default: .duration(.seconds(600)),
                doc: "How long a deploy may take to converge (every service N/N, healthchecks healthy) "
                    + "before the tier fails with the reason; more than zero, at most 7 days. "
                    + "`ccci run --deploy-timeout` overrides it.")
        case .stableFor:
            return MetaKeySpec(
                type: .duration, default: .duration(.seconds(3)),
                doc: "How long the app must stay converged and healthy after a deploy (install, upgrade) and "
                    + "after a restore before the tier passes: the same tasks still running, no container dying "
                    + "or turning unhealthy. A healthcheck that flaps fails every run rather than some. "
                    + "`\"0s\"` takes the verdict at convergence.")
        case .extraEnv:
            return MetaKeySpec(
                type: .stringMap, default: .stringMap([:]),
                doc: "Env keys set in the app env on every deploy (install and the upgrade base), "
                    + "e.g. `{ COMPOSE_FILE = \"compose.yml:compose.smtp.yml\" }`. Keys are variable names; "
                    + "`DOMAIN`, `STACK_NAME`, `TYPE` and `RECIPE` are cc-ci's and cannot be set. Values may use "
                    + "a dependency's facts, filled in before the first deploy: `{{deps.<recipe>.domain}}`, "
                    + "`{{deps.<recipe>.url}}` (`https://<domain>`) and `{{deps.<recipe>.creds.<name>}}` (a secret "
                    + "its deploy generated, or a credential its pack's `provision` hook returned). A placeholder "
                    + "that names no dependency is found by `ccci meta check`; one no dependency provides ends the "
                    + "run as a configuration error (exit 2) naming the known facts.")
        case .upgradeExtraEnv:
            return MetaKeySpec(
                type: .stringMap, default: .stringMap([:]),
                doc: "Env keys set only when the upgrade app is redeployed at the head "
                    + "(settings the new version needs that the old one must not get). Placeholders as in `extra_env`.")
        case .extraSecrets:
            return MetaKeySpec(
                type: .stringMap, default: .stringMap([:]),
                doc: "Values for the app's swarm secrets instead of generated ones, by the secret's name in the "
                    + "recipe's compose (its `SECRET_<NAME>_VERSION`), e.g. "
                    + "`{ client_secret = \"{{deps.provider.creds.client_secret}}\" }` (placeholders as in "
                    + "`extra_env`). The values go into swarm secrets only: never into the env file, a log or the "
                    + "manifest, which records each secret's source with its value redacted.")
        case .healthPath:
            return MetaKeySpec(
                type: .string, default: .string("/"),
                doc: "Path requested on the app's domain for the health check.")
        case .healthStatuses:
            return MetaKeySpec(
                type: .intList, default: .ints([200, 301, 302, 303, 307, 308]),
                doc: "HTTP statuses (100–599, at least one) that count as healthy. The ingress' own 404 never does.")
        case .healthOK:
            return MetaKeySpec(
                type: .intList, default: .ints([]),
                doc: "Former name of `health_statuses`.", deprecatedBy: .healthStatuses)
        case .readyProbe:
            return MetaKeySpec(
                type: .probe, default: .none,
                doc: "Extra readiness check after convergence: a table `{ path = \"/api/health\", "
                    + "status = 200, contains = \"ok\", timeout = \"2m\" }` polled over the ingress, "
                    + "or the path of an executable hook that exits 0 when the app is ready.")
        case .backupCapable:
            return MetaKeySpec(
                type: .triState, default: .triState(nil),
                doc: "Whether the recipe can be backed up: `\"auto\"` (a service carries "
                    + "`backupbot.backup=true`), `true` or `false` (backup and restore are N/A).")
        case .backupVerify:
            return MetaKeySpec(
                type: .hook, default: .none,
                doc: "Executable run after restore; exit 0 when the app's own data came back. A failure means "
                    + "the snapshot was incomplete: the backup is taken again (`backup_retries`); its last output "
                    + "line is the reason shown.")
        case .na:
            return MetaKeySpec(
                type: .naReasons, default: .naReasons([:]),
                doc: "Tiers that do not apply to this recipe, each with the reason a maintainer reads: "
                    + "`[na]` then `upgrade = \"first release: nothing to upgrade from\"`, or inline, "
                    + "`na = { upgrade = \"…\" }` (in TOML every key after a `[na]` line belongs to the table: "
                    + "put the table last, or write it inline) (tiers `upgrade`, `backup`, "
                    + "`restore`, `custom`). A declared tier is reported N/A with its reason and does not break the "
                    + "level ladder. A tier that turns out N/A without a declaration is reported as a possible "
                    + "coverage gap, with what would make it apply; a declaration the recipe has outgrown (the tier "
                    + "ran) is a warning naming the key to remove. `install` always applies, and `lint` and "
                    + "`screenshot` are earned only by passing them.")
        case .naTiers:
            return MetaKeySpec(
                type: .tierList, default: .tiers([]),
                doc: "Former list form of `[na]`, without reasons: read as `[na]` with no reason given.",
                deprecatedBy: .na)
        case .backupRetries:
            return MetaKeySpec(
                type: .count, default: .int(2),
                doc: "How many times the backup is taken again when its snapshot proves incomplete — it lacks "
                    + "cc-ci's data marker written just before it, or the `backup_verify` hook fails after the "
                    + "restore — before the tiers fail (0 to 5). A tier that needed another attempt is reported "
                    + "`pass (retried)`, saying what each earlier snapshot lacked, never as a clean pass.")
        case .screenshot:
            return MetaKeySpec(
                type: .screenshot, default: .screenshot(ScreenshotSpec()),
                doc: "The screenshot tier's picture of the head app, taken through the ingress once it is healthy: "
                    + "`{ path = \"/\", selector = \"#app\", text = \"Welcome\", wait = \"1s\", viewport = \"1280x800\" }` "
                    + "(every field optional: the page, a CSS selector and/or text to wait for, a pause after, "
                    + "the window). A blank page, the ingress' 404/502 or a browser error fails the tier. "
                    + "`false` skips the tier, so the run cannot reach L5.")
        case .dependencies:
            return MetaKeySpec(
                type: .stringList, default: .strings([]),
                doc: "Recipes deployed before this one (e.g. an OIDC provider), each at its newest release with "
                    + "its own pack's `extra_env`, `extra_secrets` and `provision` hook; their facts fill "
                    + "`{{deps.…}}` placeholders and are handed to hooks and tests in the deps file; torn down after, "
                    + "in reverse order. One level: a dependency that lists dependencies of its own fails, and a "
                    + "cycle is exit 2.")
        case .warmCanonical:
            return MetaKeySpec(
                type: .bool, default: .bool(false),
                doc: "Keep a warm known-good deployment of this recipe (weekly sweep, `--quick`).")
        case .upgradeBaseVersion:
            return MetaKeySpec(
                type: .version, default: .none,
                doc: "Release the upgrade tier starts from instead of the previous release: the one-base form of "
                    + "`upgrade_from` (set one of them, not both).")
        case .upgradeFrom:
            return MetaKeySpec(
                type: .upgradeFrom, default: .strings([UpgradeBaseChoice.previous.text]),
                doc: "The releases the upgrade tier upgrades to the head, each on an upgrade app of its own, deployed "
                    + "at that release, given its own data marker and redeployed in place at the head, side by side "
                    + "(each extra base takes a free run slot of the node's `capacity`; without one it waits for a "
                    + "base before it to finish): `\"previous\"` (the newest release older than the head), "
                    + "`\"all-supported\"` (every release of the newest `supported_lines` minor lines older than the "
                    + "head, see `[upgrade]`) and/or release versions such as `\"1.2.0+1.36.1\"`. The tier passes only "
                    + "when every base passes; `results.json` has one entry per base under `tiers.upgrade.from`. A base "
                    + "that cannot even be deployed (its images are gone) is reported as such — the upgrade from it "
                    + "is untested — never as the head's upgrade failure.")
        case .upgrade:
            return MetaKeySpec(
                type: .upgradeSettings, default: .upgradeSettings(supportedLines: 3),
                doc: "How `upgrade_from = \"all-supported\"` picks its bases: `[upgrade]` then `supported_lines = 3` "
                    + "(1–10) — the newest minor lines (`1.2.x`, `1.1.x`, …) of the releases older than the head that "
                    + "operators may still run; every release in them is a base. In TOML every key after an "
                    + "`[upgrade]` line belongs to the table: put the table last, or write it inline "
                    + "(`upgrade = { supported_lines = 2 }`).")
        case .upgradeData:
            return MetaKeySpec(
                type: .dataLocation, default: .none,
                doc: "Where the head keeps the data the base release wrote, when an upgrade really moves it "
                    + "(a migration in a hook): `{ service = \"app\", path = \"/data/v2\" }`. The upgrade tier "
                    + "reads its marker there, through the head app; without it the marker is read where the head's "
                    + "service mounts the same volume, and a head that no longer mounts it fails the tier.")
        case .testTimeout:
            return MetaKeySpec(
                type: .duration, default: .duration(.seconds(600)),
                doc: "How long one functional test may run; a test still running then is stopped and fails, "
                    + "saying so.")
        case .composeOverlay:
            return MetaKeySpec(
                type: .packFile, default: .string("compose.ccci.yml"),
                doc: "Compose file in the test pack that is added to `COMPOSE_FILE` on every deploy "
                    + "when it exists (CI-only settings; the recipe's files stay untouched).")
        case .preDeploy:
            return MetaKeySpec(
                type: .hook, default: .none,
                doc: "Executable run after the app's env file is written and before its deploy — for the head "
                    + "app; for the upgrade app before the base release's deploy and again before its redeploy at "
                    + "the head (where a secret the running app already has is kept) — with the hook context (the "
                    + "tree, `CCCI_ENV_FILE`, the dependencies' facts). It may add env keys and secrets by writing "
                    + "`{\"env\": {\"KEY\": \"value\"}, \"secrets\": {\"name\": \"value\"}}` to the file named "
                    + "by `CCCI_OUTPUT_FILE`; cc-ci applies them and records them in the manifest (secret values "
                    + "redacted). A non-zero exit fails the tier.")
        case .provision:
            return MetaKeySpec(
                type: .hook, default: .none,
                doc: "In a dependency's pack: executable run once that dependency is healthy, before its "
                    + "dependents are deployed, with its hook context and `CCCI_DEPENDENTS` (the dependents' "
                    + "domains, comma-separated). It provisions what they need (an OIDC client) and writes the "
                    + "credentials as a JSON object of strings to `CCCI_OUTPUT_FILE`: they become the dependents' "
                    + "`{{deps.<recipe>.creds.<name>}}` facts and reach an app only through `extra_env` or "
                    + "`extra_secrets`; secret-looking ones (a name with secret, password, token, credential or key) "
                    + "are masked in every log and file of the run. Its context holds the dependency's own facts "
                    + "(the secrets its deploy generated) under `deps.<its name>`. A failing hook fails the dependency."
            )
        case .preInstall:
            return MetaKeySpec(
                type: .hook, default: .none,
                doc: "Executable run once the fresh head app has converged, before its health check.")
        case .preUpgrade:
            return MetaKeySpec(
                type: .hook, default: .none,
                doc:
                    "Executable run on the upgrade app (the base release, marker written) before the head is redeployed."
            )
        case .preBackup:
            return MetaKeySpec(type: .hook, default: .none, doc: "Executable run on the head app before the backup.")
        case .preRestore:
            return MetaKeySpec(
                type: .hook, default: .none, doc: "Executable run on the head app after the backup, before the restore."
            )
        }
    }

    /// Keys whose values name executables in the pack.
    public var isHook: Bool {
        spec.type == .hook || self == .readyProbe
    }
}

/// What a registry key accepts.
public enum MetaType: String, Sendable, Hashable {
    case duration, string, packFile, bool, stringList, intList, stringMap, hook, triState, probe, screenshot, version,
        tierList, naReasons, count, dataLocation, upgradeFrom, upgradeSettings

    /// How the type is described in errors and docs.
    public var expectation: String {
        switch self {
        case .duration: return "a duration (\"90s\", \"10m\", \"1h30m\" or a number of seconds)"
        case .string: return "a string"
        case .packFile: return "the path of a file in the pack"
        case .bool: return "a boolean"
        case .stringList: return "an array of strings"
        case .intList: return "an array of integers"
        case .stringMap: return "a table of strings"
        case .hook: return "the path of an executable in the pack"
        case .triState: return "\"auto\", true or false"
        case .probe: return "a table { path, status, contains, timeout } or the path of an executable"
        case .screenshot: return "a table { path, selector, text, wait, viewport } or false"
        case .version: return "a recipe version such as \"1.2.0+3.4.5\""
        case .dataLocation: return "a table { service, path } naming a service and an absolute path in it"
        case .tierList: return "an array of tier names (\(Tier.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .naReasons: return "a table of tier names to reasons (`[na]` then `backup = \"the app keeps no data\"`)"
        case .count: return "a whole number"
        case .upgradeFrom:
            return "an array of \"previous\", \"all-supported\" and release versions (a single string is read as one)"
        case .upgradeSettings: return "a table { supported_lines } (`[upgrade]` then `supported_lines = 3`)"
        }
    }
}

/// The registry entry of one key.
public struct MetaKeySpec: Sendable {
    public let type: MetaType
    public let defaultValue: MetaValue
    public let doc: String
    /// The key that replaces this one, for deprecated keys.
    public let deprecatedBy: MetaKey?

    init(type: MetaType, default defaultValue: MetaValue, doc: String, deprecatedBy: MetaKey? = nil) {
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
        self.deprecatedBy = deprecatedBy
    }
}

/// A validated meta value.
public enum MetaValue: Sendable, Hashable {
    case none
    case duration(Duration)
    case string(String)
    case bool(Bool)
    case strings([String])
    case ints([Int])
    case stringMap([String: String])
    /// A hook: the path as written and the absolute path it resolved to.
    case hook(HookReference)
    case triState(Bool?)
    case probe(ReadyProbe)
    case screenshot(ScreenshotSpec?)
    case version(RecipeVersion)
    case tiers([Tier])
    /// Tiers declared N/A, each with its reason (empty: none given, the deprecated list form).
    case naReasons([Tier: String])
    case int(Int)
    /// A service and a path in its container.
    case dataLocation(service: String, path: String)
    /// The `[upgrade]` table.
    case upgradeSettings(supportedLines: Int)

    /// The value as JSON, for manifests and hook contexts.
    public var json: JSONValue {
        switch self {
        case .none: return .null
        case .duration(let duration): return .string(DurationText.format(duration))
        case .string(let text): return .string(text)
        case .bool(let flag): return .bool(flag)
        case .strings(let items): return .array(items.map(JSONValue.string))
        case .ints(let items): return .array(items.map(JSONValue.int))
        case .stringMap(let map): return .object(map.mapValues(JSONValue.string))
        case .hook(let hook): return .string(hook.declared)
        case .triState(let flag): return flag.map(JSONValue.bool) ?? .string("auto")
        case .probe(let probe): return probe.json
        case .screenshot(let spec):
            return spec?.json ?? .bool(false)
        case .version(let version): return .string(version.raw)
        case .tiers(let tiers): return .array(tiers.map { .string($0.rawValue) })
        case .naReasons(let reasons):
            return .object(Dictionary(uniqueKeysWithValues: reasons.map { ($0.key.rawValue, .string($0.value)) }))
        case .int(let number): return .int(number)
        case .dataLocation(let service, let path): return ["service": .string(service), "path": .string(path)]
        case .upgradeSettings(let lines): return ["supported_lines": .int(lines)]
        }
    }
}

/// An executable named by a meta key.
public struct HookReference: Sendable, Hashable, Codable {
    /// The path as written in `ccci.toml` (relative to the pack directory).
    public let declared: String
    /// The absolute path it resolves to.
    public let path: String
}

/// The readiness check of `ready_probe`.
public enum ReadyProbe: Sendable, Hashable {
    /// Poll `path` over the ingress until it answers `status` (and contains `contains`).
    case http(path: String, status: Int, contains: String?, timeout: Duration)
    /// Run an executable until it exits 0 (or the deploy timeout passes).
    case hook(HookReference)

    var json: JSONValue {
        switch self {
        case .http(let path, let status, let contains, let timeout):
            var object: [String: JSONValue] = [
                "path": .string(path), "status": .int(status), "timeout": .string(DurationText.format(timeout)),
            ]
            if let contains { object["contains"] = .string(contains) }
            return .object(object)
        case .hook(let hook):
            return .string(hook.declared)
        }
    }
}

/// Where and when to take the screenshot (the `screenshot` tier).
public struct ScreenshotSpec: Sendable, Hashable {
    /// The page, on the app's domain.
    public var path: String
    /// How long to wait after the page (and `selector` or `text`) is there.
    public var wait: Duration
    /// A CSS selector the page must show before the picture is taken.
    public var selector: String?
    /// Text the page must show before the picture is taken.
    public var text: String?
    /// The browser window, in CSS pixels.
    public var width: Int
    public var height: Int

    public init(
        path: String = "/", wait: Duration = .zero, selector: String? = nil, text: String? = nil, width: Int = 1280,
        height: Int = 800
    ) {
        self.path = path
        self.wait = wait
        self.selector = selector
        self.text = text
        self.width = width
        self.height = height
    }

    /// The allowed window sizes, each side.
    public static let sides = 200...4000

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "path": .string(path), "wait": .string(DurationText.format(wait)),
            "viewport": .string("\(width)x\(height)"),
        ]
        if let selector { object["selector"] = .string(selector) }
        if let text { object["text"] = .string(text) }
        return .object(object)
    }
}

/// One entry of `upgrade_from`: which releases the upgrade tier starts from.
public enum UpgradeBaseChoice: Sendable, Hashable {
    /// The newest release older than the head.
    case previous
    /// Every release of the newest `supported_lines` minor lines older than the head.
    case allSupported
    /// That release.
    case version(RecipeVersion)

    /// Parses one entry; `nil` when it is none of the three.
    public init?(_ text: String) {
        switch text {
        case "previous": self = .previous
        case "all-supported": self = .allSupported
        default:
            guard let version = RecipeVersion(text) else { return nil }
            self = .version(version)
        }
    }

    /// The entry as written.
    public var text: String {
        switch self {
        case .previous: "previous"
        case .allSupported: "all-supported"
        case .version(let version): version.raw
        }
    }
}
