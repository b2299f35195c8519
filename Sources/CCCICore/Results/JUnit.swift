import Foundation

/// JUnit XML rendering of a run's results, for CI engines that display test reports.
public enum JUnit {
    /// One `<testsuite>` per tier, one `<testcase>` per check (a tier without checks becomes one
    /// test case named after the tier). The screenshot is attached to the screenshot tier's first
    /// test case as `[[ATTACHMENT|<path>]]` in its `<system-out>` (the convention Jenkins' and
    /// GitLab's JUnit readers follow).
    public static func render(_ results: RunResults) -> String {
        var suites: [String] = []
        var totals = (tests: 0, failures: 0, skipped: 0)
        for tier in Tier.allCases {
            guard let result = results.tiers[tier.rawValue] else { continue }
            var checks =
                result.checks.isEmpty
                ? [
                    Check(
                        name: tier.rawValue, status: result.status, durationSeconds: result.durationSeconds,
                        message: Self.message(of: result))
                ]
                : result.checks
            // A flaky tier's checks are its passing attempt's: the tier itself is the failure.
            if result.status == .flaky, !result.checks.isEmpty {
                checks.append(
                    Check(name: "\(tier.rawValue) (flaky)", status: .flaky, durationSeconds: 0, message: result.reason))
            }
            var cases: [String] = []
            var failures = 0
            var skipped = 0
            let attachment = tier == .screenshot ? results.artifacts.screenshot : nil
            for (index, check) in checks.enumerated() {
                var body = ""
                switch check.status {
                case .fail:
                    failures += 1
                    let message = check.message ?? "failed"
                    body = "<failure message=\"\(escape(String(message.prefix(200))))\">\(escape(message))</failure>"
                case .skip, .na, .cancelled:
                    skipped += 1
                    body = "<skipped message=\"\(escape(check.message ?? check.status.rawValue))\"/>"
                case .pass:
                    break
                case .flaky:
                    // Failed, then passed on fresh apps: a failure here (it is not a pass), with
                    // the passing attempt said beside it.
                    failures += 1
                    let message = "flaky: " + (check.message ?? "failed, then passed when run again")
                    body =
                        "<failure type=\"flaky\" message=\"\(escape(String(message.prefix(200))))\">\(escape(message))</failure>"
                }
                // A pass that needed another attempt: each earlier attempt as Surefire's rerun
                // convention writes it (`flakyFailure`), which Jenkins' JUnit reader shows.
                if index == 0, let retry = result.retry, result.status == .pass {
                    for failure in retry.failures {
                        body +=
                            "<flakyFailure message=\"\(escape(String(failure.prefix(200))))\">\(escape(failure))</flakyFailure>"
                    }
                    body +=
                        "<system-out>\(escape(result.verdictText)): \(escape(retry.summary(result.status)))</system-out>"
                }
                if index == 0, let attachment {
                    let path = results.artifacts.runDirectory + "/" + attachment
                    body += "<system-out>[[ATTACHMENT|\(escape(path))]]</system-out>"
                }
                let name = "\(escape(check.name))"
                let time = String(format: "%.3f", check.durationSeconds)
                cases.append(
                    body.isEmpty
                        ? "    <testcase classname=\"\(escape(results.recipe)).\(tier.rawValue)\" name=\"\(name)\" time=\"\(time)\"/>"
                        : "    <testcase classname=\"\(escape(results.recipe)).\(tier.rawValue)\" name=\"\(name)\" time=\"\(time)\">\(body)</testcase>"
                )
            }
            totals.tests += checks.count
            totals.failures += failures
            totals.skipped += skipped
            suites.append(
                "  <testsuite name=\"\(tier.rawValue)\" tests=\"\(checks.count)\" failures=\"\(failures)\" "
                    + "skipped=\"\(skipped)\" time=\"\(String(format: "%.3f", result.durationSeconds))\">\n"
                    + cases.joined(separator: "\n") + "\n  </testsuite>")
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="ccci \(escape(results.recipe)) \(escape(results.runID))" tests="\(totals.tests)" \
            failures="\(totals.failures)" skipped="\(totals.skipped)" time="\(String(format: "%.3f", results.durationSeconds))">
            \(suites.joined(separator: "\n"))
            </testsuites>

            """
    }

    /// A tier without checks, as one test case's message: its reason, with what `[na]` says of it.
    static func message(of result: TierResult) -> String? {
        if let gap = result.na?.gap {
            return "\(result.reason ?? result.status.rawValue) — possible coverage gap: \(gap)"
        }
        return result.displayReason
    }

    /// XML-escapes text for attributes and element content; drops characters XML 1.0 forbids.
    public static func escape(_ text: String) -> String { Markup.escape(text) }
}
