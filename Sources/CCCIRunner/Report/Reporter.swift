import CCCICore
import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The terminal report of a run (SPEC F-PROGRESS): a header, one line per step with the time
/// since the run started, a live spinner line while waiting (on a TTY), a final table and the
/// level. Colour only on a TTY and never when `NO_COLOR` is set. Separate from the log.
public actor Reporter {
    /// How a step ended.
    public enum StepResult: Sendable {
        case passed
        case failed(String)
        case skipped(String)
        case info(String)
    }

    private let enabled: Bool
    private let redactor: SecretRegistry
    private let tty: Bool
    private let colour: Bool
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var waits: [Int: (label: String, since: ContinuousClock.Instant, announced: Duration)] = [:]
    private var nextWait = 0
    private var spinnerFrame = 0
    private var statusShown = false

    /// A reporter writing to stdout; `enabled: false` prints nothing (`--json`).
    public init(
        enabled: Bool, redactor: SecretRegistry = SecretRegistry(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.enabled = enabled
        self.redactor = redactor
        tty = isatty(STDOUT_FILENO) == 1
        colour = tty && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        start = ContinuousClock().now
    }

    /// Prints lines as they are (header, manifest).
    public func print(_ lines: [String]) {
        guard enabled else { return }
        clearStatus()
        for line in lines { write(line + "\n") }
        drawStatus()
    }

    /// One finished step: `  12.3s  head     install  converge        ✓ 2.1s`.
    public func step(role: String, tier: String, name: String, result: StepResult, elapsed: Duration?) {
        guard enabled else { return }
        clearStatus()
        let mark: String
        var detail = ""
        switch result {
        case .passed: mark = paint("✓", .green)
        case .failed(let reason):
            mark = paint("✗", .red)
            detail = "  " + reason.split(separator: "\n").first.map(String.init).map { String($0.prefix(160)) }!
        case .skipped(let reason):
            mark = paint("–", .yellow)
            detail = "  " + reason
        case .info(let text):
            mark = paint("·", .dim)
            detail = "  " + text
        }
        let time = elapsed.map { " " + DurationText.format($0) } ?? ""
        let line =
            "\(timestamp())  \(pad(role, 8)) \(pad(tier, 8)) \(pad(name, 22)) \(mark)\(paint(time, .dim))\(detail)"
        write(line + "\n")
        drawStatus()
    }

    /// Starts a wait shown on the live status line; returns its token for ``endWait(_:)``. Without
    /// a TTY a wait is announced as a line only once it has lasted 5 s, then every 30 s.
    public func beginWait(_ label: String) -> Int {
        nextWait += 1
        waits[nextWait] = (label, clock.now, .zero)
        drawStatus()
        return nextWait
    }

    public func endWait(_ token: Int) {
        waits[token] = nil
        clearStatus()
        drawStatus()
    }

    /// Redraws the status line (called on a timer while the run is live); without a TTY, prints
    /// a line for waits that have lasted long.
    public func tick() {
        guard enabled, !waits.isEmpty else { return }
        if !tty {
            for (key, wait) in waits {
                let elapsed = clock.now - wait.since
                let next: Duration = wait.announced == .zero ? .seconds(5) : wait.announced + .seconds(30)
                if elapsed >= next {
                    write("\(timestamp())  still waiting: \(wait.label) (\(DurationText.format(elapsed)))\n")
                    waits[key]?.announced = next
                }
            }
            return
        }
        spinnerFrame += 1
        clearStatus()
        drawStatus()
    }

    /// The final table and level.
    public func summary(_ results: RunResults, runDirectory: URL) {
        guard enabled else { return }
        clearStatus()
        var lines = ["", "  \(pad("tier", 10)) \(pad("verdict", 14)) duration   reason"]
        for tier in Tier.allCases {
            guard let result = results.tiers[tier.rawValue] else { continue }
            let verdict: String
            switch result.status {
            case .pass where result.retry != nil: verdict = paint(pad("pass (retried)", 14), .yellow)
            case .pass: verdict = paint(pad("pass", 14), .green)
            case .fail: verdict = paint(pad("FAIL", 14), .red)
            case .skip: verdict = paint(pad("skip", 14), .yellow)
            case .na: verdict = paint(pad("n/a", 14), .dim)
            case .cancelled: verdict = paint(pad("stopped", 14), .yellow)
            case .flaky: verdict = paint(pad("FLAKY", 14), .red)
            }
            let reason = result.displayReason.map { String($0.split(separator: "\n").first ?? "").prefix(90) } ?? ""
            lines.append(
                "  \(pad(tier.rawValue, 10)) \(verdict) \(pad(DurationText.format(.milliseconds(Int64(result.durationSeconds * 1000))), 10)) \(reason)"
            )
        }
        if let bases = results.tiers[Tier.upgrade.rawValue]?.bases, bases.count > 1 {
            for (version, base) in bases {
                let verdict =
                    switch base.status {
                    case .pass: paint(pad("pass", 14), .green)
                    case .fail: paint(pad("FAIL", 14), .red)
                    case .unavailable: paint(pad("base broken", 14), .yellow)
                    case .cancelled: paint(pad("stopped", 14), .yellow)
                    case .flaky: paint(pad("FLAKY", 14), .red)
                    }
                let reason = base.reason.map { String($0.split(separator: "\n").first ?? "").prefix(80) } ?? ""
                lines.append(
                    "    from \(pad(version, 14)) \(verdict) \(pad(DurationText.format(.milliseconds(Int64(base.durationSeconds * 1000))), 10)) \(reason)"
                )
            }
        }
        for tier in Tier.allCases {
            for proof in results.tiers[tier.rawValue]?.proofs ?? [] {
                lines.append("  \(pad(tier.rawValue, 10)) data: \(proof)")
            }
        }
        let coverage = NACoverage.findings(results.tiers).filter { !$0.contains(", as declared: ") }
        if !coverage.isEmpty {
            lines.append("")
            lines += coverage.map { "  " + paint($0, .yellow) }
        }
        let rungs = results.ladder.rungs.map { rung -> String in
            let mark: String
            switch rung.state {
            case .reached: mark = paint("✓", .green)
            case .na: mark = paint("n/a", .dim)
            case .missed: mark = paint("✗", .red)
            }
            return "L\(rung.level) \(rung.name) \(mark)"
        }
        lines.append("")
        lines.append(
            "  level \(paint(String(results.level), .bold)) (\(results.ladder.version)): \(rungs.joined(separator: " · "))"
        )
        let outcome =
            results.outcome == .pass
            ? paint(results.outcome.rawValue.uppercased(), .green) : paint(results.outcome.rawValue.uppercased(), .red)
        lines.append(
            "  \(outcome) in \(DurationText.format(.milliseconds(Int64(results.durationSeconds * 1000)))) — exit \(results.exitCode)"
        )
        lines.append("  artifacts: \(runDirectory.path)/ (results.json, junit.xml, run.log, tiers/)")
        for line in lines { write(line + "\n") }
    }

    // MARK: - Rendering

    enum Style: String {
        case green = "32"
        case red = "31"
        case yellow = "33"
        case dim = "2"
        case bold = "1"
    }

    func paint(_ text: String, _ style: Style) -> String {
        guard colour, !text.isEmpty else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func timestamp() -> String {
        String(format: "%7.1fs", (clock.now - start).seconds)
    }

    private func drawStatus() {
        guard enabled, tty, !waits.isEmpty else { return }
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
        let parts = waits.keys.sorted().map { key -> String in
            let wait = waits[key]!
            return "\(wait.label) \(DurationText.format(clock.now - wait.since))"
        }
        write("\(paint(frames[spinnerFrame % frames.count], .yellow)) waiting: \(parts.joined(separator: " · "))")
        statusShown = true
    }

    private func clearStatus() {
        guard statusShown else { return }
        write("\r\u{1B}[2K")
        statusShown = false
    }

    private func write(_ text: String) {
        // The throwing API: a closed stdout (`ccci run | head`) is an error to ignore, not a crash.
        try? FileHandle.standardOutput.write(contentsOf: Data(redactor.redact(text).utf8))
    }
}
