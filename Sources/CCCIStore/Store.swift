import CCCICore
import Foundation

/// Finished runs (SPEC F-RESULTS): each run's results document and tier verdicts, each recipe's
/// newest run and recent levels (the dashboard's matrix), and a generation every write moves.
public protocol RunHistory: Sendable {
    /// Records a finished run (its results document and per-tier verdicts).
    func record(_ results: RunResults) async throws
    /// Records many finished runs at once (an import, a benchmark's seed).
    func record(contentsOf batch: [RunResults]) async throws
    /// Runs, newest first, optionally of one recipe.
    func runs(recipe: String?, limit: Int) async throws -> [RunSummary]
    /// One run's full results document (`nil`: no such run).
    func results(runID: String) async throws -> RunResults?
    /// Every recipe with a recorded cold run, by name, with its newest run and recent levels.
    func recipeMatrix() async throws -> [RecipeStatus]
    /// `recipe`'s row of the matrix (`nil`: it has no recorded run).
    func recipeStatus(_ recipe: String) async throws -> RecipeStatus?
    /// A number every recorded, changed or removed run or canonical moves (also another
    /// process's): what was read at one generation holds until it moves.
    func generation() async throws -> Int64
    /// Keeps a finished run's files (`results.json`, `junit.xml`, its log, its screenshot) where
    /// every node's pages read them; a store whose nodes read their own run directories keeps
    /// nothing (``keepsRunFiles``).
    func keep(files: [String: Data], of runID: String) async throws
    /// Whether ``keep(files:of:)`` keeps anything.
    var keepsRunFiles: Bool { get }
}

/// Warm canonicals and the sweeps' reports (SPEC F-CANON, F-SWEEP), of this node.
public protocol CanonicalStore: Sendable {
    /// The canonical of `recipe`, if it has one.
    func canonical(_ recipe: String) async throws -> CanonicalRecord?
    /// Every canonical, by recipe.
    func canonicals() async throws -> [CanonicalRecord]
    /// The nodes — this one or others sharing the store — whose canonical of `recipe` is healthy,
    /// by name: where a quick run of it can go.
    func nodesWithHealthyCanonical(of recipe: String) async throws -> [String]
    /// Swaps `recipe`'s canonical for `record` — only while it is still `expected` (same version
    /// and commit, or none), so that a canonical changed or dropped meanwhile is never overwritten
    /// blindly. Returns whether it swapped.
    @discardableResult
    func swapCanonical(expected: CanonicalRecord?, with record: CanonicalRecord) async throws -> Bool
    /// Updates the status (and the volume size) of `recipe`'s canonical, if it has one.
    func markCanonical(_ recipe: String, status: String, volumeBytes: Int64?) async throws
    /// Removes `recipe`'s canonical record; returns whether there was one.
    @discardableResult
    func dropCanonical(_ recipe: String) async throws -> Bool
    /// Keeps a sweep's report.
    func record(sweep: SweepRecord) async throws
    /// The newest sweeps first.
    func sweeps(limit: Int) async throws -> [SweepRecord]
}

extension CanonicalStore {
    /// Updates the status of `recipe`'s canonical, if it has one.
    public func markCanonical(_ recipe: String, status: String) async throws {
        try await markCanonical(recipe, status: status, volumeBytes: nil)
    }
}

/// Queue operations inside one write transaction: everything a webhook or a worker decides is
/// written together, or not at all (SPEC F-QUEUE).
public protocol JobQueueTransaction {
    /// The transaction's clock reading.
    var now: Date { get }
    /// Job `id`, in any state.
    func job(_ id: Int64) throws -> Job?
    /// The queued and running jobs of a pull request: the forge repository's (any case) and the
    /// recipe's — a repository of another owner named like the recipe never reaches them.
    func activeJobs(repository: String, recipe: String, pr: Int) throws -> [Job]
    /// Adds a job to the queue; returns it with its id.
    func insert(_ job: Job) throws -> Job
    /// The job's place in the queue (1: next to be claimed), counting queued jobs only.
    func position(of job: Job) throws -> Int
    /// Writes a job back.
    func update(_ job: Job) throws
    /// Adds a reply to the outbox.
    func add(_ reply: Reply) throws
    /// The comment's record, when it was acted on.
    func testmeRequest(repository: String, commentID: Int64) throws -> TestmeRequest?
    /// Writes a comment's record.
    func save(_ request: TestmeRequest) throws
    /// Whether `author` was refused on this pull request before (they are told once).
    func wasRefused(repository: String, issue: Int, author: String) throws -> Bool
    /// What is known of the pull request's head.
    func pullHead(repository: String, pr: Int) throws -> PullHead?
    /// Writes what is known of the pull request's head.
    func save(_ head: PullHead) throws
}

