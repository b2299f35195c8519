import CCCICore
import CCCILint
import Foundation

/// The lint tier (SPEC F-LEVEL, L5's first half): the code under test checked against the lint
/// rules (docs/lint.md, the same as `ccci lint`) before anything is deployed — seconds, no swarm.
/// Its first check says how many errors and warnings, naming the rules that erred (the tier's
/// reason when it fails); then one check per rule, so JUnit and the run page list them: pass
/// (warnings in its message), fail with the rule's findings at file:line, or skip with why.
/// The report is kept in the run directory as `lint.json`.
struct LintTier {
    let context: RunContext
    let prepared: PreparedRun

    func run() async -> TierResult {
        let recorder = TierRecorder(tier: .lint, role: .head, journal: context.journal, reporter: context.reporter)
        if let problem = prepared.headProblem {
            // A head that cannot be read cannot be linted either; install says why.
            recorder.conclude(.skip, reason: "the code under test cannot be read: \(problem)")
            return recorder.result()
        }
        let report: LintReport
        do {
            report = try await recorder.check("read recipe") {
                try await RecipeLinter.lint(checkout: prepared.headTree, git: context.git)
            }
        } catch {
            return recorder.result()
        }
        try? AtomicFile.write(
            try report.encoded(), to: context.runDirectory.appendingPathComponent("lint.json"), permissions: 0o644)
        let lines = report.renderLines()
        for line in lines.dropLast() { context.journal.line(line, tier: Tier.lint.rawValue) }
        let erring = Set(report.findings.filter { $0.severity == .error }.map(\.rule.id)).sorted()
        let summary =
            "\(report.errors) error\(report.errors == 1 ? "" : "s"), \(report.warnings) warning\(report.warnings == 1 ? "" : "s")"
        recorder.record(
            Check(
                name: "lint", status: report.passed ? .pass : .fail, durationSeconds: 0,
                message: erring.isEmpty ? summary : "\(summary) — \(erring.joined(separator: ", ")) (see lint.json)"))
        let skipped = Dictionary(report.skipped.map { ($0.rule, $0.reason) }, uniquingKeysWith: { first, _ in first })
        for rule in LintRule.allCases {
            let name = "\(rule.id) \(rule.spec.summary)"
            if let reason = skipped[rule] {
                recorder.record(Check(name: name, status: .skip, durationSeconds: 0, message: reason))
                continue
            }
            let found = report.findings.filter { $0.rule == rule }
            let failed = found.contains { $0.severity == .error }
            recorder.record(
                Check(
                    name: name, status: failed ? .fail : .pass, durationSeconds: 0,
                    message: found.isEmpty ? nil : found.map(\.rendered).joined(separator: "\n")))
        }
        await recorder.note(lines.last ?? summary)
        return recorder.result()
    }
}
