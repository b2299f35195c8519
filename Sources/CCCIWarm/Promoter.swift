import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIRunner
import CCCIStore
import CCCISystem
import Foundation

/// Promotes a green cold run of a release to its recipe's warm canonical (SPEC F-CANON).
///
/// Invariant: the canonical record names what the warm app runs, proven. The warm app is
/// deployed at the tested version on its own domain (`<recipe>.warm.<ci-domain>`) and proven
/// healthy over HTTPS there; only then is the record swapped. A promotion that fails leaves the
/// previous canonical as it was: a first (seeding) promotion removes everything it created; a
/// promotion over an existing canonical — an upgrade in place, as an operator's — is rolled back
/// to the previous version and its volumes restored from the snapshot taken just before. A
/// rollback that fails too marks the record `broken`, never promoted.
///
/// The warm app's lock is held from start to end, so a sweep, a quick run or `canonical drop`
/// never works on it at the same time.
public struct Promoter: RunEpilogue {
    public let store: (any CanonicalStore)?

    public init(store: (any CanonicalStore)?) {
        self.store = store
    }

    /// Set (comma-separated) to make a promotion fail on purpose at that point: `promote.health`
    /// (after the warm deploy converged, before it is proven healthy). Fault injection for the
    /// tests; nothing else reads it.
    public static let faultVariable = "CCCI_INJECT_FAULT"

    public func afterRun(_ run: FinishedRun) async -> PromotionSummary? {
        guard run.meta.warmCanonical else { return nil }
        let domain = run.naming.warmAppDomain(recipe: run.recipe)
        let release: ReleaseSet.Release
        switch PromotionGate.check(run) {
        case .refused(let reason):
            return PromotionSummary(status: .notEligible, domain: domain.name, reason: reason)
        case .eligible(let eligible):
            release = eligible
        }
        var summary = PromotionSummary(
            status: .failed, version: release.version.raw, commit: release.tag.commit, domain: domain.name)
        guard let store else {
            summary.reason = "the results store cannot be opened, so no canonical can be recorded"
            return summary
        }
        do {
            try await AppLocks.acquire(domain: domain, in: run.config.lockDirectory) {
                await run.reporter.print(["canonical: waiting for the warm app \(domain) (a sweep or quick run has it)"]
                )
            }
            if let settled = await BorrowMark.settle(recipe: run.recipe, config: run.config, store: store) {
                await run.reporter.print(["canonical: \(settled)"])
            }
            let previous = try await store.canonical(run.recipe)
            if let previous, previous.status == "healthy", previous.version == release.version.raw,
                previous.commit == release.tag.commit, run.driver.hasApp(domain)
            {
                summary.status = .current
                return summary
            }
            let work = WarmWork(run: run, domain: domain)
            // Before a canonical's app changes: should this process die half-way, the next holder
            // of the warm lock finds the mark and marks the record broken.
            let mark = BorrowMark.path(recipe: run.recipe, config: run.config)
            if previous != nil { try AtomicFile.write("promotion in run \(run.runID)\n", to: mark) }
            let record: CanonicalRecord
            do {
                record = try await work.promote(release, over: previous)
            } catch let failure as PromotionFailure {
                summary.reason = run.secrets.redact(failure.description)
                let settled = failure.broken ? await Self.markBroken(run.recipe, store: store, run: run) : true
                if settled { try? FileManager.default.removeItem(at: mark) }
                return summary
            }
            do {
                guard try await store.swapCanonical(expected: previous, with: record) else {
                    throw WarmError("the canonical record of \(run.recipe) changed while promoting")
                }
            } catch {
                // The warm app runs the new release and the record does not say so: broken.
                summary.reason = run.secrets.redact(
                    "the warm app runs \(release.version.raw) but its record could not be written (\(error)); "
                        + "the canonical is marked broken")
                if await Self.markBroken(run.recipe, store: store, run: run) {
                    try? FileManager.default.removeItem(at: mark)
                }
                return summary
            }
            try? FileManager.default.removeItem(at: mark)
            summary.status = .promoted
            return summary
        } catch {
            summary.reason = run.secrets.redact(String(describing: error))
            return summary
        }
    }
}

