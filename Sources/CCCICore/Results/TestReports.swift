import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// One test case a test executable reported.
public struct ReportedCase: Sendable, Hashable {
    public let name: String
    public let status: TierStatus
    public let message: String?
    public let durationSeconds: Double

    public init(name: String, status: TierStatus, message: String? = nil, durationSeconds: Double = 0) {
        self.name = name
        self.status = status
        self.message = message
        self.durationSeconds = durationSeconds
    }
}

/// TAP (Test Anything Protocol, version 12/13) as test scripts print it.
///
/// - `ok N - name` passes, `not ok N - name` fails; a `# SKIP reason` directive skips; `# TODO`
///   marks a known failure (a failing TODO is not a failure, a passing one is a pass);
/// - an indented YAML block (`---` … `...`) after a test line is its diagnostics: for a failed
///   test its `message` (or first lines) becomes the case's message;
/// - `Bail out! reason` stops the run: a failed case says so;
/// - a plan (`1..N`, at the start or the end) that the tests run do not match is a failure, as is
///   `1..0` with a skip reason a skip of everything.
public enum TAP {
    /// The cases in `output`; empty when it holds no TAP at all.
    public static func parse(_ output: String) -> [ReportedCase] {
        var cases: [ReportedCase] = []
        var plan: Int?
        var planSkip: String?
        var sawTAP = false
        var diagnostics: [String]?
        for rawLine in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // A YAML diagnostics block belongs to the test line before it.
            if var lines = diagnostics {
                if trimmed == "..." {
                    attach(lines, to: &cases)
                    diagnostics = nil
                } else {
                    lines.append(trimmed)
                    diagnostics = lines
                }
                continue
            }
            if trimmed == "---", line.first == " ", !cases.isEmpty {
                diagnostics = []
                continue
            }
            if line.first == " " || line.first == "\t" { continue }  // subtests and other indented output
            if trimmed.hasPrefix("TAP version") {
                sawTAP = true
                continue
            }
            if trimmed.hasPrefix("Bail out!") {
                let reason = trimmed.dropFirst("Bail out!".count).trimmingCharacters(in: .whitespaces)
                cases.append(
                    ReportedCase(
                        name: "bail out", status: .fail,
                        message: "the test bailed out" + (reason.isEmpty ? "" : ": \(reason)")))
                return cases
            }
            if let parsed = parsePlan(trimmed) {
                sawTAP = true
                plan = parsed.count
                planSkip = parsed.skip
                continue
            }
            if let reported = parseTest(trimmed, number: cases.count + 1) {
                sawTAP = true
                cases.append(reported)
            }
        }
        if let lines = diagnostics { attach(lines, to: &cases) }
        guard sawTAP else { return [] }
        if let plan {
            if plan == 0, cases.isEmpty {
                return [ReportedCase(name: "all tests", status: .skip, message: planSkip ?? "the plan is 1..0")]
            }
            if cases.count != plan {
                cases.append(
                    ReportedCase(
                        name: "plan", status: .fail,
                        message: "\(plan) test\(plan == 1 ? "" : "s") planned, \(cases.count) run"))
            }
        }
        return cases
    }

    static func parsePlan(_ line: String) -> (count: Int, skip: String?)? {
        guard line.hasPrefix("1..") else { return nil }
        let rest = line.dropFirst(3)
        let digits = rest.prefix { $0.isNumber }
        guard let count = Int(digits) else { return nil }
        var skip: String?
        if let hash = rest.range(of: "#") {
            let directive = rest[hash.upperBound...].trimmingCharacters(in: .whitespaces)
            if directive.uppercased().hasPrefix("SKIP") {
                skip = directive.dropFirst(4).trimmingCharacters(in: .whitespaces)
            }
        }
        return (count, skip)
    }

    static func parseTest(_ line: String, number: Int) -> ReportedCase? {
        let passed: Bool
        var rest: Substring
        if line.hasPrefix("not ok") {
            passed = false
            rest = Substring(line).dropFirst("not ok".count)
        } else if line.hasPrefix("ok") {
            passed = true
            rest = Substring(line).dropFirst("ok".count)
        } else {
            return nil
        }
        guard rest.isEmpty || rest.first == " " else { return nil }
        rest = rest.drop { $0 == " " }
        let digits = rest.prefix { $0.isNumber }
        rest = rest.dropFirst(digits.count).drop { $0 == " " }
        if rest.hasPrefix("-") { rest = rest.dropFirst().drop { $0 == " " } }
        var name = String(rest)
        var directive: String?
        if let hash = name.range(of: " # ") ?? name.range(of: "# ", options: .anchored) {
            directive = String(name[hash.upperBound...]).trimmingCharacters(in: .whitespaces)
            name = String(name[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces)
        }
        if name.isEmpty { name = "test \(digits.isEmpty ? String(number) : String(digits))" }
        let upper = directive?.uppercased() ?? ""
        if upper.hasPrefix("SKIP") { return ReportedCase(name: name, status: .skip, message: directive) }
        if upper.hasPrefix("TODO") {
            return ReportedCase(
                name: name, status: passed ? .pass : .skip,
                message: passed ? directive : "known failure (\(directive ?? "TODO"))")
        }
        return ReportedCase(name: name, status: passed ? .pass : .fail)
    }

    /// Diagnostics to the last case: for a failure, its `message:` line or the first lines.
    static func attach(_ lines: [String], to cases: inout [ReportedCase]) {
        guard let last = cases.last, last.status == .fail, last.message == nil else { return }
        let message =
            lines.first { $0.hasPrefix("message:") }.map {
                $0.dropFirst("message:".count).trimmingCharacters(in: CharacterSet(charactersIn: " '\""))
            } ?? lines.prefix(3).joined(separator: " | ")
        cases[cases.count - 1] = ReportedCase(
            name: last.name, status: .fail, message: message.isEmpty ? nil : message,
            durationSeconds: last.durationSeconds)
    }
}

