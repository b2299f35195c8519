import CCCICore
import CCCISystem
import Foundation

/// An app domain a run locked, and so may have created: teardown removes every one of them,
/// whether or not the app got as far as existing.
struct LockedDomain: Sendable, Hashable {
    let domain: AppDomain
    /// `head app`, `upgrade app` or `dependency <recipe>`.
    let label: String
    /// The dependency's recipe, for a dependency's app.
    let dependency: String?
}

/// A run's admission to the node: one of its run slots (the capacity knob, SPEC F-CAPACITY), then
/// the locks of every app it will create (SPEC F-LOCK), taken before any exists, in one fixed
/// (sorted) order — so two runs of the same recipe, PR and ref can never each hold one lock the
/// other waits for. Waiting is said, on the terminal and in the log.
struct RunAdmission {
    let context: RunContext

    /// The domains a run will create apps at.
    static func domains(of prepared: PreparedRun, stages: [Tier], attempts: Int = 1) -> [LockedDomain] {
        var domains: [LockedDomain] = []
        for attempt in 1...max(attempts, 1) {
            let suffix = attempt > 1 ? " (attempt \(attempt))" : ""
            domains.append(
                LockedDomain(
                    domain: prepared.domain(.head, attempt: attempt), label: "head app" + suffix, dependency: nil))
            if stages.contains(.upgrade) {
                for (index, base) in prepared.upgradeBases.enumerated() {
                    let from = prepared.upgradeBases.count > 1 ? " from \(base.version.raw)" : ""
                    domains.append(
                        LockedDomain(
                            domain: prepared.domain(.upgrade, attempt: attempt, base: index),
                            label: "upgrade app" + from + suffix, dependency: nil))
                }
            }
        }
        for name in prepared.meta.dependencies {
            if let domain = prepared.dependencyDomains[name] {
                domains.append(LockedDomain(domain: domain, label: "dependency \(name)", dependency: name))
            }
        }
        return domains
    }

    /// Takes a slot and the locks of `domains`. Throws `CancellationError` when the run is
    /// stopped while waiting, ``AdmissionError`` when a lock cannot be taken at all.
    func admit(_ domains: [LockedDomain]) async throws -> [LockedDomain] {
        let capacity = context.config.capacity
        let slot: Int
        do {
            slot = try await RunSlots.acquire(capacity: capacity, in: context.config.lockDirectory) {
                await context.say(
                    "waiting for a free run slot (this node runs \(capacity) at once: `capacity` in its config)")
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            throw AdmissionError(message: "cannot take a run slot: \(error)")
        }
        context.journal.line("run slot \(slot + 1)/\(capacity) taken")
        let clock = ContinuousClock()
        let start = clock.now
        for locked in domains.sorted(by: { $0.domain < $1.domain }) {
            do {
                try await AppLocks.acquire(domain: locked.domain, in: context.config.lockDirectory) {
                    await context.say("waiting for another run of \(locked.domain) to finish (its app lock is held)")
                }
            } catch let error as CancellationError {
                throw error
            } catch {
                throw AdmissionError(message: "cannot take the app lock of \(locked.domain): \(error)")
            }
            context.journal.line("app lock held: \(locked.domain)")
        }
        await context.reporter.step(
            role: "run", tier: "", name: "app locks", result: .passed, elapsed: clock.now - start)
        return domains
    }
}

/// A run that could not be admitted to the node.
struct AdmissionError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
