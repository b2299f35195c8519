import CCCICore
import Foundation

// The records a store keeps, as plain values: how a store keeps them (tables, rows, columns) is
// its own business (`SQLite/`), so another store implements the same protocols without touching
// a caller.

/// A run as listed by `ccci results` and the dashboard: its results document without the
/// evidence (``init(_:)`` is the one place the fields are chosen).
public struct RunSummary: Sendable, Hashable, Codable {
    public let runID: String
    public let recipe: String
    public let headCommit: String
    public let headVersion: String?
    public let outcome: RunOutcome
    public let exitCode: Int
    public let level: Int
    public let ladderVersion: String
    public let startedAt: Date
    public let durationSeconds: Double
    public let tiers: [String: TierStatus]
    public let runDirectory: String

    public init(
        runID: String, recipe: String, headCommit: String, headVersion: String?, outcome: RunOutcome, exitCode: Int,
        level: Int, ladderVersion: String, startedAt: Date, durationSeconds: Double, tiers: [String: TierStatus],
        runDirectory: String
    ) {
        self.runID = runID
        self.recipe = recipe
        self.headCommit = headCommit
        self.headVersion = headVersion
        self.outcome = outcome
        self.exitCode = exitCode
        self.level = level
        self.ladderVersion = ladderVersion
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.tiers = tiers
        self.runDirectory = runDirectory
    }

    /// The summary of a results document.
    public init(_ results: RunResults) {
        self.init(
            runID: results.runID, recipe: results.recipe, headCommit: results.headCommit,
            headVersion: results.headVersion, outcome: results.outcome, exitCode: Int(results.exitCode),
            level: results.level, ladderVersion: results.ladder.version, startedAt: results.startedAt,
            durationSeconds: results.durationSeconds, tiers: results.tiers.mapValues(\.status),
            runDirectory: results.artifacts.runDirectory)
    }

    /// The names of `results.json` (`ladder_version` and `run_dir` are its `ladder.version` and
    /// `artifacts.run_dir`).
    enum CodingKeys: String, CodingKey {
        case recipe, outcome, level, tiers
        case runID = "run_id"
        case headCommit = "head_commit"
        case headVersion = "head_version"
        case exitCode = "exit_code"
        case ladderVersion = "ladder_version"
        case startedAt = "started_at"
        case durationSeconds = "duration_s"
        case runDirectory = "run_dir"
    }
}

/// How often a tier of a recipe was flaky — failed, then passed when its path ran again on fresh
/// apps (`retry_failed`) — among the newest runs that gave it a verdict (SPEC F-DASHBOARD).
public struct FlakeRate: Sendable, Hashable {
    /// How many of a recipe's newest runs the rate is over.
    public static let window = 30

    public let tier: Tier
    /// Runs in which the tier was flaky.
    public let flaky: Int
    /// Runs in which the tier had a verdict (pass, fail or flaky).
    public let ran: Int

    public init(tier: Tier, flaky: Int, ran: Int) {
        self.tier = tier
        self.flaky = flaky
        self.ran = ran
    }

    public var rate: Double { ran == 0 ? 0 : Double(flaky) / Double(ran) }

    /// The rates over the newest ``window`` of `runs` (newest first, as the store lists them), for
    /// every tier that had a verdict in them, in ladder order.
    public static func of(_ runs: [RunSummary]) -> [FlakeRate] {
        let recent = runs.prefix(window)
        return Tier.allCases.compactMap { tier in
            let verdicts = recent.compactMap { $0.tiers[tier.rawValue] }.filter { [.pass, .fail, .flaky].contains($0) }
            guard !verdicts.isEmpty else { return nil }
            return FlakeRate(tier: tier, flaky: verdicts.filter { $0 == .flaky }.count, ran: verdicts.count)
        }
    }
}

/// A recipe as the dashboard's matrix shows it: its newest run and its recent levels.
public struct RecipeStatus: Sendable, Hashable, Codable {
    public let recipe: String
    /// The newest run (its level and tier verdicts are the recipe's current ones).
    public let latest: RunSummary
    /// The levels of its newest runs, oldest first (at most the trend length asked for).
    public let trend: [Int]

    public init(recipe: String, latest: RunSummary, trend: [Int]) {
        self.recipe = recipe
        self.latest = latest
        self.trend = trend
    }
}

/// The state of a queued test request (SPEC F-QUEUE).
public enum JobState: String, Sendable, Codable, Hashable, CaseIterable {
    case queued
    case running
    case passed
    case failed
    /// Superseded by a push, or cancelled by an operator.
    case cancelled
    /// Interrupted twice by the server stopping: given up.
    case interrupted

    /// Queued or running: the job still holds its (recipe, PR, head).
    public var isActive: Bool { self == .queued || self == .running }
}