extension Promoter {
    /// Marks `recipe`'s canonical broken; says so when even that fails (the borrow mark then stays,
    /// for the next holder of the warm lock to try again).
    static func markBroken(_ recipe: String, store: any CanonicalStore, run: FinishedRun) async -> Bool {
        do {
            try await store.markCanonical(recipe, status: "broken")
            return true
        } catch {
            await run.reporter.print(["canonical: cannot mark the canonical of \(recipe) broken: \(error)"])
            return false
        }
    }
}

/// A promotion that failed: why, what was done about it, and whether the previous canonical is
/// now broken.
struct PromotionFailure: Error, CustomStringConvertible {
    let reason: String
    let aftermath: String
    var broken = false

    var description: String { "\(reason) — \(aftermath)" }
}

/// Deploying, checking and rolling back the warm app of one recipe (the promotion's steps).
struct WarmWork: Sendable {
    let run: FinishedRun
    let domain: AppDomain

    var driver: any AppDriver { run.driver }
    var git: any GitClient { run.git.authenticated(run.source.credentials) }
    /// The warm app's recipe tree: deploys read their compose files from it, and it stays at the
    /// canonical's commit between promotions.
    var tree: URL { run.config.warmTree(recipe: run.recipe) }

    func say(_ line: String) async {
        run.journal.line("canonical: \(line)")
        await run.reporter.print(["canonical: \(line)"])
    }

    var spec: AppSpec {
        AppSpec(
            recipe: run.recipe, domain: domain, checkout: tree, packComposeFiles: run.packComposeFiles,
            extraEnv: run.meta.extraEnv,
            workDirectory: run.config.warmDirectory.appendingPathComponent(
                "\(AppNaming.dnsLabel(run.recipe))/generated"), runID: "warm-\(run.runID)")
    }

    /// Deploys `release` as the warm app — fresh, or in place over `previous` — and proves it;
    /// returns the record to swap in. Throws ``PromotionFailure`` after cleaning up.
    func promote(_ release: ReleaseSet.Release, over previous: CanonicalRecord?) async throws -> CanonicalRecord {
        // A broken canonical (its rollback failed) is replaced by a fresh deploy.
        guard let previous, previous.status == "healthy", let app = driver.existingApp(spec) else {
            return try await seed(release, replacing: previous)
        }
        await say("upgrading \(domain) from \(previous.version) to \(release.version.raw)")
        let snapshot: BackupSnapshot?
        // The env file too: the new release's deploy adds keys to it.
        let envFile: Data
        let keepsData: Bool
        do {
            envFile = try Data(contentsOf: app.envFile)
            let model = try driver.model(of: app)
            keepsData = !model.project.volumes.isEmpty
            snapshot = model.backupPlan == nil ? nil : try await driver.backup(app)
        } catch {
            throw PromotionFailure(
                reason: "the snapshot of the canonical before the upgrade failed: \(error)",
                aftermath: "nothing was changed; the canonical stays \(previous.version)")
        }
        do {
            try await checkout(release.tag.commit)
            try await deployAndProve(app, version: release.version)
            return try await record(release, app: app)
        } catch {
            await say("promotion of \(release.version.raw) failed (\(error)); rolling back to \(previous.version)")
            do {
                try await checkout(previous.commit)
                try AtomicFile.write(envFile, to: app.envFile, permissions: 0o640)
                guard let version = RecipeVersion(previous.version) else {
                    throw WarmError("the recorded version '\(previous.version)' is not a recipe version")
                }
                _ = try await driver.deploy(app, mode: .pinned(version), prune: true)
                _ = try await driver.waitConverged(app, timeout: run.deployTimeout)
                if let snapshot { try await driver.restore(app, snapshot: snapshot) }
                try await prove(app)
            } catch let rollback {
                throw PromotionFailure(
                    reason: "\(error)",
                    aftermath:
                        "the rollback to \(previous.version) failed too (\(rollback)); the canonical is marked broken",
                    broken: true)
            }
            guard snapshot != nil || !keepsData else {
                throw PromotionFailure(
                    reason: "\(error)",
                    aftermath: "rolled back to \(previous.version), but its data could not be restored (the recipe "
                        + "declares no backup); the canonical is marked broken", broken: true)
            }
            throw PromotionFailure(
                reason: "\(error)",
                aftermath: "rolled back: the canonical is \(previous.version) again, its data restored")
        }
    }

