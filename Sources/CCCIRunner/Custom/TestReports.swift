import CCCICore
import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// One test case a test executable reported.
public struct ReportedCase: Sendable, Hashable {
    public let name: String
    public let status: TierStatus
    public let message: String?
}

/// TAP (Test Anything Protocol) output: `1..N`, `ok 1 - name`, `not ok 2 - name`,
/// `ok 3 # SKIP reason`.
public enum TAP {
    /// The cases in `output`; empty when it holds no TAP lines.
    public static func parse(_ output: String) -> [ReportedCase] {
        var cases: [ReportedCase] = []
        for rawLine in output.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            let passed: Bool
            var rest: Substring
            if line.hasPrefix("not ok") {
                passed = false
                rest = line.dropFirst("not ok".count)
            } else if line.hasPrefix("ok") {
                passed = true
                rest = line.dropFirst("ok".count)
            } else {
                continue
            }
            guard rest.isEmpty || rest.first == " " else { continue }
            rest = rest.drop { $0 == " " }
            let number = rest.prefix { $0.isNumber }
            rest = rest.dropFirst(number.count).drop { $0 == " " }
            if rest.hasPrefix("-") { rest = rest.dropFirst().drop { $0 == " " } }
            var name = String(rest)
            var directive: String?
            if let hash = name.range(of: " # ") ?? name.range(of: "# ", options: .anchored) {
                directive = String(name[hash.upperBound...])
                name = String(name[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            if name.isEmpty { name = "test \(number.isEmpty ? String(cases.count + 1) : String(number))" }
            let upper = directive?.uppercased() ?? ""
            if upper.hasPrefix("SKIP") {
                cases.append(ReportedCase(name: name, status: .skip, message: directive))
            } else if upper.hasPrefix("TODO") {
                cases.append(ReportedCase(name: name, status: passed ? .pass : .skip, message: directive))
            } else {
                cases.append(ReportedCase(name: name, status: passed ? .pass : .fail, message: nil))
            }
        }
        return cases
    }
}

/// JUnit XML as pytest (and most test runners) write it.
public enum JUnitReport {
    /// The test cases of a JUnit XML document; `nil` when it cannot be read.
    public static func parse(_ data: Data) -> [ReportedCase]? {
        let delegate = Delegate()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else { return nil }
        return delegate.cases
    }

    private final class Delegate: NSObject, XMLParserDelegate {
        var cases: [ReportedCase] = []
        private var current: (name: String, status: TierStatus, message: String?)?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            switch elementName {
            case "testcase":
                let name = [attributes["classname"], attributes["name"]].compactMap { $0 }.joined(separator: ".")
                current = (name, .pass, nil)
            case "failure", "error":
                current?.status = .fail
                current?.message = attributes["message"]
            case "skipped":
                current?.status = .skip
                current?.message = attributes["message"]
            default:
                break
            }
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            if elementName == "testcase", let current {
                cases.append(ReportedCase(name: current.name, status: current.status, message: current.message))
                self.current = nil
            }
        }
    }
}
