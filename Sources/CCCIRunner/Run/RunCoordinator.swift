import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISwarm
import CCCISystem
import Foundation
import Logging

/// One run of one recipe on this node (SPEC F-RUN): at most two apps, each deployed fresh exactly
/// once — the *head app* (install, backup, restore, custom) and the *upgrade app* (the previous
/// release, upgraded in place to the head) — on two independent paths that run concurrently, then
/// the teardown funnel, then the results.
///
/// The order of a run: read the code under test and its customization (a problem here is a usage
/// error: nothing is deployed) → janitor → take the app-domain locks → dependencies → the two
/// paths → collect diagnostics of failures → tear everything down and verify no residue → write
/// results, JUnit and the store. A stop (signal, deadline) cancels the paths; teardown still runs.
public final class RunCoordinator: Sendable {
    public let options: RunOptions
    public let config: NodeConfig
    public let engine: DockerEngine
    public let logger: Logger
    public let reporter: Reporter
    public let store: (any ResultStore)?
    public let lifetime: RunLifetime?
    let runner: ProcessRunner
    let git: Git
    let driver: NativeDriver
    /// Every secret value the run generates, for redaction everywhere it writes.
    public let secrets: SecretRegistry
    let clock = ContinuousClock()
    let startInstant: ContinuousClock.Instant
    let startDate = Date()
    public let runID: String

    public init(
        options: RunOptions, config: NodeConfig, engine: DockerEngine, logger: Logger, reporter: Reporter,
        store: (any ResultStore)?, lifetime: RunLifetime?, runner: ProcessRunner = ProcessRunner(),
        secrets: SecretRegistry = SecretRegistry()
    ) {
        self.secrets = secrets
        self.options = options
        self.config = config
        self.engine = engine
        self.logger = logger
        self.reporter = reporter
        self.store = store
        self.lifetime = lifetime
        self.runner = runner
        self.git = Git(runner: runner)
        self.driver = NativeDriver(config: config, engine: engine, runner: runner, logger: logger, secrets: secrets)
        startInstant = clock.now
        // `ccci serve` names the run up front (`--run-id`) so that it can link to it while it runs.
        runID = options.runID ?? RunID.make(recipe: options.recipe, at: startDate)
    }

    /// The run's directory (logs, results).
    public var runDirectory: URL { config.runsDirectory.appendingPathComponent(runID) }
    /// The run's workspace (its own recipe clones), removed when the run ends.
    public var workspace: URL { config.workspacesDirectory.appendingPathComponent(runID) }
    /// The compose overlays the run generated and the `docker stack deploy` logs (kept).
    public var deployDirectory: URL { runDirectory.appendingPathComponent("deploy") }

    /// How a run ended.
    public struct Report: Sendable {
        public let outcome: RunOutcome
        /// `nil` when the run never got past its setup (usage or configuration errors).
        public let results: RunResults?
        public let runDirectory: URL
        /// Setup problems, printed by the command.
        public let setupError: String?
    }

    // MARK: - The run

    /// Runs everything and returns how it ended. Never throws: every failure is a verdict.
    public func run() async -> Report {
        let journal: RunJournal
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
            journal = try RunJournal(directory: runDirectory, redactor: secrets)
        } catch {
            return Report(
                outcome: .error, results: nil, runDirectory: runDirectory,
                setupError: "cannot create \(runDirectory.path): \(error)")
        }
        // What the janitor needs should this process be killed (SIGKILL leaves no teardown).
        let registration = try? RunRegistration(
            config: config,
            record: .init(
                runID: runID, pid: getpid(), startedAt: startDate, runDirectory: runDirectory.path,
                workspace: workspace.path, recipe: GitCredentials.masked(options.recipe), ref: options.ref,
                pr: options.pr > 0 ? options.pr : nil, stages: options.stages))
        if let registration {
            ChildProcessGroups.shared.observe { groups in registration.children(groups) }
        }
        defer { registration?.finish() }
        let state = RunState(registration: registration)
        let prepared = Locked<PreparedRun?>(nil)
        let setupError = Locked<String?>(nil)
        // Everything — the preparation too — races against a stop request (a signal, the deadline).
        let stop = await withTaskGroup(of: RunLifetime.StopReason?.self) { group in
            group.addTask {
                do {
                    let ready = try await self.prepare(journal: journal)
                    prepared.withLock { $0 = ready }
                    registration?.update { record in
                        record.recipe = ready.recipe
                        record.headCommit = ready.head.commit
                        record.headVersion = ready.head.version?.raw
                        record.baseVersion = ready.upgradeBase?.version.raw
                        record.appDomain = ready.headDomain.name
                        record.upgradeAppDomain =
                            self.options.stages.contains(.upgrade) ? ready.upgradeDomain.name : nil
                        record.ladderNA = ready.meta.naTiers
                    }
                    await self.work(ready, state: state)
                } catch {
                    setupError.withLock { $0 = (error as? RunSetupError)?.description ?? String(describing: error) }
                }
                return nil
            }
            if let lifetime {
                group.addTask {
                    guard let reason = try? await lifetime.waitForStop(startedAt: self.startInstant) else { return nil }
                    // The children first (docker, git, tests): they end now, not when the work
                    // notices the cancellation.
                    ChildProcessGroups.shared.terminateAll()
                    return reason
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            for await _ in group {}
            return first
        }
        lifetime?.beginTeardown()
        guard let ready = prepared.value else {
            // Nothing was deployed: a usage or configuration error, or a stop during setup.
            let message = stop.map { "stopped during setup (\($0.description))" } ?? setupError.value ?? "setup failed"
            await journal.line("setup failed: \(message)")
            await journal.close()
            cleanWorkspace()
            return Report(
                outcome: stop?.outcome ?? .error, results: nil, runDirectory: runDirectory, setupError: message)
        }
        if let stop {
            await journal.line("== stopping: \(stop.description) — tearing down ==")
            await reporter.print(["", "stopping: \(stop.description) — tearing down"])
        }
        let results = await finish(ready, state: state, stop: stop)
        await journal.close()
        await scrubSecrets(ready, state: state)
        return Report(
            outcome: RunOutcome(rawValue: results.outcome) ?? .fail, results: results, runDirectory: runDirectory,
            setupError: nil)
    }

    /// The janitor, a run slot, the app locks, the dependencies, then both paths.
    func work(_ prepared: PreparedRun, state: RunState) async {
        await janitorAtStart(prepared)
        guard await takeSlot(prepared, state: state) else { return }
        guard await lockAll(prepared, state: state) else { return }
        await deployDependencies(prepared, state: state)
        if options.serial {
            await headPath(prepared, state: state)
            await upgradePath(prepared, state: state)
        } else {
            await withTaskGroup(of: Void.self) { paths in
                paths.addTask { await self.headPath(prepared, state: state) }
                paths.addTask { await self.upgradePath(prepared, state: state) }
            }
        }
    }
}