extension JobQueueTransaction {
    /// The queued or running job of this pull request and head that covers a request (`quick` or
    /// not): a cold job covers a quick request too, a quick job only a quick one.
    public func activeJob(repository: String, recipe: String, pr: Int, headSHA: String, quick: Bool) throws -> Job? {
        try activeJobs(repository: repository, recipe: recipe, pr: pr).first {
            $0.headSHA == headSHA && (quick || !$0.quick)
        }
    }
}

/// The durable job queue of `ccci serve` (SPEC F-QUEUE): jobs, the outbox of forge replies,
/// deliveries and `!testme` comments seen, pull request heads as the forge ordered them. Jobs a
/// node claims record it (``Job/node``): a pid or a run means something only on that node.
public protocol JobQueueStore: Sendable {
    /// Runs `body` in one write transaction. With a `delivery` id, records it first; when the
    /// forge delivered it before, nothing is done and the result is `nil`.
    func transaction<T: Sendable>(
        delivery: String?, now: Date, _ body: @escaping @Sendable (any JobQueueTransaction) throws -> T
    ) async throws -> T?
    /// Whether the forge delivered `delivery` before.
    func hasDelivery(_ delivery: String) async throws -> Bool
    /// Claims the next job for a worker of this node: the oldest queued job whose pull request
    /// has no running job, preferring recipes with fewer running jobs. It becomes `running`, with
    /// a run id from `runID` and this node's name.
    func claimNextJob(now: Date, runID: @escaping @Sendable (Job) -> String) async throws -> Job?
    /// Changes one job (returns it as written; `nil` when there is no such job).
    @discardableResult
    func updateJob(
        _ id: Int64, now: Date, _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> Job?
    /// One job.
    func job(_ id: Int64) async throws -> Job?
    /// Jobs in `states`, oldest first (all when `states` is empty): every one, or a page of
    /// `limit` from `offset` on.
    func jobs(in states: [JobState], limit: Int?, offset: Int) async throws -> [Job]
    /// Jobs of this node in `states` (what its own recovery may touch).
    func jobsOfThisNode(in states: [JobState]) async throws -> [Job]
    /// How many jobs are in `state` (one count).
    func jobCount(in state: JobState) async throws -> Int
    /// The job whose current run is `runID`.
    func job(runID: String) async throws -> Job?
    /// The oldest reply due for delivery at `now` (pending, and not waiting out a failed attempt).
    func nextPendingReply(now: Date) async throws -> Reply?
    /// When the next pending reply that is waiting out a failed attempt is due (`nil`: none waits).
    func nextReplyAttempt() async throws -> Date?
    /// How many replies wait for delivery.
    func pendingReplyCount() async throws -> Int
    /// Marks reply `id` superseded when a newer reply replaces it — a later commit status of the
    /// same commit, a later text of the same job's comment. Returns whether it was.
    func supersedeIfOutdated(_ id: Int64) async throws -> Bool
    /// Records a failed attempt of reply `id` that is worth another: it stays pending until
    /// `next`, and its job says what is waiting.
    func postponeReply(_ id: Int64, error: String, next: Date, now: Date) async throws
    /// Every reply of a job (or, with `nil`, every reply), oldest first.
    func replies(job: Int64?) async throws -> [Reply]
    /// Records how a delivery attempt ended.
    func finishReply(
        _ id: Int64, delivered: Bool, attempts: Int, error: String?, commentID: Int64?, now: Date
    ) async throws
    /// Forgets deliveries older than `date` and delivered replies older than `date`.
    @discardableResult
    func pruneQueueHistory(before date: Date) async throws -> Int
    /// The `!testme` requests waiting for the forge whose time has come, oldest first.
    func dueTestmeRequests(now: Date, limit: Int) async throws -> [TestmeRequest]
    /// When the next waiting `!testme` request is due (`nil`: none waits).
    func nextTestmeAttempt() async throws -> Date?
    /// The comment's record, when it was acted on.
    func testmeRequest(repository: String, commentID: Int64) async throws -> TestmeRequest?
    /// Renews this node's lease: its server is alive. A claim renews it too, so every node with a
    /// running job has one.
    func renewLease(now: Date) async throws
    /// Takes over the running jobs of every other node whose lease was last renewed before
    /// `cutoff` (its server died, or lost the store): `change` is applied to each — queue it again,
    /// once — and written in one transaction, so that when two nodes look at once each job is
    /// taken over by one of them, once. Returns the jobs as written.
    func takeOverJobs(
        ofNodesSilentSince cutoff: Date, now: Date,
        _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> [Job]
    /// Every change to the queue, from any node (a job queued, one finished): `nil` when only
    /// this node's processes write the queue, whose own wakeups say it.
    func queueChanges() -> AsyncStream<Void>?
}

extension JobQueueStore {
    public func transaction<T: Sendable>(
        delivery: String? = nil, _ body: @escaping @Sendable (any JobQueueTransaction) throws -> T
    ) async throws -> T? {
        try await transaction(delivery: delivery, now: Date(), body)
    }

    public func claimNextJob(runID: @escaping @Sendable (Job) -> String) async throws -> Job? {
        try await claimNextJob(now: Date(), runID: runID)
    }

    @discardableResult
    public func updateJob(
        _ id: Int64, _ change: @escaping @Sendable (inout Job, any JobQueueTransaction) throws -> Void
    ) async throws -> Job? {
        try await updateJob(id, now: Date(), change)
    }

    public func jobs(in states: [JobState] = [], limit: Int? = nil, offset: Int = 0) async throws -> [Job] {
        try await jobs(in: states, limit: limit, offset: offset)
    }

    public func nextPendingReply() async throws -> Reply? {
        try await nextPendingReply(now: Date())
    }

    public func postponeReply(_ id: Int64, error: String, next: Date) async throws {
        try await postponeReply(id, error: error, next: next, now: Date())
    }

    public func replies(job: Int64? = nil) async throws -> [Reply] {
        try await replies(job: job)
    }

    public func finishReply(
        _ id: Int64, delivered: Bool, attempts: Int, error: String?, commentID: Int64?
    ) async throws {
        try await finishReply(
            id, delivered: delivered, attempts: attempts, error: error, commentID: commentID, now: Date())
    }

    public func dueTestmeRequests(now: Date = Date()) async throws -> [TestmeRequest] {
        try await dueTestmeRequests(now: now, limit: 20)
    }
}

/// Everything a node keeps: its history, its canonicals and its queue — in one place several
/// processes (and, with a shared store, several nodes) write.
public protocol NodeStore: RunHistory, CanonicalStore, JobQueueStore {
    /// Where the store is, for messages (a path, or a URL without credentials).
    var location: String { get }
    /// Proves the store can be written now, within `timeout` (for `/healthz`).
    func probeWrite(within timeout: Duration) async throws
}

/// Opens the store a node's configuration names — the one place that picks the implementation.
public enum Store {
    /// The store of `config` (`store = "sqlite:///…"` or `"postgres://…"`; default
    /// `<home>/ccci.sqlite`), created and migrated when needed.
    public static func open(_ config: NodeConfig) async throws(StoreError) -> any NodeStore {
        // A worker's connection each, and a few for the intake, the replies and the pages.
        try await open(config.storeLocation, node: config.node, connections: config.capacity + 4)
    }

    /// `config`'s store for reading only (`ccci results`, `ccci gc`): it works on a store this
    /// user cannot write, and never creates or migrates one; a write fails.
    public static func openForReading(_ config: NodeConfig) async throws(StoreError) -> any NodeStore {
        try await open(config.storeLocation, node: config.node, connections: 2, readingOnly: true)
    }

    /// The store at `location`, speaking for node `node` — the one place that picks the
    /// implementation. `readingOnly`: never created or migrated (a SQLite file is opened
    /// read-only).
    public static func open(
        _ location: NodeConfig.StoreLocation, node: String, connections: Int = 2, readingOnly: Bool = false
    ) async throws(StoreError) -> any NodeStore {
        switch location {
        case .sqlite(let file):
            return readingOnly
                ? try SQLiteStore(readingFrom: file, node: node) : try SQLiteStore(path: file, node: node)
        case .postgres(let location):
            return try await PostgresStore.open(
                location, node: node, connections: connections, migrate: !readingOnly)
        }
    }

    /// The run files the pages of `config`'s node serve: its runs directory, and — with a store
    /// that keeps run files — the files of runs that ran on other nodes.
    public static func artifacts(_ config: NodeConfig, store: (any NodeStore)? = nil) -> any RunArtifacts {
        let local = LocalRunArtifacts(runsDirectory: config.runsDirectory)
        guard let store = store as? PostgresStore else { return local }
        return SharedRunArtifacts(local: local, store: store)
    }

    /// An empty store in memory (tests of logic above the store).
    public static func inMemory(node: String = "test") throws -> any NodeStore {
        try SQLiteStore(node: node)
    }
}
