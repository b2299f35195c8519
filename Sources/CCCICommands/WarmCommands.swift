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
import Foundation
import Logging

/// `ccci sweep`: the weekly sweep of the enrolled recipes (SPEC F-SWEEP).
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Test each enrolled recipe's newest release cold and promote it to its warm canonical.",
        discussion: """
            Enrolled: the recipes of the catalogue whose pack on this node sets warm_canonical = true. \
            Serially, for each: fetch its releases; decide on versions (a newer release than the canonical → \
            a cold `ccci run` on that tag, then its promotion; the same version → SKIP(no-new-version); no \
            release → SKIP(never-released); no canonical → a run to seed it). Each recipe's label says what \
            exists afterwards: PROMOTED <version>, GREEN-BUT-PROMOTE-FAILED (canonical=…, expected …), FAIL \
            (canonical unchanged), SKIP(reason), SYNC-FAILED. The report is kept in the store. One sweep at a \
            time. Exit status: 0 nothing failed, 1 a recipe failed or another sweep is running, 2 bad usage.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only decide and say what would run; run and promote nothing.")
    var dryRun = false

    @Option(name: .customLong("recipe"), help: "Sweep only this enrolled recipe (repeatable).")
    var recipes: [String] = []

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let config = try global.loadConfig()
        let store: any NodeStore
        do {
            store = try await Store.open(config)
        } catch {
            throw CommandFailure("\(error)", exitCode: 2)
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let quiet = json
        let sweep = Sweep(
            config: config, store: store, git: Git(runner: ProcessRunner()), executable: executable,
            forge: try Self.forge(config, logger: global.makeLogger())
        ) { line in if !quiet { print(line) } }
        // SIGTERM (systemd stopping the unit) or SIGINT: the current run is told to stop and given
        // its teardown (or promotion) in full; nothing more starts; the report is kept; exit 143/130.
        let lifetime = await RunLifetime(deadline: .seconds(30 * 24 * 3600)) { signal in
            printError("ccci sweep: signal \(signal) while stopping — ignored; the current run finishes its teardown")
        }
        let only = recipes.isEmpty ? nil : recipes
        let dryRun = self.dryRun
        let (outcome, stop) = await withTaskGroup(of: (Result<SweepReport, any Error>?, RunLifetime.StopReason?).self) {
            group in
            group.addTask {
                do {
                    return (.success(try await sweep.run(recipes: only, dryRun: dryRun)), nil)
                } catch {
                    return (.failure(error), nil)
                }
            }
            group.addTask { (nil, try? await lifetime.waitForStop(startedAt: .now)) }
            var outcome: Result<SweepReport, any Error>?
            var stop: RunLifetime.StopReason?
            while let (result, reason) = await group.next() {
                if let reason, outcome == nil {
                    stop = reason
                    lifetime.beginTeardown()
                    printError("ccci sweep: \(reason.description) — stopping after the current run")
                    group.cancelAll()
                }
                if let result {
                    outcome = result
                    group.cancelAll()
                }
            }
            return (outcome, stop)
        }
        let report: SweepReport
        switch outcome {
        case .success(let done)?:
            report = done
        case .failure(let busy as SweepBusy)?:
            throw CommandFailure(busy.description, exitCode: 1)
        case .failure(let error as WarmError)?:
            throw CommandFailure(error.description, exitCode: 2)
        case .failure(let error)?:
            throw error
        case nil:
            throw ExitCode(stop?.outcome.exitCode ?? 1)
        }
        if json {
            print(String(decoding: try report.encoded(), as: UTF8.self))
        } else {
            print("")
            for line in report.table { print(line) }
        }
        if let stop { throw ExitCode(stop.outcome.exitCode) }
        if report.entries.contains(where: \.label.isProblem) { throw ExitCode.failure }
    }
}

extension SweepCommand {
    /// The node's forge for the mirrors' pull requests, when a mirror names its repository there.
    static func forge(_ config: NodeConfig, logger: Logger) throws -> (any Forge)? {
        guard config.mirrors.values.contains(where: { $0.repository != nil }) else { return nil }
        guard let url = config.serve.forgeURL, let tokenFile = config.serve.forgeTokenFile else { return nil }
        let token: SecretValue
        do {
            token = try SecretValue.read(file: tokenFile, key: "forge_token_file")
        } catch {
            throw CommandFailure(error.description, exitCode: 2)
        }
        return GiteaForge(kind: config.serve.forge, baseURL: url, token: token, webhookSecret: nil, logger: logger)
    }
}

/// `ccci canonical list|show|drop`: the warm canonicals (SPEC F-CANON).
struct CanonicalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canonical",
        abstract: "List, show or drop the warm canonicals (known-good deployments kept per enrolled recipe).",
        subcommands: [List.self, Show.self, Drop.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every canonical: version, commit, status, volumes.")

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let config = try global.loadConfig()
            let records = try await CanonicalCommand.store(config).canonicals()
            if json { return print(String(decoding: try JSONCoding.prettyEncoder.encode(records), as: UTF8.self)) }
            guard !records.isEmpty else {
                return print("no canonicals on this node (a sweep or a green release run seeds them)")
            }
            for record in records { print(CanonicalCommand.line(record)) }
            let total = records.map(\.volumeBytes).reduce(0, +)
            print(
                "warm volumes: \(WarmConfig.format(total)) of a \(WarmConfig.format(config.warm.volumeBudgetBytes)) budget"
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One recipe's canonical, as JSON.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The recipe.")
        var recipe: String

        func run() async throws {
            let config = try global.loadConfig()
            guard let record = try await CanonicalCommand.store(config).canonical(recipe) else {
                throw CommandFailure("\(recipe) has no canonical on this node (`ccci canonical list` shows them)")
            }
            print(String(decoding: try JSONCoding.prettyEncoder.encode(record), as: UTF8.self))
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a recipe's warm app (stack, volumes, secrets, backups) and its canonical record.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The recipe.")
        var recipe: String

        func run() async throws {
            let config = try global.loadConfig()
            let store = try await CanonicalCommand.store(config)
            let domain = try config.naming().warmAppDomain(recipe: recipe)
            let record = try await store.canonical(recipe)
            let logger = global.makeLogger()
            try FileManager.default.createDirectory(at: config.lockDirectory, withIntermediateDirectories: true)
            // The warm app's lock: a promotion or a quick run on it finishes first.
            guard let lock = try FileLock.tryAcquire(AppLocks.path(for: domain, in: config.lockDirectory)) else {
                throw CommandFailure("\(domain) is in use (a promotion or quick run holds its lock) — try again later")
            }
            defer { lock.release() }
            let left = try await DriverFactory.with(config, logger: logger, ingress: LabIngress.forNode(config)) {
                driver in try await driver.remove(domain: domain)
            }
            try? FileManager.default.removeItem(
                at: config.warmDirectory.appendingPathComponent(AppNaming.dnsLabel(recipe)))
            let dropped = try await store.dropCanonical(recipe)
            print(
                "\(recipe): "
                    + (dropped ? "canonical \(record?.version ?? "?") dropped" : "had no canonical record")
                    + (left.isEmpty ? ", \(domain) removed, no residue" : ", \(domain) left \(left.summary)"))
            if !left.isEmpty { throw ExitCode.failure }
        }
    }

    static func store(_ config: NodeConfig) async throws -> any NodeStore {
        do {
            return try await Store.open(config)
        } catch {
            throw CommandFailure("\(error)", exitCode: 2)
        }
    }

    static func line(_ record: CanonicalRecord) -> String {
        "\(record.recipe)  \(record.version)  \(record.commit.prefix(12))  \(record.status)  \(record.domain)  "
            + "\(WarmConfig.format(record.volumeBytes))  promoted \(ISO8601DateFormatter().string(from: record.promotedAt))"
    }
}
