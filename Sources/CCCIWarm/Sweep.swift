import CCCICore
import CCCIGit
import CCCIRunner
import CCCIStore
import CCCISystem
import Foundation

/// The weekly sweep (SPEC F-SWEEP): for every enrolled recipe, serially, fetch → decide on
/// versions → a cold `ccci run` on the newest release tag → its promotion.
///
/// Invariant: a recipe's label is derived from what exists afterwards — the canonical record
/// compared with what was expected — never from an exit code alone: a green run whose promotion
/// did not leave the tested version as the canonical says `GREEN-BUT-PROMOTE-FAILED`, never
/// `PROMOTED`. One sweep at a time (a flock the kernel releases however the sweep ends).
public struct Sweep: Sendable {
    public let config: NodeConfig
    public let store: any NodeStore
    public let git: any GitClient
    /// The `ccci` executable the cold runs are started with.
    public let executable: String
    /// The node's forge, for the mirrors' pull requests (`nil`: none configured).
    /// The node's forge, for the mirrors' pull requests.
    public let forge: (any Forge)?
    /// Every credential the sweep handles, for redaction.
    public let secrets = SecretRegistry()
    /// Lines as they happen (the terminal).
    public let say: @Sendable (String) -> Void

    public init(
        config: NodeConfig, store: any NodeStore, git: any GitClient, executable: String,
        forge: (any Forge)? = nil, say: @escaping @Sendable (String) -> Void
    ) {
        self.config = config
        self.store = store
        self.git = git
        self.executable = executable
        self.forge = forge
        self.say = say
    }

    /// The catalogue's recipes whose pack on this node sets `warm_canonical = true`.
    public func enrolled() throws -> [String] {
        try config.catalogueRecipes.filter { name in
            let pack = config.packsDirectory.appendingPathComponent(name)
            do {
                return try MetaLoader.load(packDirectories: [pack]).warmCanonical
            } catch {
                throw WarmError("the pack of \(name) cannot be read:\n\(error)")
            }
        }
    }

    /// Runs the sweep over `recipes` (all enrolled ones when `nil`). With `dryRun`, only decides.
    public func run(recipes only: [String]?, dryRun: Bool) async throws -> SweepReport {
        let enrolled = try enrolled()
        if let only {
            for name in only where !enrolled.contains(name) {
                throw WarmError(
                    "\(name) is not enrolled for a warm canonical on this node — set `warm_canonical = true` in "
                        + "\(config.packsDirectory.appendingPathComponent("\(name)/ccci.toml").path)"
                        + (enrolled.isEmpty ? "" : " (enrolled: \(enrolled.joined(separator: ", ")))"))
            }
        }
        var lock: FileLock?
        if !dryRun {
            try FileManager.default.createDirectory(at: config.lockDirectory, withIntermediateDirectories: true)
            guard let held = try FileLock.tryAcquire(config.sweepLockFile) else {
                throw SweepBusy(lockFile: config.sweepLockFile.path)
            }
            held.touch()
            lock = held
        }
        defer { lock?.release() }
        let started = Date()
        let id = RunID.make(recipe: "sweep", at: started)
        let workspace = config.workspacesDirectory.appendingPathComponent(id)
        defer { try? FileManager.default.removeItem(at: workspace) }
        var entries: [SweepReport.Entry] = []
        for recipe in only ?? enrolled {
            // A stopped sweep starts nothing more (its current run was told to stop and finished).
            guard !Task.isCancelled else {
                entries.append(
                    SweepReport.Entry(
                        recipe: recipe, label: .skip("sweep-stopped"), detail: "the sweep was stopped first",
                        version: nil, runID: nil, durationSeconds: 0))
                continue
            }
            let entry = await sweep(recipe, workspace: workspace.appendingPathComponent(recipe), dryRun: dryRun)
            say(entry.line)
            entries.append(entry)
        }
        let store = self.store
        let canonicals = (try? await Self.unstopped { try await store.canonicals() }) ?? []
        let report = SweepReport(
            id: id, startedAt: started, finishedAt: Date(), dryRun: dryRun, entries: entries,
            warmVolumeBytes: canonicals.map(\.volumeBytes).reduce(0, +), budgetBytes: config.warm.volumeBudgetBytes)
        let record = SweepRecord(
            id: id, startedAt: report.startedAt, finishedAt: report.finishedAt, dryRun: dryRun,
            reportJSON: String(decoding: try report.encoded(), as: UTF8.self))
        try await Self.unstopped { try await store.record(sweep: record) }
        return report
    }