    /// A first deploy of the warm app (no canonical yet, or its app is gone).
    func seed(_ release: ReleaseSet.Release, replacing previous: CanonicalRecord?) async throws -> CanonicalRecord {
        await say("deploying \(domain) at \(release.version.raw)")
        do {
            // A warm app with no record is the remains of a promotion that died: it is ours to remove.
            if !(try await driver.owned(domain: domain)).isEmpty {
                let left = try await driver.remove(domain: domain)
                await say(
                    "removed the remains of an earlier promotion\(left.isEmpty ? "" : " (left: \(left.summary))")")
            }
            try? FileManager.default.removeItem(at: tree)
            try FileManager.default.createDirectory(
                at: tree.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await git.clone(run.source.location, to: tree)
            try await checkout(release.tag.commit)
            let app = try await driver.newApp(spec)
            try await deployAndProve(app, version: release.version)
            return try await record(release, app: app)
        } catch {
            let left = (try? await driver.remove(domain: domain)) ?? Residue()
            try? FileManager.default.removeItem(at: tree.deletingLastPathComponent())
            // A record whose app was just removed names nothing that runs: broken (the sweep re-seeds).
            throw PromotionFailure(
                reason: "\(error)",
                aftermath: "removed what the promotion created\(left.isEmpty ? "" : " (left: \(left.summary))"); "
                    + (previous.map { "the canonical record of \($0.version) is marked broken" }
                        ?? "there is no canonical"),
                broken: previous != nil)
        }
    }

    func checkout(_ commit: String) async throws {
        if (try? await git.commit(of: commit, in: tree)) == nil { try await git.fetch(in: tree, remote: "origin") }
        try await git.checkout(commit, in: tree, force: true)
    }

    func deployAndProve(_ app: App, version: RecipeVersion) async throws {
        // The canonical runs exactly the release: a service the previous one had and it has not goes.
        _ = try await driver.deploy(app, mode: .pinned(version), prune: true)
        _ = try await driver.waitConverged(app, timeout: run.deployTimeout)
        let faults = ProcessInfo.processInfo.environment[Promoter.faultVariable] ?? ""
        if faults.split(separator: ",").contains("promote.health") {
            throw WarmError("injected fault promote.health (\(Promoter.faultVariable))")
        }
        try await prove(app)
    }

    /// Healthy over HTTPS on its own domain, through the ingress.
    func prove(_ app: App) async throws {
        _ = try await HealthChecker(probe: run.probe).waitHealthy(
            domain: app.domain.name, path: run.meta.healthPath, accepted: run.meta.healthStatuses,
            timeout: min(run.deployTimeout, .seconds(120)))
    }

    func record(_ release: ReleaseSet.Release, app: App) async throws -> CanonicalRecord {
        let owned = try await driver.owned(domain: domain)
        var bytes: Int64 = 0
        for volume in (try? driver.model(of: app).project.volumes.keys.sorted()) ?? [] {
            bytes += (try? await driver.volumeBytes(app, volume: volume)) ?? 0
        }
        let now = Date()
        return CanonicalRecord(
            recipe: run.recipe, version: release.version.raw, commit: release.tag.commit, domain: domain.name,
            volumes: owned.volumes, volumeBytes: bytes, runID: run.runID, promotedAt: now)
    }
}

/// A warm-canonical operation that cannot go on.
public struct WarmError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