/// One `!testme` request: what to test, who asked, where it is, and how it ended.
public struct Job: Sendable, Hashable, Codable {
    public var id: Int64?
    /// The catalogue recipe.
    public var recipe: String
    /// The forge repository, `owner/name` in lower case (the forge compares them without case):
    /// with the pull request number, what a job belongs to.
    public var repository: String
    public var pr: Int
    /// The pull request's head commit when the request was accepted.
    public var headSHA: String
    /// `--stages` as given (comma-separated); `nil`: every stage.
    public var stages: String?
    /// `!testme --quick`: the quick lane on the recipe's warm canonical.
    public var quick = false
    /// The forge user who asked.
    public var requester: String
    /// The `!testme` comment.
    public var commentID: Int64?
    /// cc-ci's own comment on the pull request (the acknowledgement, edited with the result).
    public var replyCommentID: Int64?
    public var state: JobState
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// 1, then 2 after the server was stopped once while it ran.
    public var attempt: Int
    /// The run of the current (or last) attempt.
    public var runID: String?
    public var exitCode: Int?
    public var level: Int?
    /// The node whose worker claimed the job (`nil` until one does): its ``pid`` and its run's
    /// directory mean something there only.
    public var node: String?
    /// The `ccci run` process (its process group leader) while it runs, and its start time.
    public var pid: Int32?
    public var processStart: Int64?
    /// Set when the job must stop (a push superseded it, an operator cancelled it); the worker ends
    /// it as `cancelled`.
    public var cancelReason: String?
    /// Why the job ended as it did, in a sentence.
    public var note: String?
    /// Replies to the forge that could not be delivered.
    public var replyError: String?
    /// When the server handed the job to a CI engine (``dispatchRef`` its handle there, once the
    /// engine took it); `nil`: not handed over (this node's workers claim it).
    public var dispatchedAt: Date?
    public var dispatchRef: String?

    public init(
        recipe: String, repository: String, pr: Int, headSHA: String, stages: String?, requester: String,
        commentID: Int64?, queuedAt: Date = Date(), quick: Bool = false
    ) {
        self.quick = quick
        self.recipe = recipe
        self.repository = repository.lowercased()
        self.pr = pr
        self.headSHA = headSHA
        self.stages = stages
        self.requester = requester
        self.commentID = commentID
        self.state = .queued
        self.queuedAt = queuedAt
        self.attempt = 1
    }

    /// The job's id (a stored job always has one).
    public var number: Int64 { id ?? 0 }
}

/// A reply to the forge waiting to be delivered, or delivered (the outbox). Replies are
/// delivered one at a time in the order they were written, so a job's acknowledgement always
/// comes before its result.
public struct Reply: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, Hashable {
        /// A new comment on the pull request.
        case comment
        /// The job's own comment: edited when it exists, else posted (and remembered on the job).
        case jobComment
        /// A commit status on ``sha``.
        case status
    }

    public enum State: String, Sendable, Codable, Hashable {
        /// To deliver (again, after ``Reply/nextAttemptAt`` when an attempt failed).
        case pending
        case sent
        /// Given up on: the forge refused it for good, or it waited too long.
        case failed
        /// Not sent: a newer reply says the same thing better (a later commit status of the same
        /// commit, a later text of the same job's comment).
        case superseded
    }

    public var id: Int64?
    public var jobID: Int64?
    /// `owner/name`.
    public var repository: String
    /// The pull request (issue) number.
    public var issue: Int
    public var kind: Kind
    public var body: String?
    public var sha: String?
    /// `pending`, `success`, `failure`, `error`.
    public var statusState: String?
    public var statusDescription: String?
    public var targetURL: String?
    public var state: State = .pending
    public var attempts = 0
    public var error: String?
    public var createdAt = Date()
    public var deliveredAt: Date?
    /// When a reply whose delivery failed is tried again (`nil`: at once).
    public var nextAttemptAt: Date?

    /// A comment (``Kind/comment`` or ``Kind/jobComment``).
    public static func comment(
        _ body: String, on issue: Int, in repository: String, job: Int64?, kind: Kind = .comment
    )
        -> Reply
    {
        Reply(id: nil, jobID: job, repository: repository.lowercased(), issue: issue, kind: kind, body: body)
    }

    /// A commit status in context `cc-ci`.
    public static func status(
        _ state: String, description: String, targetURL: String?, sha: String, issue: Int, in repository: String,
        job: Int64?
    ) -> Reply {
        Reply(
            id: nil, jobID: job, repository: repository.lowercased(), issue: issue, kind: .status, sha: sha,
            statusState: state, statusDescription: description, targetURL: targetURL)
    }

    /// How a job's `replyError` starts while one of its replies waits for the forge.
    public static let waitingPrefix = "waiting for the forge"
}