    /// One recipe: fetch, decide, run, and the label of what exists afterwards.
    func sweep(_ recipe: String, workspace: URL, dryRun: Bool) async -> SweepReport.Entry {
        let clock = ContinuousClock()
        let start = clock.now
        func entry(
            _ label: SweepReport.Label, _ detail: String, version: String? = nil, runID: String? = nil
        )
            -> SweepReport.Entry
        {
            SweepReport.Entry(
                recipe: recipe, label: label, detail: detail, version: version, runID: runID,
                durationSeconds: (clock.now - start).seconds)
        }
        if let mirror = config.mirrors[recipe] {
            guard !dryRun else {
                return entry(
                    .wouldRun, "would sync the mirror from \(GitCredentials.masked(mirror.upstream)), then decide")
            }
            let mirrorURL =
                config.catalogueURLs[recipe] ?? config.catalogueDirectory.appendingPathComponent(recipe).path
            do {
                let report = try await MirrorSync(forge: forge).sync(
                    recipe: recipe, mirror: mirror, mirrorURL: mirrorURL, secrets: secrets,
                    workspace: workspace.deletingLastPathComponent().appendingPathComponent("\(recipe).mirror.git"))
                say("\(recipe): \(report.summary)")
            } catch {
                return entry(.syncFailed, error.description)
            }
        }
        let newest: ReleaseSet.Release?
        do {
            let source = try RecipeSource.resolve(recipe, config: config)
            let client = git.authenticated(source.credentials)
            try? FileManager.default.removeItem(at: workspace)
            try FileManager.default.createDirectory(
                at: workspace.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await client.clone(source.location, to: workspace)
            newest = try await client.releases(in: workspace).latest
        } catch {
            return entry(.syncFailed, "fetching \(recipe) failed: \(GitCredentials.masked(String(describing: error)))")
        }
        if dryRun, FileManager.default.fileExists(atPath: BorrowMark.path(recipe: recipe, config: config).path) {
            return entry(
                .wouldRun, "a quick run left the canonical borrowed: would mark it broken unless it is still running")
        }
        if let settled = await BorrowMark.settleIfFree(recipe: recipe, config: config, store: store) {
            say("\(recipe): \(settled)")
        }
        let before: CanonicalRecord?
        do {
            before = try await store.canonical(recipe)
        } catch {
            return entry(.fail, "the canonical record cannot be read: \(error)")
        }
        let decision = SweepDecision.decide(
            newest: newest?.version, canonical: before?.version, canonicalStatus: before?.status)
        guard case .run(let version, let seeding) = decision else {
            if case .skip(let reason) = decision {
                return entry(.skip(reason), before.map { "canonical \($0.version)" } ?? "no canonical")
            }
            return entry(.fail, "no decision")
        }
        let why = seeding ? "seeding the canonical" : "\(before?.version ?? "none") → \(version.raw)"
        if dryRun { return entry(.wouldRun, "would run cold on \(version.raw) (\(why))", version: version.raw) }
        say("\(recipe): cold run on \(version.raw) (\(why))")
        let (status, runID, promotion) = await coldRun(recipe, tag: newest!.tag.name)
        let store = self.store
        let after = try? await Self.unstopped { try await store.canonical(recipe) }
        let expected = newest!.tag.commit
        // What exists decides: the record names the tested release, healthy — promoted (also
        // when the run was stopped after its promotion).
        if let after, after.version == version.raw, after.commit == expected, after.status == "healthy",
            after != before
        {
            return entry(.promoted(version.raw), "\(after.domain)", version: version.raw, runID: runID)
        }
        if status == 0 {
            return entry(
                .greenButPromoteFailed(canonical: after?.version, expected: version.raw),
                promotion?.reason ?? "the canonical record does not name \(version.raw)", version: version.raw,
                runID: runID)
        }
        let unchanged = after?.version == before?.version && after?.commit == before?.commit
        return entry(
            unchanged ? .fail : .failCanonicalChanged,
            "ccci run exited \(status)" + (runID.map { " (run \($0))" } ?? ""), version: version.raw, runID: runID)
    }

    /// Runs `body` where a stop cannot cancel it: what a stopped sweep reads and records afterwards
    /// (the store's calls end at once in a cancelled task).
    static func unstopped<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await body() }.value
    }

    /// `ccci run <recipe> --ref <tag>` as every starter launches it (``RunLauncher``): its exit
    /// status, run id (`nil`: it could not be started) and promotion.
    func coldRun(_ recipe: String, tag: String) async -> (Int32, String?, PromotionSummary?) {
        let launcher = RunLauncher(
            executable: URL(fileURLWithPath: executable), environment: ProcessInfo.processInfo.environment,
            runsDirectory: config.runsDirectory)
        let runID = RunID.make(recipe: recipe)
        let status: Int32
        do {
            // A stopped sweep gives its run (SIGTERM) as long as a teardown or a promotion may take.
            status = try await launcher.run(
                RunRequest(recipe: recipe, ref: tag, runID: runID), stopGrace: .seconds(900))
        } catch {
            say("\(recipe): \(error)")
            return (255, nil, nil)
        }
        return (status, runID, launcher.results(of: runID)?.promotion)
    }
}

