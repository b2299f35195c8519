import ArgumentParser
import CCCICore
import CCCIDeploy
import CCCIServer
import CCCIStore
import CCCISystem
import Foundation

/// `ccci gc`: remove old run directories by the node's retention rule.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract:
            "Remove run directories the retention rule lets go ([retention] keep_runs, keep_days); prune the node's backups.",
        discussion: """
            A run directory is removed when it is neither among the newest keep_runs runs of its recipe \
            (default 20) nor younger than keep_days days (default 30); never a live run's, never a queued or \
            running job's. Run history in the store is kept. Then the node's restic repository is pruned of \
            the data of forgotten snapshots (torn-down apps), under restic's exclusive lock. `ccci serve` does \
            both every six hours.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only say what would be removed.")
    var dryRun = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let config = try global.loadConfig()
        let store = try? await Store.openForReading(config)
        let active = await Retention.activeRuns(in: store)
        let report = Retention(config: config).collect(dryRun: dryRun, active: active)
        // The snapshots of removed apps were forgotten at their teardown; their data goes here,
        // under restic's exclusive lock, out of every run's way.
        var pruned: String?
        if !dryRun {
            do {
                pruned = try await Self.pruneBackups(config)
            } catch {
                pruned = "prune failed: \(error)"
            }
        }
        if json {
            let output = Output(runs: report, backups: pruned)
            print(String(decoding: try JSONCoding.prettyEncoder.encode(output), as: UTF8.self))
        } else {
            for run in report.removed {
                print("\(dryRun ? "would remove" : "removed") \(run.runID) (\(run.recipe), \(Self.size(run.bytes)))")
            }
            for runID in report.protected { print("kept \(runID): its run or job is still active") }
            for failure in report.failures { print("could not remove \(failure)") }
            print(
                "gc: \(report.removed.count) run director\(report.removed.count == 1 ? "y" : "ies") "
                    + "\(dryRun ? "to remove" : "removed") (\(Self.size(report.bytes))), \(report.kept) kept "
                    + "(keep_runs \(config.retention.keepRuns), keep_days \(config.retention.keepDays))")
            if let pruned { print("backups: \(pruned)") }
        }
        if !report.failures.isEmpty { throw ExitCode.failure }
    }

    /// The `--json` report.
    struct Output: Encodable {
        let runs: Retention.Report
        /// What the prune of the node's backups said (`nil` on a dry run).
        let backups: String?
    }

    /// Prunes the node's restic repository; what `ccci serve`'s housekeeping does too.
    static func pruneBackups(_ config: NodeConfig) async throws -> String {
        let restic = ResticStore(directory: config.resticDirectory, runner: ProcessRunner(), secrets: SecretRegistry())
        return try await restic.prune().description
    }

    static func size(_ bytes: Int64) -> String {
        ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file)
    }
}
