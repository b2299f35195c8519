import CCCICore
import CCCISwarm
import Foundation

/// The ready probe of SPEC F-META: a declarative HTTP check, or a hook, polled until it passes.
enum ReadyProbe {
    /// Polls `path` until it answers `status` (and contains `contains`).
    static func waitHTTP(
        probe: HTTPSProbe, domain: String, path: String, status: Int, contains: String?, timeout: Duration
    ) async throws {
        try await probe.withClient(domains: [domain]) { client in
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            var delay = Duration.milliseconds(100)
            var last = "no answer"
            while true {
                if let response = try? await client.get(domain: domain, path: path, timeout: .seconds(10)) {
                    if response.status == status && (contains.map { response.body.contains($0) } ?? true) { return }
                    last =
                        "answered \(response.status)"
                        + (contains.map { response.body.contains($0) ? "" : " without '\($0)'" } ?? "")
                }
                guard clock.now + delay < deadline else {
                    throw ReadyProbeError(
                        message: "https://\(domain)\(path) not ready within \(DurationText.format(timeout)): \(last)")
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .milliseconds(500))
            }
        }
    }

    /// Runs `hook` until it exits 0.
    static func waitHook(
        hook: HookReference, runner: HookRunner, context: HookContext, log: URL, timeout: Duration
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var delay = Duration.milliseconds(250)
        while true {
            let outcome = try await runner.run(
                URL(fileURLWithPath: hook.path), context: context,
                directory: URL(fileURLWithPath: hook.path).deletingLastPathComponent(), log: log,
                timeout: max(.seconds(1), deadline - clock.now))
            if outcome.succeeded { return }
            guard clock.now + delay < deadline else {
                throw ReadyProbeError(
                    message:
                        "ready hook \(hook.declared) did not exit 0 within \(DurationText.format(timeout)) (last exit \(outcome.exitCode))"
                )
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }
}

struct ReadyProbeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
