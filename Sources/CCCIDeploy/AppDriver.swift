import CCCICore
import CCCISwarm
import Foundation

/// What cc-ci does to an app (SPEC F-DRIVER). The `native` driver talks to the swarm directly and
/// behaves like abra wherever a recipe could tell the difference; an `abra` driver (production
/// nodes) would do the same through the abra CLI.
public protocol AppDriver: Sendable {
    /// `native` or `abra`, recorded in every result.
    var name: String { get }

    /// Creates the app: its env file (from the recipe's `.env.sample` plus overrides) and its
    /// secrets. Nothing is deployed yet.
    func newApp(_ spec: AppSpec) async throws -> App

    /// Deploys the app from its recipe checkout as it is now (fresh, or in place over a running
    /// deployment). Returns without waiting for convergence.
    func deploy(_ app: App, mode: DeployMode) async throws -> DeployRecord

    /// Waits until every service is settled (SPEC F-CONVERGE), bounded by `timeout`.
    func waitConverged(
        _ app: App, timeout: Duration, progress: (@Sendable (ConvergenceState) -> Void)?
    ) async throws -> ConvergenceState

    /// Runs a command inside a running container of `service`.
    func exec(_ app: App, service: String, command: [String]) async throws -> DockerEngine.ExecResult

    /// Backs the app up (backupbot labels): returns the snapshot.
    func backup(_ app: App) async throws -> BackupSnapshot

    /// Restores `snapshot` into the app's volumes.
    func restore(_ app: App, snapshot: BackupSnapshot) async throws

    /// Removes the stack but keeps volumes, secrets and the env file.
    func undeploy(_ app: App) async throws

    /// Removes everything of the app — stack, volumes, secrets, configs, networks, env file,
    /// backups — and returns what is left (empty when teardown is clean).
    func remove(_ app: App) async throws -> Residue

    /// What exists of the app now.
    func residue(_ app: App) async throws -> Residue
}

/// What an app is made of before it exists.
public struct AppSpec: Sendable, Hashable {
    public var recipe: String
    public var domain: AppDomain
    /// The recipe working tree this app deploys from (the run's own clone).
    public var checkout: URL
    /// Compose files from the test pack added to every deploy (`compose.ccci.yml`).
    public var packComposeFiles: [URL]
    /// Env keys set on top of `.env.sample` (meta `extra_env`).
    public var extraEnv: [String: String]
    /// Where generated files (overlays) for this app are written.
    public var workDirectory: URL
    /// Recorded on every object created (`ccci.run`).
    public var runID: String

    public init(
        recipe: String, domain: AppDomain, checkout: URL, packComposeFiles: [URL] = [],
        extraEnv: [String: String] = [:],
        workDirectory: URL, runID: String
    ) {
        self.recipe = recipe
        self.domain = domain
        self.checkout = checkout
        self.packComposeFiles = packComposeFiles
        self.extraEnv = extraEnv
        self.workDirectory = workDirectory
        self.runID = runID
    }
}

/// A created app. Secret values are held in memory only (for dependents' credentials) and never
/// appear in its description.
public struct App: Sendable, CustomStringConvertible {
    public let spec: AppSpec
    public let stack: String
    public let envFile: URL
    /// Generated secret values by secret name.
    public let secretValues: [String: String]

    public init(spec: AppSpec, stack: String, envFile: URL, secretValues: [String: String]) {
        self.spec = spec
        self.stack = stack
        self.envFile = envFile
        self.secretValues = secretValues
    }

    public var domain: AppDomain { spec.domain }
    public var recipe: String { spec.recipe }

    public var description: String {
        "app \(spec.domain) (recipe \(spec.recipe), stack \(stack), secrets \(secretValues.keys.sorted()))"
    }
}

/// How a deploy picks what to run.
public enum DeployMode: Sendable, Hashable {
    /// A release: the checkout is at the release tag; stamps `coop-cloud.<stack>.version`.
    case pinned(RecipeVersion)
    /// The current checkout (the code under test); stamps `coop-cloud.<stack>.chaos-version`
    /// with the short head commit, `+U` when the tree has uncommitted changes.
    case chaos
}

/// What a deploy did.
public struct DeployRecord: Sendable, Hashable, Codable {
    /// The label stamped: `coop-cloud.<stack>.version` or `…chaos-version`.
    public let label: String
    public let value: String
    /// Every compose file deployed, in order.
    public let composeFiles: [String]
    /// Compose files cc-ci generated (the lab's dnsrr overlay, the label overlay).
    public let generatedFiles: [String]
    /// Env keys added from a newer `.env.sample` during an in-place redeploy.
    public let addedEnvKeys: [String]
    /// Secrets created for this deploy.
    public let createdSecrets: [String]
}

/// A restic snapshot of an app.
public struct BackupSnapshot: Sendable, Hashable, Codable {
    public let id: String
    /// Host paths the snapshot holds.
    public let paths: [String]
    public let files: Int
    public let bytes: Int64
}

/// A driver operation that failed.
public enum DriverError: Error, Sendable, CustomStringConvertible {
    case missingImages([String], policy: String)
    case pullFailed(image: String, reason: String)
    case noRunningContainer(service: String, stack: String)
    case hookFailed(service: String, hook: String, exitCode: Int, output: String)
    case notBackupCapable(recipe: String)
    /// A snapshot with no file of the app's (`onlyMarker`: nothing but cc-ci's own data marker).
    case emptySnapshot(domain: String, paths: [String], onlyMarker: Bool = false)
    case resticFailed(String)
    case missingVolume(String)
    case envFileExists(String)
    case unsafeBackupPath(volume: String, path: String)

    public var description: String {
        switch self {
        case .missingImages(let images, let policy):
            return "image\(images.count == 1 ? "" : "s") not present on this node: \(images.joined(separator: ", ")) "
                + (policy == "local"
                    ? "(the lab cannot pull — build it with `scripts/lab up` or retag a local image)" : "")
        case .pullFailed(let image, let reason):
            return "pulling \(image) failed: \(reason)"
        case .noRunningContainer(let service, let stack):
            return "no running container of service \(service) in stack \(stack)"
        case .hookFailed(let service, let hook, let code, let output):
            return
                "hook `\(hook)` in service \(service) exited \(code)\(output.isEmpty ? "" : ": \(output.suffix(800))")"
        case .notBackupCapable(let recipe):
            return "recipe \(recipe) has no service labelled backupbot.backup=true"
        case .emptySnapshot(let domain, let paths, let onlyMarker):
            return "the backup of \(domain) "
                + (onlyMarker ? "captured nothing but cc-ci's own data marker" : "is empty")
                + " (no file of the app under \(paths.joined(separator: ", "))) — an empty snapshot is a failure; "
                + "check the backupbot paths and the backup pre-hook"
        case .resticFailed(let message):
            return "restic: \(message)"
        case .missingVolume(let name):
            return "volume \(name) does not exist"
        case .unsafeBackupPath(let volume, let path):
            return
                "backup path '\(path)'\(volume.isEmpty ? "" : " of volume \(volume)") leaves the volume (`..`, an absolute "
                + "path or a symlink) — backupbot paths must name a directory inside the volume"
        case .envFileExists(let path):
            return
                "an app env file already exists at \(path) — another app has this domain (remove it, or let the janitor reap it)"
        }
    }
}
