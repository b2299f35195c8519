import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISystem
import Foundation

/// What every step of a run works with: what was asked, the node, the run's identity and where
/// its files go, the driver it reaches the node through, and its outputs (log, terminal,
/// redaction). Steps are small values built from it; each returns what it did.
struct RunContext: Sendable {
    let options: RunOptions
    let config: NodeConfig
    let runID: String
    /// Logs, results, state files — kept after the run.
    let runDirectory: URL
    /// The run's own recipe clones — removed when the run ends.
    let workspace: URL
    let driver: any AppDriver
    let git: any GitClient
    let runner: ProcessRunner
    let journal: RunJournal
    let reporter: Reporter
    /// Every secret value the run generates or is given, for redaction everywhere it writes.
    let secrets: SecretRegistry

    /// Where generated compose overlays and deploy logs go (kept with the run).
    var deployDirectory: URL { runDirectory.appendingPathComponent("deploy") }

    /// A line in the run log and on the terminal.
    func say(_ line: String) async {
        journal.line(line)
        await reporter.print([line])
    }
}

/// A tier's verdict as it concludes: the run's registration hears it at once, so a run killed
/// later still has it recorded (the janitor writes it into the interrupted run's results).
typealias VerdictSink = @Sendable (Tier, TierResult) async -> Void
