import CCCICore
import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The registrations of live runs (SPEC F-JANITOR, F-LIFETIME): what a run that is killed with
/// SIGKILL leaves for the janitor to finish.
///
/// Invariant: while a run's process lives it holds the `flock` of `<home>/live/<run>.lock`, and
/// `<run>.json` says what the janitor needs if it dies: its run directory, the tiers it finished,
/// and the process groups of its children at this moment (each with its leader's start time, so
/// a recycled pid is never mistaken for one of them). A run that ends normally removes both
/// files. A registration whose lock is free therefore belongs to a dead run: the janitor ends its
/// leftover process groups, records the run as `interrupted` (its run directory finished, the
/// store told) and removes the registration — never touching a live run's.
public final class RunRegistration: Sendable {
    public let record: URL
    private let lock: FileLock
    private let state: Locked<Entry>

    /// What a registration holds.
    public struct Entry: Sendable, Codable, Hashable {
        public var runID: String
        public var pid: Int32
        public var startedAt: Date
        public var runDirectory: String
        public var workspace: String
        public var recipe: String
        public var ref: String?
        public var pr: Int?
        public var headCommit: String?
        public var headVersion: String?
        public var baseVersion: String?
        public var appDomain: String?
        public var upgradeAppDomain: String?
        public var ladderNA: [Tier] = []
        /// The tiers the run was asked for.
        public var stages: [Tier] = Tier.defaultStages
        public var tiers: [String: TierResult] = [:]
        public var children: [ChildGroup] = []

        enum CodingKeys: String, CodingKey {
            case pid, recipe, ref, pr, tiers, children, workspace
            case runID = "run_id"
            case startedAt = "started_at"
            case runDirectory = "run_dir"
            case headCommit = "head_commit"
            case headVersion = "head_version"
            case baseVersion = "base_version"
            case appDomain = "app_domain"
            case upgradeAppDomain = "upgrade_app_domain"
            case ladderNA = "na_tiers"
            case stages
        }
    }

    /// A child's process group: its leader and the leader's start time (clock ticks since boot).
    public struct ChildGroup: Sendable, Codable, Hashable {
        public let pgid: Int32
        public let startTime: UInt64

        enum CodingKeys: String, CodingKey {
            case pgid
            case startTime = "start_time"
        }
    }

    /// Set in a run's own environment, so every process it starts carries its run id.
    public static let environmentKey = "CCCI_RUN_ID"

    /// The registrations directory of a node.
    public static func directory(_ config: NodeConfig) -> URL {
        config.liveRunsDirectory
    }

    /// Registers this process' run and takes its lock for the rest of the process' life.
    public init(config: NodeConfig, record: Entry) throws {
        let directory = Self.directory(config)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.record = directory.appendingPathComponent("\(record.runID).json")
        guard let lock = try FileLock.tryAcquire(directory.appendingPathComponent("\(record.runID).lock")) else {
            throw FileLockError.cannotLock(record.runID, errno: EWOULDBLOCK)
        }
        HeldLocks.shared.keep(lock)
        self.lock = lock
        state = Locked(record)
        save()
    }

    /// Updates the record (preparation's findings, a tier's verdict).
    public func update(_ change: @Sendable (inout Entry) -> Void) {
        state.withLock { change(&$0) }
        save()
    }

    /// Records what preparation found: the recipe, the head, the apps' domains.
    func prepared(_ prepared: PreparedRun, stages: [Tier]) {
        update { record in
            record.recipe = prepared.recipe
            record.headCommit = prepared.head.commit
            record.headVersion = prepared.head.version?.raw
            record.baseVersion = prepared.upgradeBase?.version.raw
            record.appDomain = prepared.headDomain.name
            record.upgradeAppDomain = stages.contains(.upgrade) ? prepared.upgradeDomain.name : nil
            record.ladderNA = prepared.meta.naTiers
        }
    }

    /// Records the live child process groups (called whenever one starts or ends).
    public func children(_ groups: Set<pid_t>) {
        let children = groups.sorted().compactMap { pgid in
            ProcessStart.time(of: pgid).map { ChildGroup(pgid: pgid, startTime: $0) }
        }
        update { $0.children = children }
    }

    /// The run ended on its own: the registration goes.
    public func finish() {
        ChildProcessGroups.shared.observe(nil)
        try? FileManager.default.removeItem(at: record)
        lock.unlinkWhileHeld()
    }

    private func save() {
        let value = state.value
        guard let data = try? JSONCoding.prettyEncoder.encode(value) else { return }
        try? AtomicFile.write(data, to: record, permissions: 0o600)
    }
}

extension ProcessStart {
    /// The processes of the run `runID`: every child of a run (and their children) inherits
    /// `CCCI_RUN_ID=<runID>`, so this finds even one started between its spawn and its registration.
    public static func tagged(runID: String) -> [pid_t] {
        carrying(environment: "\(RunRegistration.environmentKey)=\(runID)")
    }

    /// Whether the group a dead run recorded is still that group: its leader alive with the same
    /// start time, or the leader gone and members left (the kernel never reuses a pid while it is
    /// a live group's id). A different process now holding the leader's pid means it is not.
    public static func isSameGroup(_ group: RunRegistration.ChildGroup) -> Bool {
        if let start = time(of: group.pgid) { return start == group.startTime }
        return !members(of: group.pgid).isEmpty
    }
}
