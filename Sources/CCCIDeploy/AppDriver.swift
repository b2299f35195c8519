import CCCICore
import CCCISwarm
import Foundation

/// What cc-ci does to an app (SPEC F-DRIVER) — the runner's only way to the node. The `native`
/// driver talks to the swarm directly and behaves like abra wherever a recipe could tell the
/// difference; an `abra` driver (production nodes) would do the same through the abra CLI.
///
/// The contract names no engine type and no host path: what it reports are the node facts of
/// `CCCICore/Node` and its own values. ``DriverFactory`` makes the driver a node's config names;
/// a new driver passes the driver contract suite (`Integration.Driver`) before a run uses it.
public protocol AppDriver: Sendable {
    /// `native` or `abra`, recorded in every result.
    var name: String { get }
    /// Compose files the driver generates for every deploy on this node (for the manifest).
    var generatedOverlays: [String] { get }

    // MARK: Apps

    /// Creates the app: its env file (from the recipe's `.env.sample` plus overrides) and its
    /// secrets. Nothing is deployed yet.
    func newApp(_ spec: AppSpec) async throws -> App
    /// Whether an app exists at `domain` (its env file).
    func hasApp(_ domain: AppDomain) -> Bool
    /// The app at `spec.domain` as an earlier process created it (a warm app), to deploy again;
    /// `nil` when there is none. Its generated secrets' values are not known here (they stay in
    /// the swarm), so `secretValues` is empty.
    func existingApp(_ spec: AppSpec) -> App?
    /// Deploys the app from its recipe checkout as it is now (fresh, or in place over a running
    /// deployment), `envOverrides` written into its env first. With `prune`, the app's services
    /// its compose no longer defines are removed (`docker stack deploy --prune`): the app is put
    /// back to exactly a version, not merely updated to it. Returns without waiting.
    func deploy(
        _ app: App, mode: DeployMode, envOverrides: [String: String], prune: Bool
    ) async throws -> DeployRecord
    /// Gives the app's secrets `values` (by secret name), before a deploy; later deploys that
    /// create those secrets use them too, and a secret this checkout does not declare waits for
    /// one that does. With `replace`, a secret the app already has is replaced (an app not
    /// deployed yet); without, it is kept as it is (a running app uses it, as an operator's
    /// upgrade keeps an inserted secret) and the new value is dropped. The returned app's
    /// `secretValues` hold what was applied.
    func setSecrets(_ app: App, _ values: [String: String], replace: Bool) async throws -> App
    /// The app as its checkout and env describe it now: the compose project and backup plan.
    func model(of app: App) throws -> AppModel

    // MARK: Watching it run

    /// Waits until every service is settled (SPEC F-CONVERGE), bounded by `timeout`.
    func waitConverged(_ app: App, timeout: Duration) async throws -> ConvergenceState
    /// Waits until only the current spec's tasks are up and settled — an update may still be in
    /// swarm's monitor period (``ConvergenceState/serving``) — bounded by `timeout`.
    func waitServing(_ app: App, timeout: Duration) async throws -> ConvergenceState
    /// Records the app's converged state, to hold it for a stability window.
    func stabilityBaseline(_ app: App) async throws -> StabilityBaseline
    /// Waits out the window from the baseline and checks the app stayed as it converged.
    func verifyStable(_ baseline: StabilityBaseline, window: Duration) async throws
    /// Checks that what runs is the code at `commit` (the chaos stamp of every service).
    func verifyRunning(_ app: App, commit: String) async throws
    /// Service states, task errors and last log lines of the app at `domain`, for a report.
    func diagnostics(of domain: AppDomain) async -> [ServiceDiagnostics]
    /// Samples the memory and CPU of every container of the app at `domain` — those there now and
    /// those that come — into `samples`, with each service's image size, until the calling task
    /// is cancelled (F-RESOURCES, docs/design.md). A container that cannot be sampled is left out, never an
    /// error of the run.
    func watchResources(of domain: AppDomain, into samples: ResourceSamples) async

    // MARK: Its data

    /// Runs a command inside a running container of `service`.
    func exec(_ app: App, service: String, command: [String]) async throws -> ExecResult
    /// The content of file `name` in `directory` (relative; `nil`: the root) of the app's volume
    /// `volume` — read beside the app, for images with no shell. `nil`: there is no such file.
    func readVolumeFile(_ app: App, volume: String, directory: String?, name: String) async throws -> String?
    /// Writes file `name` in `directory` of the app's volume `volume` (the directory created).
    func writeVolumeFile(_ app: App, volume: String, directory: String?, name: String, content: String) async throws
    /// How many bytes the app's volume `volume` holds.
    func volumeBytes(_ app: App, volume: String) async throws -> Int64
    /// Backs the app up (backupbot labels): returns the snapshot.
    func backup(_ app: App) async throws -> BackupSnapshot
    /// Restores `snapshot` into the app's volumes.
    func restore(_ app: App, snapshot: BackupSnapshot) async throws

    // MARK: Removing it

