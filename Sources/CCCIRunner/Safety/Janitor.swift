import CCCICore
import CCCIDeploy
import CCCIStore
import CCCISystem
import Foundation

/// Reaps the apps of dead runs (SPEC F-JANITOR), with the kernel's `flock` as the only liveness
/// oracle.
///
/// Candidates are run apps (the run-app pattern; warm and canonical apps never match) found as
/// env files and as swarm stacks. For each, the app lock is probed without waiting:
/// - acquired → nobody owns it (its run died: the kernel released the lock) → reap it *while
///   holding the probe lock* (a new run of that domain waits until the reap is done), unlink the
///   lock file while still holding it, release;
/// - held → a live run: leave it; if held for more than twice the hard deadline, flag it loudly
///   for a human — never steal a lock;
/// - the lock file cannot be opened → skip it and say so, never crash.
/// Stale lock files with no app behind them are removed the same way. An app kept by
/// `--keep-on-failure` is left until its keep mark expires.
public struct Janitor: Sendable {
    public let config: NodeConfig
    public let naming: AppNaming
    public let driver: any AppDriver
    /// Where a dead run is recorded as `interrupted` (`nil`: only its results.json is written).
    public let store: (any RunHistory)?

    public init(config: NodeConfig, naming: AppNaming, driver: any AppDriver, store: (any RunHistory)? = nil) {
        self.config = config
        self.naming = naming
        self.driver = driver
        self.store = store
    }

    /// What a sweep did.
    public struct Report: Sendable, Hashable, Codable {
        public var reaped: [String] = []
        public var live: [String] = []
        /// Held for implausibly long: probably a leaked run.
        public var flagged: [String] = []
        public var kept: [String] = []
        public var skipped: [String] = []
        public var tidied: [String] = []
        /// Runs whose process died without finishing (SIGKILL), recorded as interrupted.
        public var interrupted: [String] = []
        /// Process groups of dead runs' children that were still running, and were ended.
        public var endedProcessGroups: [Int32] = []
        public var lines: [String] = []
    }

    /// Run-app domains on this node (warm apps never are candidates).
    public func candidates() async throws -> [AppDomain] {
        try await driver.runApps(naming: naming)
    }

    /// One sweep. With `dryRun` nothing is removed; the report says what would be.
    public func sweep(dryRun: Bool = false) async -> Report {
        var report = Report()
        let lockDirectory = config.lockDirectory
        do {
            try FileManager.default.createDirectory(at: lockDirectory, withIntermediateDirectories: true)
        } catch {
            report.lines.append(
                "janitor: lock directory \(lockDirectory.path) is unusable (\(error)) — nothing probed, nothing reaped")
            return report
        }
        // Dead runs first: their children (a test, a restic) stop before their apps are reaped.
        await finishDeadRuns(dryRun: dryRun, report: &report)
        let domains: [AppDomain]
        do {
            domains = try await candidates()
        } catch {
            report.lines.append("janitor: cannot list candidates (\(error)) — nothing reaped")
            return report
        }
        for domain in domains {
            await probe(domain, dryRun: dryRun, report: &report)
        }
        // Stale lock files: a finished run's lock file stays behind, unheld and app-less.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: lockDirectory.path)) ?? []
        for entry in entries.sorted() {
            guard let name = AppLocks.domain(ofLockFile: entry), let domain = naming.appDomainIfValid(name),
                domain.kind == .run, !domains.contains(domain)
            else { continue }
            let path = AppLocks.path(for: domain, in: lockDirectory)
            guard let lock = try? FileLock.tryAcquire(path) else { continue }  // held (a run before its app exists) or unreadable
            if !dryRun { lock.unlinkWhileHeld() }
            lock.release()
            report.tidied.append(domain.name)
        }
        if !report.tidied.isEmpty {
            report.lines.append(
                "janitor: \(dryRun ? "would remove" : "removed") \(report.tidied.count) stale lock file\(report.tidied.count == 1 ? "" : "s")"
            )
        }
        return report
    }

    func probe(_ domain: AppDomain, dryRun: Bool, report: inout Report) async {
        let path = AppLocks.path(for: domain, in: config.lockDirectory)
        let lock: FileLock?
        do {
            lock = try FileLock.tryAcquire(path)
        } catch {
            report.skipped.append(domain.name)
            report.lines.append("janitor: skipping \(domain): \(error)")
            return
        }
        guard let lock else {
            report.live.append(domain.name)
            let attributes = try? FileManager.default.attributesOfItem(atPath: path.path)
            let age = (attributes?[.modificationDate] as? Date).map { Date().timeIntervalSince($0) } ?? 0
            if age > 2 * config.runDeadline.seconds {
                report.flagged.append(domain.name)
                report.lines.append(
                    "janitor: !! \(domain) has been locked for \(DurationText.format(.seconds(Int64(age)))) — more than twice the "
                        + "\(DurationText.format(config.runDeadline)) run deadline; a run may have leaked. It is NOT reaped: "
                        + "inspect the holder with `lslocks | grep \(path.lastPathComponent)`")
            } else {
                report.lines.append("janitor: \(domain) belongs to a live run — left alone")
            }
            return
        }
        defer { lock.release() }
        if let until = driver.keptUntil(domain), until > Date() {
            report.kept.append(domain.name)
            report.lines.append(
                "janitor: \(domain) is kept (--keep-on-failure) until \(ISO8601DateFormatter().string(from: until))")
            return
        }
        // Under the probe lock, look again: a janitor racing this one may have reaped it already
        // (we then hold a fresh lock file on an app that is gone — nothing to reap twice).
        if let existing = try? await driver.owned(domain: domain), existing.isEmpty {
            if !dryRun { lock.unlinkWhileHeld() }
            report.lines.append("janitor: \(domain) is already gone")
            return
        }
        if dryRun {
            report.reaped.append(domain.name)
            report.lines.append("janitor: would reap \(domain) (no live run holds its lock)")
            return
        }
        do {
            let left = try await driver.remove(domain: domain)
            lock.unlinkWhileHeld()
            report.reaped.append(domain.name)
            report.lines.append(
                "janitor: reaped \(domain), the app of a run that died\(left.isEmpty ? "" : " — left: \(left.summary)")"
            )
        } catch {
            report.skipped.append(domain.name)
            report.lines.append("janitor: reaping \(domain) failed: \(error)")
        }
    }
}

