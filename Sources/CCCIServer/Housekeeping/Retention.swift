import CCCICore
import CCCIStore
import Foundation

/// Run directory retention (`[retention]`, `ccci gc`): a run directory goes only when it is
/// neither among the newest `keep_runs` runs of its recipe nor younger than `keep_days` days —
/// and never while its run lives (a registration in `<home>/live/`) or its job is queued or
/// running. The store's history rows stay: only the files go.
public struct Retention: Sendable {
    public let config: NodeConfig

    public init(config: NodeConfig) {
        self.config = config
    }

    /// One run directory.
    public struct RunDirectory: Sendable, Hashable, Codable {
        public let runID: String
        public let recipe: String
        public let startedAt: Date
        public let bytes: Int64

        public init(runID: String, recipe: String, startedAt: Date, bytes: Int64) {
            self.runID = runID
            self.recipe = recipe
            self.startedAt = startedAt
            self.bytes = bytes
        }
    }

    /// What a collection removed (or, dry, would remove).
    public struct Report: Sendable, Hashable, Codable {
        public var removed: [RunDirectory] = []
        public var kept = 0
        public var protected: [String] = []
        public var failures: [String] = []

        public var bytes: Int64 { removed.reduce(0) { $0 + $1.bytes } }
    }

    /// The directories `policy` lets go, given every run directory and `now`.
    public static func expired(_ runs: [RunDirectory], policy: RetentionPolicy, now: Date) -> [RunDirectory] {
        let cutoff = now.addingTimeInterval(-Double(policy.keepDays) * 86_400)
        return Dictionary(grouping: runs, by: \.recipe).values.flatMap { runs in
            runs.sorted { ($0.startedAt, $0.runID) > ($1.startedAt, $1.runID) }.dropFirst(policy.keepRuns).filter {
                $0.startedAt < cutoff
            }
        }.sorted { $0.runID < $1.runID }
    }

    /// Every run directory under `<home>/runs`: recipe and start from its results.json, else
    /// from its id (`<stamp>-<recipe>-<suffix>`), else from the directory itself.
    public func scan() -> [RunDirectory] {
        let root = config.runsDirectory
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return entries.sorted().compactMap { entry in
            let directory = root.appendingPathComponent(entry)
            var isDirectory: ObjCBool = false
            guard RunID.isValid(entry),
                FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
                isDirectory.boolValue
            else { return nil }
            let bytes = Self.size(of: directory)
            if let data = try? Data(contentsOf: directory.appendingPathComponent("results.json")),
                let results = try? JSONCoding.decoder.decode(RunResults.self, from: data)
            {
                return RunDirectory(runID: entry, recipe: results.recipe, startedAt: results.startedAt, bytes: bytes)
            }
            let modified =
                (try? FileManager.default.attributesOfItem(atPath: directory.path)[.modificationDate] as? Date)
                ?? Date()
            let parts = entry.split(separator: "-")
            let recipe = parts.count >= 3 ? parts.dropFirst().dropLast().joined(separator: "-") : "(unknown)"
            return RunDirectory(runID: entry, recipe: recipe, startedAt: modified, bytes: bytes)
        }
    }

    /// Applies the policy (`dryRun`: only reports). `active` are run ids of queued or running jobs.
    public func collect(dryRun: Bool, active: Set<String> = [], now: Date = Date()) -> Report {
        var report = Report()
        let runs = scan()
        let live = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: config.home.appendingPathComponent("live").path))
                ?? []).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(".json".count)) })
        let expired = Self.expired(runs, policy: config.retention, now: now)
        report.kept = runs.count - expired.count
        for run in expired {
            if live.contains(run.runID) || active.contains(run.runID) {
                report.protected.append(run.runID)
                report.kept += 1
                continue
            }
            if !dryRun {
                do {
                    try FileManager.default.removeItem(at: config.runsDirectory.appendingPathComponent(run.runID))
                } catch {
                    report.failures.append("\(run.runID): \(error.localizedDescription)")
                    continue
                }
            }
            report.removed.append(run)
        }
        return report
    }

    /// The bytes of the files under `directory`.
    static func size(of directory: URL) -> Int64 {
        guard
            let enumerator = FileManager.default.enumerator(
                at: directory, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey])
        else { return 0 }
        var total: Int64 = 0
        for case let file as URL in enumerator {
            let values = try? file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
            if values?.isRegularFile == true { total += Int64(values?.fileSize ?? 0) }
        }
        return total
    }
}

extension Retention {
    /// The run ids of queued and running jobs (never collected).
    public static func activeRuns(in store: (any NodeStore)?) async -> Set<String> {
        guard let store, let jobs = try? await store.jobs(in: [.queued, .running]) else { return [] }
        return Set(jobs.compactMap(\.runID))
    }
}
