import CCCICore
import CCCISystem
import Foundation

/// Records one tier's checks: each check is timed, logged, reported on the terminal and kept for
/// the results (and JUnit). The first failing check fails the tier and its message is the tier's
/// reason.
public final class TierRecorder: Sendable {
    public let tier: Tier
    public let role: AppRole
    /// What part of the tier this recorder keeps (`from 1.0.0`: one base of several), shown with
    /// its role on the terminal and before its lines in the log.
    public let scope: String?
    let journal: RunJournal
    let reporter: Reporter
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let state = Locked(State())

    struct State {
        var checks: [Check] = []
        var failure: String?
        var outcome: (TierStatus, String)?
        /// The check that was running when the run was stopped.
        var cancelledDuring: String?
        /// How the tier's data proofs were made.
        var proofs: [String] = []
    }

    init(tier: Tier, role: AppRole, scope: String? = nil, journal: RunJournal, reporter: Reporter) {
        self.tier = tier
        self.role = role
        self.scope = scope
        self.journal = journal
        self.reporter = reporter
        start = clock.now
    }

    /// The role as the terminal shows it.
    var shownRole: String { scope.map { "\(role.rawValue) \($0)" } ?? role.rawValue }

    /// A line of the tier's log.
    func line(_ text: String) {
        journal.line(scope.map { "[\($0)] \(text)" } ?? text, tier: tier.rawValue)
    }

    /// The tier's log file.
    public var log: URL { journal.tierLog(tier.rawValue) }

    /// Runs one check. `waitLabel` shows a live wait while it runs. A thrown error fails the check
    /// (and the tier) and is rethrown as a ``CheckFailure`` carrying the message.
    @discardableResult
    public func check<T: Sendable>(
        _ name: String, waitLabel: String? = nil, _ body: () async throws -> T
    ) async throws -> T {
        let checkStart = clock.now
        line("\(name): started")
        var token: Int?
        if let waitLabel { token = await reporter.beginWait("\(role.rawValue) \(waitLabel)") }
        do {
            let value = try await body()
            if let token { await reporter.endWait(token) }
            let elapsed = clock.now - checkStart
            record(Check(name: name, status: .pass, durationSeconds: elapsed.seconds))
            line("\(name): passed in \(DurationText.format(elapsed))")
            await reporter.step(role: shownRole, tier: tier.rawValue, name: name, result: .passed, elapsed: elapsed)
            return value
        } catch {
            if let token { await reporter.endWait(token) }
            let elapsed = clock.now - checkStart
            // A stopped run is not the recipe's failure: whatever a cancelled step threw (the
            // engine's or a child's error once its connection or process is cut), it is recorded
            // as cancelled, with no verdict.
            if error is CancellationError || Task.isCancelled {
                record(Check(name: name, status: .cancelled, durationSeconds: elapsed.seconds, message: "stopped"))
                state.withLock { if $0.cancelledDuring == nil { $0.cancelledDuring = name } }
                line("\(name): stopped after \(DurationText.format(elapsed))")
                await reporter.step(
                    role: shownRole, tier: tier.rawValue, name: name, result: .skipped("stopped"), elapsed: elapsed)
                throw CancellationError()
            }
            let message = journal.redactor.redact(String(describing: error))
            record(Check(name: name, status: .fail, durationSeconds: elapsed.seconds, message: message))
            state.withLock { if $0.failure == nil { $0.failure = "\(name): \(message)" } }
            line("\(name): FAILED after \(DurationText.format(elapsed)): \(message)")
            await reporter.step(
                role: shownRole, tier: tier.rawValue, name: name, result: .failed(message), elapsed: elapsed)
            throw CheckFailure(check: name, message: message)
        }
    }

    /// Records a check that did not run.
    public func skip(_ name: String, reason: String) async {
        record(Check(name: name, status: .skip, durationSeconds: 0, message: reason))
        line("\(name): skipped — \(reason)")
        await reporter.step(
            role: shownRole, tier: tier.rawValue, name: name, result: .skipped(reason), elapsed: nil)
    }

    /// Records an externally decided check (a functional test case). Its message is cleaned of
    /// the run's secret values.
    public func record(_ check: Check) {
        var check = check
        check.message = check.message.map(journal.redactor.redact)
        state.withLock { $0.checks.append(check) }
        if check.status == .fail {
            state.withLock { if $0.failure == nil { $0.failure = "\(check.name): \(check.message ?? "failed")" } }
        }
    }

    /// Records how a data proof was made (results and the terminal say it).
    public func proof(_ text: String) async {
        state.withLock { $0.proofs.append(text) }
        await note("data proof: \(text)")
    }

    /// Reports a detail line without a verdict.
    public func note(_ text: String) async {
        line(text)
        await reporter.step(role: shownRole, tier: tier.rawValue, name: "", result: .info(text), elapsed: nil)
    }

    /// Decides the tier's verdict regardless of its checks (N/A, skipped).
    public func conclude(_ status: TierStatus, reason: String) {
        let reason = journal.redactor.redact(reason)
        state.withLock { $0.outcome = (status, reason) }
    }

    /// The tier's result: the concluded verdict, else fail on any failed check, else pass.
    public func result() -> TierResult {
        let current = state.value
        let elapsed = (clock.now - start).seconds
        let log = journal.tierLogPath(tier.rawValue)
        if let failure = current.failure {
            return TierResult(
                status: .fail, durationSeconds: elapsed, checks: current.checks, reason: failure, log: log,
                proofs: current.proofs)
        }
        if let check = current.cancelledDuring {
            return TierResult(
                status: .cancelled, durationSeconds: elapsed, checks: current.checks,
                reason: "the run was stopped during `\(check)`", log: log, proofs: current.proofs)
        }
        if let (status, reason) = current.outcome {
            return TierResult(
                status: status, durationSeconds: elapsed, checks: current.checks, reason: reason, log: log,
                proofs: current.proofs)
        }
        return TierResult(
            status: .pass, durationSeconds: elapsed, checks: current.checks, log: log, proofs: current.proofs)
    }

    /// Whether a check failed.
    public var failed: Bool { state.value.failure != nil }

    /// Whether the run was stopped during one of the tier's checks.
    public var cancelled: Bool { state.value.cancelledDuring != nil }

    /// Records that the run was stopped while `name` ran outside ``check(_:waitLabel:_:)``.
    public func cancel(during name: String) {
        state.withLock { if $0.cancelledDuring == nil { $0.cancelledDuring = name } }
    }
}

/// A failed check (the tier's first failure stops the tier).
public struct CheckFailure: Error, Sendable, CustomStringConvertible {
    public let check: String
    public let message: String

    public var description: String { "\(check): \(message)" }
}
