import CCCICore
import Foundation

/// Copies one node's store into another (`ccci store migrate`): its run history, its warm
/// canonicals and sweeps, its jobs and their undelivered replies — so that a node can move from
/// its SQLite file to a PostgreSQL store other nodes share. Idempotent: what the target already
/// holds is counted, not copied again. Nothing is written when the source has a running job (its
/// server must be stopped) or the target holds another node's job for one of the same runs.
///
/// The forge's deliveries, `!testme` comments acted on and pull request heads are not copied: they
/// only guard against replays, which the forge no longer sends for old events.
public struct StoreMigration: Sendable {
    public let source: any NodeStore
    public let target: any NodeStore
    /// The node whose store is copied (its jobs and canonicals).
    public let node: String

    public init(from source: any NodeStore, to target: any NodeStore, node: String) {
        self.source = source
        self.target = target
        self.node = node
    }

    /// What was copied, and what the target already held, by table.
    public struct Report: Sendable, Hashable, Codable {
        public var runs = Count()
        public var canonicals = Count()
        public var sweeps = Count()
        public var jobs = Count()
        public var replies = Count()

        public struct Count: Sendable, Hashable, Codable {
            public var copied = 0
            public var present = 0
        }

        public init() {}

        /// One line per table.
        public var lines: [String] {
            [("runs", runs), ("canonicals", canonicals), ("sweeps", sweeps), ("jobs", jobs), ("replies", replies)]
                .map { name, count in
                    "\(name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(count.copied) copied, "
                        + "\(count.present) already there"
                }
        }
    }

    /// Why nothing was copied.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Copies everything; throws ``Refusal`` (having written nothing) when the copy would be wrong.
    public func run() async throws -> Report {
        let jobs = try await source.jobs(in: [])
        let running = jobs.filter { $0.state == .running }
        guard running.isEmpty else {
            throw Refusal(
                description: "\(source.location) has \(running.count) running job(s) (\(running.map(\.number))) — "
                    + "stop `ccci serve` on this node first; its recovery finishes them")
        }
        let summaries = try await source.runs(recipe: nil, limit: Int.max)
        // Refused before anything is written: another node's job for one of these runs, or another
        // run under one of these ids.
        for job in jobs {
            guard let runID = job.runID, let other = try await target.job(runID: runID) else { continue }
            if other.node != job.node {
                throw Refusal(
                    description: "\(target.location) holds node \(other.node ?? "?")'s job \(other.number) for run "
                        + "\(runID), which is this node's — is another node's store being copied in?")
            }
        }
        var report = Report()
        var batch: [RunResults] = []
        for summary in summaries {
            if let there = try await target.results(runID: summary.runID) {
                guard there.recipe == summary.recipe, there.startedAt == summary.startedAt else {
                    throw Refusal(
                        description: "\(target.location) holds another run under the id \(summary.runID) "
                            + "(\(there.recipe), started \(there.startedAt))")
                }
                report.runs.present += 1
            } else if let results = try await source.results(runID: summary.runID) {
                batch.append(results)
                if batch.count == 500 {
                    try await target.record(contentsOf: batch)
                    report.runs.copied += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        if !batch.isEmpty {
            try await target.record(contentsOf: batch)
            report.runs.copied += batch.count
        }

        for canonical in try await source.canonicals() {
            let there = try await target.canonical(canonical.recipe)
            if there == canonical {
                report.canonicals.present += 1
            } else if try await target.swapCanonical(expected: there, with: canonical) {
                report.canonicals.copied += 1
            }
        }
        let sweepsThere = Set(try await target.sweeps(limit: Int.max).map(\.id))
        for sweep in try await source.sweeps(limit: Int.max) {
            if sweepsThere.contains(sweep.id) {
                report.sweeps.present += 1
            } else {
                try await target.record(sweep: sweep)
                report.sweeps.copied += 1
            }
        }

        let jobsThere = Set(try await target.jobs(in: []).map(Self.identity))
        for job in jobs {
            guard !jobsThere.contains(Self.identity(job)) else {
                report.jobs.present += 1
                continue
            }
            let pending = try await source.replies(job: job.number).filter { $0.state == .pending }
            _ = try await target.transaction { queue in
                var copy = job
                copy.id = nil
                let inserted = try queue.insert(copy)
                for reply in pending {
                    var moved = reply
                    moved.id = nil
                    moved.jobID = inserted.id
                    try queue.add(moved)
                }
                return inserted.number
            }
            report.jobs.copied += 1
            report.replies.copied += pending.count
        }
        return report
    }

    /// What makes a job the same job in both stores (its id is not: the target numbers its own).
    static func identity(_ job: Job) -> String {
        [
            job.repository.lowercased(), job.recipe, "\(job.pr)", job.headSHA,
            "\(Int64((job.queuedAt.timeIntervalSince1970 * 1000).rounded()))", job.runID ?? "",
        ].joined(separator: "\u{1F}")
    }
}
