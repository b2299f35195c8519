import CCCIStore
import Foundation
import Logging
import ServiceLifecycle

/// Takes up the `!testme` comments that wait for the forge (``TestmeRequest/Outcome/waiting``
/// whose time has come): a forge that was down when they arrived, or a server that died while it
/// decided them. Each is decided by the same ``Bridge/admit(_:logger:)`` a webhook uses, once.
public final class IntakeRetry: Service, Sendable {
    let bridge: Bridge
    /// The longest it sleeps without being woken (a lease may run out meanwhile).
    let idle: Duration

    public init(bridge: Bridge, idle: Duration = .seconds(60)) {
        self.bridge = bridge
        self.idle = idle
    }

    public func run() async throws {
        let wakeup = bridge.wakeIntake
        await withGracefulShutdownHandler {
            while !wakeup.isStopped {
                let generation = wakeup.generation
                await takeUpDue()
                await wakeup.wait(since: generation, atMost: await nextDelay())
            }
        } onGracefulShutdown: {
            wakeup.stop()
        }
    }

    /// Decides every waiting request that is due.
    func takeUpDue() async {
        while !bridge.wakeIntake.isStopped {
            let due: [TestmeRequest]
            do {
                due = try await bridge.store.dueTestmeRequests()
            } catch {
                bridge.logger.error("cannot read the waiting !testme comments", metadata: ["error.message": "\(error)"])
                return
            }
            guard !due.isEmpty else { return }
            for request in due {
                var logger = bridge.logger
                logger[metadataKey: "forge.repository"] = "\(request.repository)"
                logger[metadataKey: "pr"] = "\(request.issue)"
                logger[metadataKey: "forge.comment"] = "\(request.commentID)"
                let answer: Bridge.Answer
                do {
                    answer = try await bridge.admit(request, logger: logger)
                } catch {
                    logger.error("cannot decide a waiting !testme", metadata: ["error.message": "\(error)"])
                    return
                }
                // Still waiting: the forge is still away, the others would wait as well.
                if answer.waiting { return }
            }
        }
    }

    /// How long until the next waiting request is due.
    func nextDelay() async -> Duration {
        guard let next = try? await bridge.store.nextTestmeAttempt() else { return idle }
        let seconds = max(0, next.timeIntervalSinceNow)
        return min(idle, .milliseconds(Int64(seconds * 1000) + 10))
    }
}