/// A `!testme` comment cc-ci acted on, by the forge's own comment id — which the webhook's
/// signature covers, unlike the delivery id header — so that a replayed or redelivered comment
/// is recognised and changes nothing, and a comment whose forge calls failed waits here to be
/// tried again.
///
/// A comment is claimed (``Outcome/waiting``, with a lease in ``nextAttemptAt``) before the forge
/// is asked anything; it then ends in one of the other outcomes. A server that dies in between
/// leaves it `waiting`, and it is taken up again once the lease has passed.
public struct TestmeRequest: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Codable, Hashable {
        /// Being handled, or waiting for the forge to answer (tried again at ``nextAttemptAt``).
        case waiting
        /// A job was queued for it.
        case queued
        /// A job of the same head was active: the comment was pointed at it.
        case coalesced
        /// The commenter may not start runs.
        case refused
        /// The options could not be read: the usage was the answer.
        case usage
        /// Nothing to do (the pull request is closed or gone).
        case ignored
        /// The forge did not answer for too long: given up, and the pull request told.
        case expired
    }

    /// `owner/name`, lower case.
    public var repository: String
    public var commentID: Int64
    /// The pull request.
    public var issue: Int
    /// The commenter (login).
    public var author: String
    public var recipe: String
    /// `--stages` as `ccci run` takes it (`nil`: every stage).
    public var stages: String?
    public var quick: Bool
    /// The comment's `updated_at` as the forge said it.
    public var commentUpdatedAt: Date?
    public var receivedAt: Date
    public var outcome: Outcome
    /// The job it queued or was pointed at.
    public var jobID: Int64?
    /// Forge calls that failed for it.
    public var attempts: Int
    /// While ``Outcome/waiting``: when it may be taken up (again).
    public var nextAttemptAt: Date?
    public var lastError: String?

    public init(
        repository: String, commentID: Int64, issue: Int, author: String, recipe: String, stages: String?,
        quick: Bool, commentUpdatedAt: Date?, receivedAt: Date, outcome: Outcome = .waiting
    ) {
        self.repository = repository.lowercased()
        self.commentID = commentID
        self.issue = issue
        self.author = author
        self.recipe = recipe
        self.stages = stages
        self.quick = quick
        self.commentUpdatedAt = commentUpdatedAt
        self.receivedAt = receivedAt
        self.outcome = outcome
        self.attempts = 0
    }
}

/// What cc-ci knows of a pull request's head from the forge's own events, so that concurrent and
/// replayed events are ordered by the forge's clock, not by arrival.
///
/// ``updatedAt`` is a watermark: the newest `updated_at` the forge gave for the pull request, in
/// a `pull_request` event or an API answer. An event older than it is stale (a replay, or a
/// late delivery already overtaken). ``head`` is the head of the newest push event accepted and
/// ``pushedAt`` when it arrived (this node's clock): a `!testme` that asked the forge for the
/// head *before* that moment tests the pushed head, not the older one the forge gave it.
public struct PullHead: Sendable, Hashable, Codable {
    /// `owner/name`, lower case.
    public var repository: String
    public var pr: Int
    public var head: String?
    public var pushedAt: Date?
    public var updatedAt: Date?

    public init(repository: String, pr: Int, head: String? = nil, pushedAt: Date? = nil, updatedAt: Date? = nil) {
        self.repository = repository.lowercased()
        self.pr = pr
        self.head = head
        self.pushedAt = pushedAt
        self.updatedAt = updatedAt
    }

    /// Whether a pull request event that says `head` as of the forge's `updatedAt` is older than
    /// what is known: before the watermark, or at it with the head already recorded (the same
    /// event again).
    public func isStale(head eventHead: String, updatedAt eventTime: Date?) -> Bool {
        guard let eventTime, let updatedAt else { return eventHead == head }
        if eventTime < updatedAt { return true }
        return eventTime == updatedAt && eventHead == head
    }
}

/// A recipe's warm canonical (SPEC F-CANON): the version the warm app runs, as a promotion
/// proved it — the tested version and its release tag's own commit, never "the newest tag".
/// Each node keeps its own warm apps: a store shared by several nodes keeps a canonical per node,
/// and gives each node its own.
public struct CanonicalRecord: Sendable, Hashable, Codable {
    public var recipe: String
    public var version: String
    /// The commit the release tag points at (what was tested and deployed).
    public var commit: String
    /// `healthy` once promoted; `broken` when a failed promotion could not bring it back.
    public var status: String
    /// The warm app's domain (`<recipe>.warm.<ci-domain>`).
    public var domain: String
    /// The warm app's volumes (full names), comma-separated.
    public var volumes: String
    /// Their size on disk when recorded.
    public var volumeBytes: Int64
    /// The run whose green cold result was promoted.
    public var runID: String
    public var promotedAt: Date
    public var updatedAt: Date

