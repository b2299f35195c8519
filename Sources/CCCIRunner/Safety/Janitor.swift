import CCCICore
import CCCIDeploy
import CCCISwarm
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
    public let driver: NativeDriver

    public init(config: NodeConfig, naming: AppNaming, driver: NativeDriver) {
        self.config = config
        self.naming = naming
        self.driver = driver
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
        public var lines: [String] = []
    }

    /// Run-app domains on this node: env files and stacks.
    public func candidates() async throws -> [String] {
        var domains = Set<String>()
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: config.envDirectory.path) {
            for entry in entries where entry.hasSuffix(".env") {
                let domain = String(entry.dropLast(".env".count))
                if naming.isRunApp(domain) { domains.insert(domain) }
            }
        }
        for service in try await driver.engine.services() {
            if let stack = service.stack, let domain = naming.runAppDomain(fromStack: stack) { domains.insert(domain) }
        }
        for secret in try await driver.engine.secrets(labels: ["ccci.managed=true"]) {
            if let domain = secret.labels["ccci.app"], naming.isRunApp(domain) { domains.insert(domain) }
        }
        return domains.sorted()
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
        let domains: [String]
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
            guard let domain = AppLocks.domain(ofLockFile: entry), !domains.contains(domain) else { continue }
            let path = lockDirectory.appendingPathComponent(entry)
            guard let lock = try? FileLock.tryAcquire(path) else { continue }  // held (a run before its app exists) or unreadable
            if !dryRun { lock.unlinkWhileHeld() }
            lock.release()
            report.tidied.append(domain)
        }
        if !report.tidied.isEmpty {
            report.lines.append(
                "janitor: \(dryRun ? "would remove" : "removed") \(report.tidied.count) stale lock file\(report.tidied.count == 1 ? "" : "s")"
            )
        }
        return report
    }

    func probe(_ domain: String, dryRun: Bool, report: inout Report) async {
        let path = AppLocks.path(for: domain, in: config.lockDirectory)
        let lock: FileLock?
        do {
            lock = try FileLock.tryAcquire(path)
        } catch {
            report.skipped.append(domain)
            report.lines.append("janitor: skipping \(domain): \(error)")
            return
        }
        guard let lock else {
            report.live.append(domain)
            let attributes = try? FileManager.default.attributesOfItem(atPath: path.path)
            let age = (attributes?[.modificationDate] as? Date).map { Date().timeIntervalSince($0) } ?? 0
            if age > 2 * config.runDeadline.seconds {
                report.flagged.append(domain)
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
        let keep = driver.keepMark(for: domain)
        if let text = try? String(contentsOf: keep, encoding: .utf8),
            let until = ISO8601DateFormatter().date(from: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            until > Date()
        {
            report.kept.append(domain)
            report.lines.append(
                "janitor: \(domain) is kept (--keep-on-failure) until \(text.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
            return
        }
        // Under the probe lock, look again: a janitor racing this one may have reaped it already
        // (we then hold a fresh lock file on an app that is gone — nothing to reap twice).
        if let existing = try? await driver.residue(domain: domain), existing.isEmpty {
            if !dryRun { lock.unlinkWhileHeld() }
            report.lines.append("janitor: \(domain) is already gone")
            return
        }
        if dryRun {
            report.reaped.append(domain)
            report.lines.append("janitor: would reap \(domain) (no live run holds its lock)")
            return
        }
        do {
            let left = try await driver.remove(domain: domain)
            lock.unlinkWhileHeld()
            report.reaped.append(domain)
            report.lines.append(
                "janitor: reaped \(domain), the app of a run that died\(left.isEmpty ? "" : " — left: \(left.summary)")"
            )
        } catch {
            report.skipped.append(domain)
            report.lines.append("janitor: reaping \(domain) failed: \(error)")
        }
    }
}

extension RunCoordinator {
    /// The janitor at every run start.
    func janitorAtStart(_ prepared: PreparedRun) async {
        let report = await Janitor(config: config, naming: prepared.naming, driver: driver).sweep()
        for line in report.lines { await prepared.journal.line(line) }
        let notable = report.lines.filter { !$0.contains("belongs to a live run") }
        if !notable.isEmpty { await reporter.print(notable) }
    }

    /// Leaves a keep mark for each domain (`--keep-on-failure`): the janitor leaves them 24 hours.
    func markKept(_ domains: [String]) async {
        let until = ISO8601DateFormatter().string(from: Date().addingTimeInterval(24 * 3600))
        for domain in domains {
            try? AtomicFile.write(until + "\n", to: driver.keepMark(for: domain))
        }
    }
}
