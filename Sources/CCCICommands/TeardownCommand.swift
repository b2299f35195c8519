import ArgumentParser
import CCCICore
import CCCIDeploy
import CCCILab
import CCCIRunner
import CCCISystem
import Foundation

/// `ccci teardown <domain>…`: remove apps by domain (e.g. ones kept with `--keep-on-failure`).
///
/// It touches nothing but cc-ci's own apps: every argument must be a run-app or warm-app domain of
/// this node's CI domain (checked before anything is removed); each app is removed under the same
/// domain lock a run takes, so a live run's app is never touched; and only objects carrying
/// cc-ci's ownership labels are removed — a stack or volume someone else made under a similar
/// name is reported, never deleted.
struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract:
            "Remove cc-ci apps by domain — stack, volumes, secrets, env file, backups — and verify. Never a live run's.",
        discussion: """
            Each argument is an app domain of this node: a run app (<recipe[:4]>-<6 hex>.<ci domain>) or a \
            warm app (<recipe>.warm.<ci domain>). Exit status: 0 every app removed with no residue, 1 an \
            app does not exist, is held by a live run, or left residue, 2 an argument is not an app domain.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "App domains.")
    var domains: [String]

    func run() async throws {
        let config = try global.loadConfig()
        let naming = try config.naming()
        // Every argument is checked before anything is removed.
        var checked: [AppDomain] = []
        var problems: [String] = []
        for argument in domains {
            do {
                let domain = try naming.appDomain(argument)
                if !checked.contains(domain) { checked.append(domain) }
            } catch {
                problems.append(error.description)
            }
        }
        guard problems.isEmpty else {
            throw CommandFailure(problems.joined(separator: "\n"), exitCode: 2)
        }
        let logger = global.makeLogger()
        try FileManager.default.createDirectory(at: config.lockDirectory, withIntermediateDirectories: true)
        let clean = try await DriverFactory.with(config, logger: logger, ingress: LabIngress.forNode(config)) {
            driver in
            var clean = true
            for domain in checked {
                // The lock a run of this domain holds: a live run's app is never removed.
                guard let lock = try FileLock.tryAcquire(AppLocks.path(for: domain, in: config.lockDirectory)) else {
                    print("\(domain): a live run holds its lock — not removed (wait for it, or stop that run)")
                    clean = false
                    continue
                }
                defer { lock.release() }
                let owned = try await driver.owned(domain: domain)
                guard !owned.isEmpty else {
                    lock.unlinkWhileHeld()
                    let strays = try await driver.residue(domain: domain)
                    print(
                        "\(domain): no such app on this node"
                            + (strays.isEmpty
                                ? ""
                                : " — objects named after it exist but cc-ci did not create them, so they are not "
                                    + "touched: \(strays.summary)"))
                    clean = false
                    continue
                }
                let left = try await driver.remove(domain: domain)
                lock.unlinkWhileHeld()
                print(left.isEmpty ? "\(domain): removed, no residue" : "\(domain): left \(left.summary)")
                clean = clean && left.isEmpty
            }
            return clean
        }
        if !clean { throw ExitCode.failure }
    }
}
