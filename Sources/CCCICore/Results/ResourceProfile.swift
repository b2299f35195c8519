import Foundation

/// What the head app cost while the run exercised it (F-RESOURCES, docs/design.md): per service, sampled from
/// the engine's stats stream of each of its containers — install, backup and restore, the
/// recipe's own tests. The results' `resources`.
public struct ResourceProfile: Sendable, Hashable, Codable {
    /// The app sampled (the head app's domain).
    public var app: String
    /// By service name (`app`, `db`).
    public var services: [String: ServiceResources]

    public init(app: String, services: [String: ServiceResources]) {
        self.app = app
        self.services = services
    }

    /// `app: 41 MiB peak, db: 212 MiB peak` — services by name.
    public var summary: String {
        services.sorted { $0.key < $1.key }.map { "\($0.key): \(Self.mebibytes($0.value.peakRSSBytes)) peak" }
            .joined(separator: ", ")
    }

    /// `41 MiB` (one decimal below 10 MiB).
    public static func mebibytes(_ bytes: Int64) -> String {
        let value = Double(bytes) / 1_048_576
        return value < 10 ? String(format: "%.1f MiB", value) : String(format: "%.0f MiB", value)
    }
}

/// One service's resource use over a run.
public struct ServiceResources: Sendable, Hashable, Codable {
    /// The most memory a container of the service held at once: its cgroup's usage less the
    /// inactive file cache (what `docker stats` shows as the working set).
    public var peakRSSBytes: Int64
    /// CPU over the samples, in percent of one CPU (`docker stats`' scale: 200 is two CPUs busy).
    public var meanCPUPercent: Double
    public var peakCPUPercent: Double
    /// The size of the image it ran, as the engine reports it.
    public var imageBytes: Int64?
    /// How many stats samples were read.
    public var samples: Int

    public init(
        peakRSSBytes: Int64, meanCPUPercent: Double, peakCPUPercent: Double, imageBytes: Int64?, samples: Int
    ) {
        self.peakRSSBytes = peakRSSBytes
        self.meanCPUPercent = (meanCPUPercent * 100).rounded() / 100
        self.peakCPUPercent = (peakCPUPercent * 100).rounded() / 100
        self.imageBytes = imageBytes
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey {
        case samples
        case peakRSSBytes = "peak_rss_bytes"
        case meanCPUPercent = "cpu_mean_percent"
        case peakCPUPercent = "cpu_peak_percent"
        case imageBytes = "image_bytes"
    }
}

/// A head whose services' peak memory grew past the last release that passed (SPEC F-DASHBOARD).
public struct MemoryGrowth: Sendable, Hashable {
    public let service: String
    public let baseline: Int64
    public let head: Int64
    /// The run and version it is compared with.
    public let baselineRun: String
    public let baselineVersion: String

    /// `head / baseline - 1`: 0.3 is 30 % more.
    public var growth: Double { Double(head) / Double(max(baseline, 1)) - 1 }

    /// More than this is flagged.
    public static let limit = 0.25

    /// The growth of each service of `head` over `baseline`, when it is more than ``limit``.
    public static func flagged(
        head: ResourceProfile, baseline: ResourceProfile, baselineRun: String, baselineVersion: String
    ) -> [MemoryGrowth] {
        head.services.sorted { $0.key < $1.key }.compactMap { service, resources in
            guard let before = baseline.services[service], before.peakRSSBytes > 0 else { return nil }
            let growth = MemoryGrowth(
                service: service, baseline: before.peakRSSBytes, head: resources.peakRSSBytes,
                baselineRun: baselineRun, baselineVersion: baselineVersion)
            return growth.growth > limit ? growth : nil
        }
    }
}

/// The peak memory of a recipe's runs over time (SPEC F-DASHBOARD): the newest run's profile
/// against the last release that passed before it.
public enum MemoryTrend {
    /// How many of the newest runs the trend shows.
    public static let window = 10

    /// The run the newest one is compared with: the newest earlier run that passed, has a
    /// profile, and tested an older version than it (the last release that passed). `history` is
    /// newest first, its first element the run compared.
    public static func baseline(in history: [RunResults]) -> RunResults? {
        guard let latest = history.first, let version = latest.headVersion.flatMap(RecipeVersion.init) else {
            return nil
        }
        return history.dropFirst().first { run in
            guard run.outcome == .pass, run.resources != nil,
                let older = run.headVersion.flatMap(RecipeVersion.init)
            else { return false }
            return older < version
        }
    }

    /// The services of the newest run whose peak memory grew more than ``MemoryGrowth/limit``
    /// over ``baseline(in:)``.
    public static func growth(in history: [RunResults]) -> [MemoryGrowth] {
        guard let latest = history.first?.resources, let baseline = baseline(in: history),
            let before = baseline.resources
        else { return [] }
        return MemoryGrowth.flagged(
            head: latest, baseline: before, baselineRun: baseline.runID,
            baselineVersion: baseline.headVersion ?? "?")
    }
}
