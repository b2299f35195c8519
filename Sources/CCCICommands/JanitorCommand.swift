import ArgumentParser
import CCCICore
import CCCIDeploy
import CCCILab
import CCCIRunner
import CCCIStore
import CCCISystem
import Foundation

/// `ccci janitor`: reap the apps of dead runs now.
struct JanitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "janitor",
        abstract: "Reap the apps of runs that died (their app lock is free); never touch a live run's.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only say what would be reaped.")
    var dryRun = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let config = try global.loadConfig()
        let logger = global.makeLogger()
        let naming = try config.naming()
        // Dead runs are recorded in the store as interrupted; without a usable store the janitor still reaps.
        let store = try? await Store.open(config)
        let report = try await DriverFactory.with(config, logger: logger, ingress: LabIngress.forNode(config)) {
            driver in
            await Janitor(config: config, naming: naming, driver: driver, store: store).sweep(dryRun: dryRun)
        }
        if json {
            print(String(decoding: try JSONCoding.prettyEncoder.encode(report), as: UTF8.self))
        } else {
            report.lines.forEach { print($0) }
            print(
                "janitor: \(report.reaped.count) \(dryRun ? "to reap" : "reaped"), \(report.live.count) live, "
                    + "\(report.interrupted.count) dead run\(report.interrupted.count == 1 ? "" : "s") recorded, "
                    + "\(report.flagged.count) flagged, \(report.kept.count) kept, \(report.skipped.count) skipped")
        }
        if !report.flagged.isEmpty { throw ExitCode(3) }
    }
}