/// JUnit XML as pytest (and most test runners) write it: `<testcase>` elements with a
/// `<failure>` (an assertion failed), an `<error>` (the test could not run: a fixture, a
/// collection error), or `<skipped>`; `time` attributes; `<system-out>` ignored.
public enum JUnitReport {
    /// The test cases of a JUnit XML document; `nil` when it cannot be read.
    public static func parse(_ data: Data) -> [ReportedCase]? {
        let delegate = Delegate()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        // A document cut short (a test killed while writing it) is unreadable too.
        guard parser.parse(), delegate.depth == 0, delegate.sawElement else { return nil }
        return delegate.cases
    }

    private final class Delegate: NSObject, XMLParserDelegate {
        var cases: [ReportedCase] = []
        var depth = 0
        var sawElement = false
        private var current: (name: String, status: TierStatus, message: String?, time: Double)?
        private var text: String?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            depth += 1
            sawElement = true
            switch elementName {
            case "testcase":
                let name = [attributes["classname"], attributes["name"]].compactMap { $0 }.filter { !$0.isEmpty }
                    .joined(separator: ".")
                current = (
                    name.isEmpty ? "test \(cases.count + 1)" : name, .pass, nil, Double(attributes["time"] ?? "") ?? 0
                )
            case "failure", "error":
                let prefix = elementName == "error" ? "error: " : ""
                current?.status = .fail
                if current?.message == nil, let message = attributes["message"], !message.isEmpty {
                    current?.message = prefix + message
                }
                text = ""
            case "skipped":
                if current?.status != .fail {
                    current?.status = .skip
                    current?.message = attributes["message"] ?? "skipped"
                }
            default:
                break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text?.append(string)
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            depth -= 1
            switch elementName {
            case "failure", "error":
                // Without a message attribute the element's text (a traceback) says it: its last line.
                if current?.message == nil, let text,
                    let last = text.split(separator: "\n").last(where: {
                        !$0.trimmingCharacters(in: .whitespaces).isEmpty
                    })
                {
                    current?.message =
                        (elementName == "error" ? "error: " : "") + last.trimmingCharacters(in: .whitespaces)
                }
                text = nil
            case "testcase":
                if let current {
                    cases.append(
                        ReportedCase(
                            name: current.name, status: current.status, message: current.message,
                            durationSeconds: current.time))
                }
                current = nil
            default:
                break
            }
        }
    }
}