extension Janitor {
    /// Finds registrations of runs whose process died (their lock is free): ends the process
    /// groups they left running (by recorded pid and start time, never by name), records each
    /// run as `interrupted` — results.json, JUnit and the store — and removes its workspace and
    /// registration.
    func finishDeadRuns(dryRun: Bool, report: inout Report) async {
        let directory = RunRegistration.directory(config)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for entry in entries.sorted() where entry.hasSuffix(".lock") {
            let runID = String(entry.dropLast(".lock".count))
            let lockPath = directory.appendingPathComponent(entry)
            guard let lock = try? FileLock.tryAcquire(lockPath) else { continue }  // a live run
            defer { lock.release() }
            let recordFile = directory.appendingPathComponent("\(runID).json")
            guard let data = try? Data(contentsOf: recordFile),
                let record = try? JSONCoding.decoder.decode(RunRegistration.Entry.self, from: data)
            else {
                if !dryRun {
                    try? FileManager.default.removeItem(at: recordFile)
                    lock.unlinkWhileHeld()
                }
                continue
            }
            let survivors = record.children.filter(ProcessStart.isSameGroup)
            let tagged = ProcessStart.tagged(runID: runID)
            if dryRun {
                report.interrupted.append(runID)
                report.lines.append(
                    "janitor: would record run \(runID) as interrupted (its process died)"
                        + (survivors.isEmpty && tagged.isEmpty
                            ? "" : " and end \(survivors.count + tagged.count) leftover process(es)"))
                continue
            }
            var ended: [Int32] = []
            for group in survivors {
                _ = kill(-group.pgid, SIGKILL)
                ended.append(group.pgid)
            }
            // A child started in the instant before the run could record it carries the run's id.
            for pid in tagged where !survivors.contains(where: { $0.pgid == pid }) {
                _ = kill(pid, SIGKILL)
                ended.append(pid)
            }
            report.endedProcessGroups += ended
            await recordInterrupted(record)
            try? FileManager.default.removeItem(atPath: record.workspace)
            try? FileManager.default.removeItem(at: recordFile)
            lock.unlinkWhileHeld()
            report.interrupted.append(runID)
            report.lines.append(
                "janitor: run \(runID) died before it finished — recorded as interrupted"
                    + (ended.isEmpty
                        ? ""
                        : "; ended what it left running (process groups and processes "
                            + ended.map { "\($0)" }.joined(separator: ", ") + ")"))
        }
    }

    /// Finishes a dead run's directory: its results (the tiers it concluded, the rest cancelled)
    /// and a last line in its log, and records it in the store.
    func recordInterrupted(_ record: RunRegistration.Entry) async {
        let runDirectory = URL(fileURLWithPath: record.runDirectory)
        let resultsFile = runDirectory.appendingPathComponent("results.json")
        guard !FileManager.default.fileExists(atPath: resultsFile.path) else { return }
        let reason = "not finished: the run's process died (killed) — found by the janitor"
        var tiers = record.tiers
        for tier in Tier.defaultStages where tiers[tier.rawValue] == nil {
            tiers[tier.rawValue] =
                record.stages.contains(tier)
                ? TierResult(status: .cancelled, durationSeconds: 0, reason: reason)
                : TierResult(status: .skip, durationSeconds: 0, reason: "not requested")
        }
        var statuses: [Tier: TierStatus] = [:]
        for (name, result) in tiers { if let tier = Tier(rawValue: name) { statuses[tier] = result.status } }
        let ladder = LevelLadder.evaluate(
            statuses: statuses, declaredNA: Set(record.ladderNA),
            customTestsExecuted: statuses[.custom] == .pass ? 1 : 0)
        let finishedAt = Date()
        let results = RunResults(
            runID: record.runID, recipe: record.recipe, ref: record.ref, pr: record.pr,
            headCommit: record.headCommit ?? "", headVersion: record.headVersion, baseVersion: record.baseVersion,
            driver: driver.name, mode: "cold", appDomain: record.appDomain ?? "",
            upgradeAppDomain: record.upgradeAppDomain,
            startedAt: record.startedAt, finishedAt: finishedAt, outcome: .interrupted,
            exitCode: 137, tiers: tiers, ladder: ladder, deployCount: 0,
            manifest: Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:]),
            flags: ["killed"], artifacts: Artifacts(runDirectory: record.runDirectory, tierLogs: [:], serviceLogs: []),
            ccciVersion: CCCIVersion.current)
        try? FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        if let handle = FileHandle(forWritingAtPath: runDirectory.appendingPathComponent("run.log").path) {
            _ = try? handle.seekToEnd()
            try? handle.write(
                contentsOf: Data(
                    "\(ISO8601DateFormatter().string(from: finishedAt)) janitor: this run's process died before it "
                        .appending("finished; its apps are reaped by the janitor; recorded as interrupted\n").utf8))
            try? handle.close()
        }
        try? AtomicFile.write(try results.encoded(), to: resultsFile)
        try? AtomicFile.write(JUnit.render(results), to: runDirectory.appendingPathComponent("junit.xml"))
        try? await store?.record(results)
    }
}
