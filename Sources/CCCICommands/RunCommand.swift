import ArgumentParser
import CCCICore
import CCCIDeploy
import CCCIGit
import CCCILab
import CCCIRunner
import CCCIServer
import CCCIStore
import CCCISystem
import CCCIWarm
import CSystemShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `ccci run`: the whole lifecycle of one recipe on this node.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract:
            "Test a recipe: lint, install, upgrade, backup, restore, functional tests, screenshot — then tear down.",
        discussion: """
            <recipe> is a path or git URL of a recipe repository (its HEAD, or --ref, is the code under \
            test) or a name from the node's catalogue (the lab's fixtures: web, appdb, blank, broken, oneshot, \
            provider, consumer). Exit status: 0 every requested tier passed, 1 a tier failed or teardown \
            left residue, 2 usage or configuration error, 142 the run hit its hard deadline, 143 SIGTERM, \
            130 SIGINT, 129 SIGHUP — a stopped run tears down before it exits.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A recipe path, git URL or catalogue name.")
    var recipe: String

    @Option(help: "The commit under test (default: the repository's HEAD).")
    var ref: String?

    @Option(help: "The pull request number the ref belongs to.")
    var pr: Int = 0

    @Option(
        help:
            "Comma-separated stages (install,upgrade,backup,restore,custom,lint,screenshot; with --quick: lint,upgrade,custom)."
    )
    var stages: String?

    @Flag(
        help: """
            The quick lane: upgrade the recipe's warm canonical in place to the code under test and run its \
            tests, then return the canonical to its version and data (needs a canonical: a sweep seeds it).
            """)
    var quick = false

    @Flag(help: "Print only the results document (JSON).")
    var json = false

    @Flag(help: "When a tier fails, leave the apps up for inspection (and print how to remove them).")
    var keepOnFailure = false

    @Option(help: "How long a deploy may take to converge (overrides the recipe's deploy_timeout), e.g. 5m.")
    var deployTimeout: String?

    @Option(help: "The run's hard deadline (default: the node's run_deadline, 60m).")
    var deadline: String?

    @Flag(help: "Run the upgrade path after the head path instead of alongside it.")
    var serial = false

    @Option(help: .hidden)
    var runID: String?

    @Option(
        name: .customLong("job-id"),
        help: """
            Take job J from the shared queue, keep this node's lease while the run runs, and record its end and \
            replies there (a CI engine's step: SPEC F-ENGINE). Needs the store.
            """)
    var jobID: Int64?

    @Option(help: "The store to record the run in, instead of the node's `store` (e.g. postgres://ccci@db/ccci).")
    var store: String?

    func validate() throws {
        if let stages, case .failure(let error) = RunOptions.parseStages(stages) {
            throw ValidationError("--stages: \(error)")
        }
        if quick, let stages, case .success(let tiers) = RunOptions.parseStages(stages),
            let other = tiers.first(where: { !RunOptions.quickStages.contains($0) })
        {
            throw ValidationError(
                "--stages: --quick proves \(RunOptions.quickStages.map(\.rawValue).joined(separator: ", ")) on the warm "
                    + "canonical; \(other.rawValue) needs a cold run (drop --quick)")
        }
        if quick, keepOnFailure {
            throw ValidationError("--keep-on-failure: a quick run always gives the canonical back")
        }
        do {
            if let deployTimeout { _ = try DurationText.check(deployTimeout, allowZero: false) }
        } catch {
            throw ValidationError("--deploy-timeout: \(error)")
        }
        do {
            if let deadline { _ = try DurationText.check(deadline, allowZero: false) }
        } catch {
            throw ValidationError("--deadline: \(error)")
        }
        if pr < 0 { throw ValidationError("--pr must be a pull request number") }
        if let runID, !RunID.isValid(runID) {
            throw ValidationError("--run-id: '\(runID)' is not a run id (letters, digits, '.', '_', '-'; at most 128)")
        }
    }

    func run() async throws {
        // Lifetime guards first, before any lock or deploy (SPEC F-LIFETIME).
        do {
            try LifetimeGuards.requireArmed()
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        var config = try global.loadConfig()
        if let store {
            do {
                try config.useStore(store, from: "--store")
            } catch {
                printError("error: \(error)")
                throw ExitCode(2)
            }
        }
        // The caller may have made the directory (for its own log of this process); a run log
        // there means another run had this id.
        if let runID,
            FileManager.default.fileExists(atPath: config.runsDirectory.appendingPathComponent("\(runID)/run.log").path)
        {
            throw CommandFailure("--run-id \(runID): a run with that id already exists", exitCode: 2)
        }
        let runID = self.runID ?? RunID.make(recipe: GitCredentials.split(recipe).url)
        let secrets = SecretRegistry()
        let journal: RunJournal
        do {
            journal = try RunJournal(
                directory: config.runsDirectory.appendingPathComponent(runID), redactor: secrets)
        } catch {
            throw CommandFailure(
                "cannot create the run directory under \(config.runsDirectory.path): \(error)", exitCode: 2)
        }
        let logger = global.makeLogger(journal: journal)
        let defaultStages = quick ? RunOptions.quickStages : Tier.defaultStages
        var options = RunOptions(
            recipe: recipe, ref: ref, pr: pr,
            stages: stages.flatMap { try? RunOptions.parseStages($0).get() } ?? defaultStages,
            keepOnFailure: keepOnFailure, deployTimeout: deployTimeout.flatMap(DurationText.parse), serial: serial,
            json: json, runID: runID)
        options.quick = quick
        let reporter = Reporter(enabled: !json, redactor: secrets)
        let lifetime = await RunLifetime(deadline: deadline.flatMap(DurationText.parse) ?? config.runDeadline) {
            signal in
            printError("ccci: signal \(signal) received during teardown — ignored, teardown continues")
        }
        let driver: any AppDriver
        do {
            driver = try await DriverFactory.make(
                config, logger: logger, secrets: secrets, ingress: LabIngress.forNode(config))
        } catch {
            journal.discardIfEmpty()
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let store: (any NodeStore)?
        do {
            store = try await Store.open(config)
        } catch {
            printError(
                "warning: the results store \(config.storeLocation) cannot be opened (\(error)); the run is not recorded there"
            )
            store = nil
        }
        var engineJob: EngineJob?
        if let jobID {
            do {
                guard let store else {
                    throw CommandFailure(
                        "--job-id \(jobID): the store \(config.storeLocation) cannot be opened; the job stays queued",
                        exitCode: 2)
                }
                engineJob = try await EngineJob.take(
                    jobID, store: store, node: config.node, runID: runID, recipe: recipe, pr: pr, ref: ref,
                    stages: stages, quick: quick, links: Links(serving: config))
            } catch {
                await driver.shutdown()
                journal.discardIfEmpty()
                printError("error: \(error)")
                throw ExitCode(2)
            }
        }
        let lease = engineJob?.keepLease(every: config.serve.nodeLease / 4)
        var onVerdict: (@Sendable (RunResults) async -> Void)?
        if let engineJob {
            onVerdict = { results in
                do {
                    try await engineJob.verdict(results)
                } catch {
                    printError(
                        "warning: job \(engineJob.job.number)'s verdict could not be recorded in the store: \(error)")
                }
            }
        }
        let coordinator = RunCoordinator(
            options: options, config: config, driver: driver, reporter: reporter, store: store, lifetime: lifetime,
            secrets: secrets, journal: journal, lane: quick ? QuickRunLane(store: store) : ColdLane(),
            epilogue: Promoter(store: store), onVerdict: onVerdict)
        let liveLog = LiveLogKeeper.start(journal: journal, runID: runID, store: store)
        let report = await LiveStatus.run(reporter: reporter) { await coordinator.run() }
        liveLog?.cancel()
        // A run that ended in setup records no results: its log, which says why, is still kept
        // where every node's pages read it (a run on a shared store).
        if report.results == nil, let store, store.keepsRunFiles,
            let log = try? Data(contentsOf: journal.runLog), !log.isEmpty
        {
            try? await store.keep(files: ["run.log": log], of: runID)
        }
        await driver.shutdown()
        if let setupError = report.setupError {
            printError("error: \(secrets.redact(setupError))")
        }
        lease?.cancel()
        if let engineJob {
            do {
                try await engineJob.end(
                    exitCode: report.outcome.exitCode, results: report.results,
                    lastError: report.setupError.map { secrets.redact($0) })
            } catch {
                printError("warning: job \(engineJob.job.number)'s end could not be recorded in the store: \(error)")
            }
        }
        if json, let results = report.results {
            print(String(decoding: try results.encoded(), as: UTF8.self))
        }
        throw ExitCode(report.outcome.exitCode)
    }
}

/// Redraws the terminal's live status line while `body` runs.
enum LiveStatus {
    static func run<T: Sendable>(reporter: Reporter, _ body: @escaping @Sendable () async -> T) async -> T {
        await withTaskGroup(of: T?.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(120))
                    await reporter.tick()
                }
                return nil
            }
            group.addTask { await body() }
            var result: T?
            while let next = await group.next() {
                if let value = next {
                    result = value
                    group.cancelAll()
                }
            }
            return result!
        }
    }
}
