import ArgumentParser
import CCCICore
import CCCIDeploy
import CCCIRunner
import CCCISwarm
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
        let report = try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
            await Janitor(
                config: config, naming: naming, driver: NativeDriver(config: config, engine: engine, logger: logger)
            )
            .sweep(dryRun: dryRun)
        }
        if json {
            print(String(decoding: try JSONCoding.prettyEncoder.encode(report), as: UTF8.self))
        } else {
            report.lines.forEach { print($0) }
            print(
                "janitor: \(report.reaped.count) \(dryRun ? "to reap" : "reaped"), \(report.live.count) live, "
                    + "\(report.flagged.count) flagged, \(report.kept.count) kept, \(report.skipped.count) skipped")
        }
        if !report.flagged.isEmpty { throw ExitCode(3) }
    }
}

/// `ccci teardown <domain>…`: remove apps by domain (e.g. ones kept with --keep-on-failure).
struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract: "Remove apps by domain — stack, volumes, secrets, env file, backups — and verify. Never a live run's."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "App domains.")
    var domains: [String]

    func run() async throws {
        let config = try global.loadConfig()
        let logger = global.makeLogger()
        try FileManager.default.createDirectory(at: config.lockDirectory, withIntermediateDirectories: true)
        let clean = try await DockerEngine.with(socketPath: config.dockerSocket, logger: logger) { engine in
            let driver = NativeDriver(config: config, engine: engine, logger: logger)
            var clean = true
            for domain in domains {
                // Like the janitor: only an app whose lock nobody holds may be removed.
                guard let lock = try FileLock.tryAcquire(AppLocks.path(for: domain, in: config.lockDirectory)) else {
                    print("\(domain): a live run holds its lock — not removed (wait for it, or stop that run)")
                    clean = false
                    continue
                }
                let left = try await driver.remove(domain: domain)
                lock.unlinkWhileHeld()
                lock.release()
                print(left.isEmpty ? "\(domain): removed, no residue" : "\(domain): left \(left.summary)")
                clean = clean && left.isEmpty
            }
            return clean
        }
        if !clean { throw ExitCode.failure }
    }
}