    public init(
        recipe: String, version: String, commit: String, status: String = "healthy", domain: String,
        volumes: [String], volumeBytes: Int64, runID: String, promotedAt: Date, updatedAt: Date? = nil
    ) {
        self.recipe = recipe
        self.version = version
        self.commit = commit
        self.status = status
        self.domain = domain
        self.volumes = volumes.sorted().joined(separator: ",")
        self.volumeBytes = volumeBytes
        self.runID = runID
        self.promotedAt = promotedAt
        self.updatedAt = updatedAt ?? promotedAt
    }

    public var volumeNames: [String] { volumes.split(separator: ",").map(String.init) }

    enum CodingKeys: String, CodingKey {
        case recipe, version, commit, status, domain, volumes
        case volumeBytes = "volume_bytes"
        case runID = "run_id"
        case promotedAt = "promoted_at"
        case updatedAt = "updated_at"
    }
}

/// One sweep's report, kept in the store (its JSON as the sweep printed it).
public struct SweepRecord: Sendable, Hashable, Codable {
    public var id: String
    public var startedAt: Date
    public var finishedAt: Date
    public var dryRun: Bool
    public var reportJSON: String

    public init(id: String, startedAt: Date, finishedAt: Date, dryRun: Bool, reportJSON: String) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.dryRun = dryRun
        self.reportJSON = reportJSON
    }

    enum CodingKeys: String, CodingKey {
        case id
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case dryRun = "dry_run"
        case reportJSON = "report_json"
    }
}

extension Job {
    /// The job as a worker of `node` claims it at `now`: running, under a new run id, with no
    /// process and no exit status yet.
    public mutating func claim(by node: String, at now: Date, runID: (Job) -> String) {
        state = .running
        startedAt = now
        self.runID = runID(self)
        self.node = node
        pid = nil
        processStart = nil
        exitCode = nil
    }

    /// What a reply's delivery attempt changes on its job: a job comment the forge created
    /// becomes the job's comment (so does another comment of a job that has none yet); what was
    /// waiting for the forge is said no more once it got through; a reply given up on is noted.
    mutating func recordDelivery(of reply: Reply, delivered: Bool, error: String?, commentID: Int64?) {
        if let commentID, reply.kind == .jobComment || (reply.kind == .comment && replyCommentID == nil) {
            replyCommentID = commentID
        }
        if replyError?.hasPrefix(Reply.waitingPrefix) == true { replyError = nil }
        if !delivered, let error {
            let line = "\(reply.kind == .status ? "commit status" : "comment") not delivered: \(error)"
            replyError = [replyError, line].compactMap { $0 }.joined(separator: "\n")
        }
    }
}

/// Proves a store can be written within `timeout` (for `/healthz`): `write` must finish in time,
/// else the error says what probably holds it (`suspect`).
func probe(
    _ location: String, within timeout: Duration, suspect: String, write: @escaping @Sendable () async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await write()
            return true
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return false
        }
        defer { group.cancelAll() }
        guard let wrote = try await group.next(), wrote else {
            throw StoreError(
                path: location, operation: "write", reason: "a write did not finish within \(timeout) (\(suspect))")
        }
    }
}

/// The store could not be used: says where it is, what cc-ci was doing, and the likely fix.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What the likely fix is.
    public enum Hint: Sendable, Hashable {
        /// This user may not read or write it.
        case access
        /// It is not a cc-ci store.
        case notAStore
        /// Another process holds it.
        case busy
        /// The disk is full.
        case full
        /// The server refused the user or password.
        case credentials
        /// The server could not be reached.
        case unreachable
    }

    /// Where the store is (a path, or a URL without credentials).
    public let path: String
    public let operation: String
    /// The store's own account, when there is one (`nil`: there is no store there yet).
    public let reason: String?
    public let hint: Hint?

    public init(path: String, operation: String, reason: String?, hint: Hint? = nil) {
        self.path = path
        self.operation = operation
        self.reason = reason
        self.hint = hint
    }

    public var description: String {
        guard let reason else {
            return
                "no results store at \(path) yet — no run has been recorded on this node (or CCCI_HOME points elsewhere)"
        }
        var text = "cannot \(operation) the results store \(path): \(reason)"
        switch hint {
        case .access?:
            text += " — check that this user may read (and, for runs, write) the file and its directory"
        case .notAStore?:
            text += " — the file is not a cc-ci store (move it aside; a new one is created on the next run)"
        case .busy?:
            text += " — another process holds it; try again"
        case .full?:
            text += " — the disk is full"
        case .credentials?:
            break
        case .unreachable?:
            text += " — is the server running, and may this node reach it (host, port, firewall)?"
        case nil:
            break
        }
        return text
    }
}
