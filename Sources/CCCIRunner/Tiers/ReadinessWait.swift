import CCCICore
import CCCIDeploy
import CCCISystem
import Foundation

/// The ready probe of SPEC F-META: a declarative HTTP check, or a hook, polled until it passes.
enum ReadinessWait {
    /// Polls `path` until it answers `status` (and contains `contains`).
    static func waitHTTP(
        probe: HTTPSProbe, domain: String, path: String, status: Int, contains: String?, timeout: Duration
    ) async throws {
        try await probe.withClient(domains: [domain]) { client in
            var last = "no answer"
            let ready = try await poll(
                until: { () async -> Bool in
                    guard let response = try? await client.get(domain: domain, path: path, timeout: .seconds(10))
                    else { return false }
                    if response.status == status && (contains.map { response.body.contains($0) } ?? true) {
                        return true
                    }
                    last =
                        "answered \(response.status)"
                        + (contains.map { response.body.contains($0) ? "" : " without '\($0)'" } ?? "")
                    return false
                }, timeout: timeout, backoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(500)))
            guard ready else {
                throw ReadinessError(
                    message: "https://\(domain)\(path) not ready within \(DurationText.format(timeout)): \(last)")
            }
        }
    }

    /// Runs `hook` until it exits 0.
    static func waitHook(
        hook: HookReference, runner: HookRunner, context: HookContext, log: URL, timeout: Duration
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastExit: Int32?
        let ready = try await poll(
            until: { () async throws -> Bool in
                let outcome = try await runner.run(
                    URL(fileURLWithPath: hook.path), context: context,
                    directory: URL(fileURLWithPath: hook.path).deletingLastPathComponent(), log: log,
                    timeout: max(.seconds(1), deadline - clock.now))
                lastExit = outcome.exitCode
                return outcome.succeeded
            }, timeout: timeout, backoff: Backoff(initial: .milliseconds(250), maximum: .seconds(1)))
        guard ready else {
            throw ReadinessError(
                message:
                    "ready hook \(hook.declared) did not exit 0 within \(DurationText.format(timeout)) (last exit \(lastExit.map(String.init) ?? "none"))"
            )
        }
    }
}

struct ReadinessError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