/// Another sweep holds the sweep lock.
public struct SweepBusy: Error, Sendable, CustomStringConvertible {
    public let lockFile: String

    public var description: String {
        "another sweep is running (it holds \(lockFile)) — one sweep at a time; this one did nothing"
    }
}

/// What a sweep did, per recipe.
public struct SweepReport: Sendable, Hashable, Encodable {
    public enum Label: Sendable, Hashable, Encodable, CustomStringConvertible {
        case promoted(String)
        case greenButPromoteFailed(canonical: String?, expected: String)
        case fail
        /// A failed run after which the canonical is not what it was (it should never happen).
        case failCanonicalChanged
        case skip(String)
        case syncFailed
        /// `--dry-run`: the sweep would run on a release.
        case wouldRun

        public var description: String {
            switch self {
            case .promoted(let version): return "PROMOTED \(version)"
            case .greenButPromoteFailed(let canonical, let expected):
                return "GREEN-BUT-PROMOTE-FAILED (canonical=\(canonical ?? "none"), expected \(expected))"
            case .fail: return "FAIL (canonical unchanged)"
            case .failCanonicalChanged: return "FAIL (canonical CHANGED)"
            case .skip(let reason): return "SKIP(\(reason))"
            case .syncFailed: return "SYNC-FAILED"
            case .wouldRun: return "WOULD-RUN"
            }
        }

        /// Whether the label is a problem (the sweep then exits 1).
        public var isProblem: Bool {
            switch self {
            case .promoted, .skip, .wouldRun: return false
            default: return true
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    public struct Entry: Sendable, Hashable, Encodable {
        public let recipe: String
        public let label: Label
        public let detail: String
        public let version: String?
        public let runID: String?
        public let durationSeconds: Double

        enum CodingKeys: String, CodingKey {
            case recipe, label, detail, version
            case runID = "run_id"
            case durationSeconds = "duration_s"
        }

        /// `web: PROMOTED 1.3.0+1.36.1 — web.warm.ci.ccci.test`.
        public var line: String { "\(recipe): \(label) — \(detail)" }
    }

    public let id: String
    public let startedAt: Date
    public let finishedAt: Date
    public let dryRun: Bool
    public let entries: [Entry]
    /// The warm canonicals' volumes together, as recorded at their promotions.
    public let warmVolumeBytes: Int64
    public let budgetBytes: Int64

    enum CodingKeys: String, CodingKey {
        case id, entries
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case dryRun = "dry_run"
        case warmVolumeBytes = "warm_volume_bytes"
        case budgetBytes = "budget_bytes"
    }

    public var overBudget: Bool { warmVolumeBytes > budgetBytes }

    public func encoded() throws -> Data {
        try JSONCoding.prettyEncoder.encode(self)
    }

    /// The terminal table.
    public var table: [String] {
        let width = max(6, entries.map(\.recipe.count).max() ?? 0)
        var lines = ["\("recipe".padding(toLength: width, withPad: " ", startingAt: 0))  result"]
        for entry in entries {
            lines.append(
                "\(entry.recipe.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.label) — \(entry.detail)"
            )
        }
        lines.append(
            "warm volumes: \(WarmConfig.format(warmVolumeBytes)) of a \(WarmConfig.format(budgetBytes)) budget"
                + (overBudget ? " — OVER BUDGET: drop a canonical or raise [warm] volume_budget" : ""))
        return lines
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
