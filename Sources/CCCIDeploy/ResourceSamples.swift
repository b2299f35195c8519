import CCCICore
import Foundation

/// The samples of an app's resource use as a driver reads them (``AppDriver/watchResources(of:into:)``),
/// folded per service as they arrive: nothing is kept per sample.
public actor ResourceSamples {
    struct Service {
        var peakRSS: Int64 = 0
        var cpuTotal = 0.0
        var cpuPeak = 0.0
        var cpuSamples = 0
        var samples = 0
        var imageBytes: Int64?
    }

    private var services: [String: Service] = [:]

    public init() {}

    /// One stats sample of a container of `service`: its working set and, when the sample has a
    /// previous one to measure against, its CPU.
    public func record(service: String, rssBytes: Int64, cpuPercent: Double?) {
        var entry = services[service] ?? Service()
        entry.peakRSS = max(entry.peakRSS, rssBytes)
        entry.samples += 1
        if let cpuPercent {
            entry.cpuTotal += cpuPercent
            entry.cpuPeak = max(entry.cpuPeak, cpuPercent)
            entry.cpuSamples += 1
        }
        services[service] = entry
    }

    /// The size of the image `service` runs.
    public func record(service: String, imageBytes: Int64) {
        var entry = services[service] ?? Service()
        entry.imageBytes = imageBytes
        services[service] = entry
    }

    /// Whether the image size of `service` is known.
    public func hasImage(_ service: String) -> Bool { services[service]?.imageBytes != nil }

    /// The profile of the app at `app`: the services that gave at least one sample.
    public func profile(app: String) -> ResourceProfile {
        ResourceProfile(
            app: app,
            services: services.filter { $0.value.samples > 0 }.mapValues { service in
                ServiceResources(
                    peakRSSBytes: service.peakRSS,
                    meanCPUPercent: service.cpuSamples > 0 ? service.cpuTotal / Double(service.cpuSamples) : 0,
                    peakCPUPercent: service.cpuPeak, imageBytes: service.imageBytes, samples: service.samples)
            })
    }
}
