import CCCICore
import Foundation

/// One problem lint found: which rule, where, and what to do about it.
public struct LintFinding: Sendable, Hashable, Codable {
    public let rule: LintRule
    public let severity: LintSeverity
    /// The file, relative to the recipe (`compose.yml`); `nil` for the repository itself (its tags).
    public let file: String?
    /// The 1-based line in ``file``; `nil` when the finding is about the whole file or something absent.
    public let line: Int?
    /// One line: what is wrong and the fix (without the location, which ``location`` gives).
    public let message: String

    public init(rule: LintRule, severity: LintSeverity? = nil, file: String?, line: Int?, message: String) {
        self.rule = rule
        self.severity = severity ?? rule.spec.severity
        self.file = file
        self.line = line
        self.message = message
    }

    /// `compose.yml:12`, `README.md`, or `repository`.
    public var location: String {
        guard let file else { return "repository" }
        return line.map { "\(file):\($0)" } ?? file
    }

    /// The finding as one line: `compose.yml:12: warning R002: service `app` has no healthcheck — …`.
    public var rendered: String {
        "\(location): \(severity.rawValue) \(rule.id): \(message)"
    }

    enum CodingKeys: String, CodingKey {
        case rule, severity, file, line, message
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(severity, forKey: .severity)
        // Always present, `null` when absent, so the document's shape never changes.
        try container.encode(file, forKey: .file)
        try container.encode(line, forKey: .line)
        try container.encode(message, forKey: .message)
    }
}

/// What `ccci lint` (and the lint tier) reports for one recipe checkout.
public struct LintReport: Sendable, Hashable, Codable {
    /// The version of the `--json` document's shape.
    public static let schema = "ccci.lint/1"

    /// A rule that could not be checked, and why (`R014`: the checkout is not a git repository).
    public struct Skipped: Sendable, Hashable, Codable {
        public let rule: LintRule
        public let reason: String
    }

    public let schema: String
    public let recipe: String
    /// Findings in a stable order: by file (repository-level last), line, rule, message.
    public let findings: [LintFinding]
    public let skipped: [Skipped]
    public let errors: Int
    public let warnings: Int

    public init(recipe: String, findings: [LintFinding], skipped: [Skipped]) {
        self.schema = Self.schema
        self.recipe = recipe
        self.findings = findings.sorted { a, b in
            let keyA = (a.file == nil ? 1 : 0, a.file ?? "", a.line ?? 0, a.rule.id, a.message)
            let keyB = (b.file == nil ? 1 : 0, b.file ?? "", b.line ?? 0, b.rule.id, b.message)
            return keyA < keyB
        }
        self.skipped = skipped.sorted { $0.rule.id < $1.rule.id }
        self.errors = findings.filter { $0.severity == .error }.count
        self.warnings = findings.count - errors
    }

    /// Whether the recipe passes lint: no errors (warnings are reported, not failed on).
    public var passed: Bool { errors == 0 }

    /// The distinct rule ids of the findings, sorted.
    public var ruleIDs: [String] {
        Array(Set(findings.map(\.rule.id))).sorted()
    }

    /// The findings grouped by file, in report order (repository-level findings last).
    public var byFile: [(file: String?, findings: [LintFinding])] {
        var groups: [(file: String?, findings: [LintFinding])] = []
        for finding in findings {
            if let last = groups.last, last.file == finding.file {
                groups[groups.count - 1].findings.append(finding)
            } else {
                groups.append((finding.file, [finding]))
            }
        }
        return groups
    }

    /// The human report: findings grouped by file, then a summary line.
    public func renderLines() -> [String] {
        var lines: [String] = []
        for group in byFile {
            lines.append(group.file ?? "repository (tags)")
            for finding in group.findings { lines.append("  \(finding.rendered)") }
        }
        for skip in skipped { lines.append("skipped \(skip.rule.id) (\(skip.rule.spec.summary)): \(skip.reason)") }
        lines.append("\(recipe): \(count(errors, "error")), \(count(warnings, "warning"))")
        return lines
    }

    /// The `--json` document (see docs/lint.md for its shape).
    public func encoded() throws -> Data {
        try JSONCoding.prettyEncoder.encode(self)
    }

    private func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}