    /// Removes the stack but keeps volumes, secrets and the env file.
    func undeploy(_ app: App) async throws
    /// Keeps the app at `domain` for inspection until `until` (`--keep-on-failure`): no run and
    /// no janitor removes it meanwhile; removing the app forgets it.
    func keep(_ domain: AppDomain, until: Date) throws
    /// Until when the app at `domain` is kept (`nil`: it is not; ``Date/distantPast``: it is, and
    /// the time cannot be read — an expired keep).
    func keptUntil(_ domain: AppDomain) -> Date?
    /// Removes everything cc-ci created for the app at `domain` — stack, volumes, secrets,
    /// configs, networks, env file, backups — and returns what is left (empty when clean).
    func remove(domain: AppDomain) async throws -> Residue
    /// What cc-ci created for the app at `domain` that still exists (empty: no such app).
    func owned(domain: AppDomain) async throws -> Residue
    /// Everything of the app at `domain` on the node, what cc-ci did not create included.
    func residue(domain: AppDomain) async throws -> Residue
    /// The run apps of `naming` that exist on the node (the janitor's candidates).
    func runApps(naming: AppNaming) async throws -> [AppDomain]

    /// Lets go of the node (its connections); the driver is not used after.
    func shutdown() async
}

extension AppDriver {
    public func waitServing(_ app: App, timeout: Duration) async throws -> ConvergenceState {
        try await waitConverged(app, timeout: timeout)
    }

    /// Deploys with no env overrides; `prune` as in ``deploy(_:mode:envOverrides:prune:)``.
    public func deploy(_ app: App, mode: DeployMode, prune: Bool = false) async throws -> DeployRecord {
        try await deploy(app, mode: mode, envOverrides: [:], prune: prune)
    }

    /// Deploys over what runs, keeping services the checkout does not define (as an operator's
    /// `abra app deploy` does).
    public func deploy(_ app: App, mode: DeployMode, envOverrides: [String: String]) async throws -> DeployRecord {
        try await deploy(app, mode: mode, envOverrides: envOverrides, prune: false)
    }

    /// Removes everything of `app`.
    public func remove(_ app: App) async throws -> Residue {
        try await remove(domain: app.domain)
    }

    /// What exists of `app`.
    public func residue(_ app: App) async throws -> Residue {
        try await residue(domain: app.domain)
    }
}

/// A converged app's state as a driver recorded it, to hold against after a stability window; only
/// the driver that made it reads ``state``.
public struct StabilityBaseline: Sendable {
    public let app: App
    public let state: any Sendable

    public init(app: App, state: any Sendable) {
        self.app = app
        self.state = state
    }
}

/// An app as its recipe checkout and env describe it.
public struct AppModel: Sendable {
    public let project: ComposeProject
    /// `nil` when no service carries `backupbot.backup=true`.
    public let backupPlan: BackupPlan?
}

/// What a driver reports about one service of an app (before teardown removes it).
public struct ServiceDiagnostics: Sendable, Hashable {
    /// The service name without the stack prefix (`app`).
    public let service: String
    /// Task states, task errors and the last log lines.
    public let report: String
}

/// The running code is not the code under test.
public struct VersionMismatch: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let expected: String
    public let found: String?
    public let service: String
    /// Why the service runs another version, when swarm rolled its update back.
    public var rollback: String?

    public init(key: String, expected: String, found: String?, service: String, rollback: String? = nil) {
        self.key = key
        self.expected = expected
        self.found = found
        self.service = service
        self.rollback = rollback
    }

    public var description: String {
        "\(key) of service \(service) is \(found.map { "'\($0)'" } ?? "missing"), expected '\(expected)' — "
            + "the deployed code is not the code under test" + (rollback.map { ": \($0)" } ?? "")
    }
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
    /// Secret values given instead of generated ones, by secret name (meta `extra_secrets`, a
    /// `pre_deploy` hook's): used by every deploy that creates that secret.
    public var givenSecrets: [String: String] = [:]

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
    /// Each service's image as deployed (SPEC F-PREPULL); `app` is left for the caller to name.
    public var images: [DeployedImage] = []
}

/// A restic snapshot of an app.
public struct BackupSnapshot: Sendable, Hashable, Codable {
    public let id: String
    /// Host paths the snapshot holds.
    public let paths: [String]
    public let files: Int
    public let bytes: Int64
    /// The app it was taken of (`nil`: not known here — restore asks the repository).
    public var domain: String? = nil
    /// Every directory it holds, as restic listed them while backing up (`nil`: restore lists
    /// the snapshot instead).
    public var directories: Set<String>? = nil
    /// The cc-ci data markers (files named ``markerPrefix``…) it holds, by host path, as restic
    /// listed them (`nil`: not known — the driver did not list them).
    public var markers: Set<String>? = nil

    /// How cc-ci's data markers are named in an app's data.
    public static let markerPrefix = ".ccci-marker-"
}

/// A driver operation that failed.
public enum DriverError: Error, Sendable, CustomStringConvertible {
    /// Images the node does not have and may not pull; `hint` says how this node gets them.
    case missingImages([String], hint: String)
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
    /// A secret of that name exists and is not this app's.
    case foreignSecret(String)

    public var description: String {
        switch self {
        case .foreignSecret(let name):
            return "secret \(name) exists and is not this app's — it is left alone"
        case .missingImages(let images, let hint):
            return "image\(images.count == 1 ? "" : "s") not present on this node: \(images.joined(separator: ", "))"
                + (hint.isEmpty ? "" : " (\(hint))")
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
