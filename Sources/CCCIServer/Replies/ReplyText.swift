import CCCICore
import CCCIStore
import Foundation

/// What cc-ci says on a pull request: the acknowledgement, the result, and the short answers
/// (refusal, usage, already running, superseded, requeued). Markdown as Gitea and Forgejo
/// render it; every value that comes from outside (a reason, a user name) is escaped.
public enum ReplyText {
    /// The acknowledgement: queued, its place, where to follow it.
    public static func queued(_ job: Job, position: Int, links: Links) -> String {
        """
        **cc-ci** queued `\(job.recipe)` at `\(short(job.headSHA))` — position \(position) in the queue\
        \(job.quick ? ", quick lane (on the warm canonical)" : "")\
        \(job.stages.map { ", stages `\($0)`" } ?? ""). [Follow it here](\(links.job(job.number))); \
        this comment will show the result.

        \(footer(job))
        """
    }

    /// A second `!testme` for a head that is already queued or running.
    public static func alreadyQueued(_ job: Job, links: Links) -> String {
        """
        **cc-ci** is already testing `\(job.recipe)` at `\(short(job.headSHA))` for this pull request \
        (job \(job.number), \(job.state.rawValue)): [follow it here](\(links.job(job.number))). No second run \
        was started.
        """
    }

    /// A `!testme` from someone who may not start runs.
    public static func refused(user: String, repository: String) -> String {
        """
        Sorry @\(escape(user)) — cc-ci runs are started by people with write access to `\(escape(repository))` \
        (or on this node's allowlist). A maintainer can comment `!testme` to test this pull request.
        """
    }

    /// A `!testme` the forge could not be asked about for a day: given up.
    public static func expired(_ request: TestmeRequest) -> String {
        """
        **cc-ci** could not reach the forge for a day to start this test (asked by @\(escape(request.author))), \
        so it was given up. Comment `!testme` to try again.
        """
    }

    /// A `!testme` whose options cannot be read.
    public static func usage(_ error: TestmeError) -> String {
        "**cc-ci** could not read that `!testme`: \(escape(error.description, keepCode: true)).\n\n\(TestmeCommand.usage)"
    }

    /// A job stopped before its end: a push changed the pull request's head, or an operator
    /// cancelled it.
    public static func superseded(_ job: Job, links: Links) -> String {
        let again =
            job.cancelReason == Bridge.operatorCancelReason
            ? "Comment `!testme` to test it again." : "Comment `!testme` to test the new head."
        return """
            **cc-ci** stopped testing `\(job.recipe)` at `\(short(job.headSHA))`: \(escape(job.cancelReason ?? "a push superseded it")). \
            \(again) ([job \(job.number)](\(links.job(job.number))))

            \(footer(job))
            """
    }

    /// The server stopped while the job ran: it runs again.
    public static func requeued(_ job: Job, links: Links) -> String {
        """
        **cc-ci** was stopped while it tested `\(job.recipe)` at `\(short(job.headSHA))`\
        \(job.runID.map { " (run `\($0)`)" } ?? ""). The run's apps are cleaned up and the test is queued \
        again — attempt \(job.attempt) of \(JobPolicy.maximumAttempts). [Follow it here](\(links.job(job.number))).
        """
    }

    /// The result: level ladder, tier table, versions, links, screenshot.
    public static func finished(_ job: Job, outcome: JobOutcome, links: Links) -> String {
        var lines: [String] = []
        guard let results = outcome.results, let runID = job.runID else {
            lines.append("### cc-ci: `\(job.recipe)` — \(outcome.state == .cancelled ? "cancelled" : "could not run")")
            lines.append("")
            lines.append(escape(outcome.note ?? "`ccci run` exited \(outcome.exitCode)"))
            if let runID = job.runID {
                lines.append("")
                lines.append("[run page](\(links.run(runID))) · [log](\(links.log(runID)))")
            }
            lines.append("")
            lines.append(footer(job))
            return lines.joined(separator: "\n")
        }
        let verdict =
            switch outcome.state {
            case .passed: "passed"
            case .cancelled: "cancelled"
            case .interrupted: "interrupted"
            default: "failed"
            }
        lines.append("### cc-ci: `\(job.recipe)` — level \(results.level) (\(verdict))")
        lines.append("")
        lines.append(ladder(results.ladder))
        lines.append("")
        lines.append("| tier | verdict | time | reason |")
        lines.append("|---|---|---|---|")
        for tier in Tier.allCases {
            guard let result = results.tiers[tier.rawValue] else { continue }
            lines.append(
                "| \(tier.rawValue) | \(icon(result.status)) \(result.verdictText) | "
                    + "\(seconds(result.durationSeconds)) | \(escape(result.displayReason ?? "", limit: 240)) |")
        }
        lines.append("")
        if let bases = results.tiers[Tier.upgrade.rawValue]?.bases, bases.count > 1 {
            lines.append("| upgrade from | verdict | time |")
            lines.append("|---|---|---|")
            for (version, base) in bases {
                lines.append(
                    "| `\(escape(version))` | \(icon(base.status)) \(base.verdictText) | \(seconds(base.durationSeconds)) |"
                )
            }
            lines.append("")
        }
        let flaky = Tier.allCases.filter { results.tiers[$0.rawValue]?.status == .flaky }.map { "`\($0.rawValue)`" }
        if !flaky.isEmpty {
            lines.append(
                "**Flaky:** \(flaky.joined(separator: ", ")) failed, then passed when run again on fresh apps — "
                    + "not a pass: the level does not count it. Its first failure is in the table.")
            lines.append("")
        }
        // Gaps and stale declarations (declared N/A is in the table already).
        let coverage = NACoverage.findings(results.tiers).filter { !$0.contains(", as declared: ") }
        if !coverage.isEmpty {
            lines += coverage.map { "- \(escape($0, limit: 400))" }
            lines.append("")
        }
        var versions = "head `\(escape(results.headVersion ?? "unreleased"))` (`\(short(results.headCommit))`)"
        if let base = results.baseVersion { versions += " · base `\(escape(base))`" }
        lines.append(versions)
        if let resources = results.resources, !resources.services.isEmpty {
            lines.append("Resources of the head app: \(escape(resources.summary))")
        }
        lines.append(
            "[run page](\(links.run(runID))) · [log](\(links.log(runID))) · [JUnit](\(links.junit(runID)))")
        if results.mode == "quick" { lines += ["", quickLane(results)] }
        if results.artifacts.screenshot != nil {
            lines.append("")
            lines.append("![screenshot of \(job.recipe)](\(links.screenshot(runID)))")
        }
        if let note = outcome.note {
            lines.append("")
            lines.append("_\(escape(note))_")
        }
        lines.append("")
        lines.append(footer(job))
        return lines.joined(separator: "\n")
    }

    /// What a quick run proved and did not, and what became of the canonical it borrowed.
    static func quickLane(_ results: RunResults) -> String {
        let base = escape(results.baseVersion ?? "its version")
        var text =
            "**Quick lane**: this head was tried on the warm canonical `\(base)`, upgraded in place — it proves "
            + "the upgrade from `\(base)` with its data, and the recipe's tests. It does **not** prove a fresh "
            + "install (first start, new volumes, new secrets): the level counts only what was proven."
        if results.flags.contains("quick-changes-volumes-or-secrets") {
            text +=
                " This head changes the recipe's volumes or secrets, which only a fresh install proves: "
                + "comment `!testme` for a cold run before merging."
        }
        switch results.giveBack?.state {
        case .pending?: text += "\n\n_The canonical is being given back._"
        case .ok?: text += "\n\n_The canonical was given back: `\(base)` again, its data restored._"
        case .failed?:
            text +=
                "\n\n**The canonical could not be given back**: "
                + escape(results.giveBack?.reason ?? "no reason recorded", limit: 300)
        case nil: break
        }
        return text
    }

    /// The commit status a finished job leaves.
    public static func finalStatus(_ job: Job, outcome: JobOutcome) -> (CommitStatus.State, String) {
        switch outcome.state {
        case .passed:
            return (.success, "level \(outcome.results?.level ?? 0) — every requested tier passed")
        case .failed:
            guard let results = outcome.results else { return (.error, "could not run (exit \(outcome.exitCode))") }
            let failed = Tier.allCases.filter { results.tiers[$0.rawValue]?.status == .fail }.map(\.rawValue)
            let flaky = Tier.allCases.filter { results.tiers[$0.rawValue]?.status == .flaky }.map(\.rawValue)
            let named =
                (failed.isEmpty ? [] : ["\(failed.joined(separator: ", ")) failed"])
                + (flaky.isEmpty ? [] : ["\(flaky.joined(separator: ", ")) flaky"])
            return (
                .failure,
                "level \(results.level)"
                    + (named.isEmpty ? " — \(results.outcome.rawValue)" : " — \(named.joined(separator: "; "))")
            )
        case .cancelled:
            return (.error, "cancelled: \(job.cancelReason ?? outcome.note ?? "stopped")")
        case .interrupted, .queued, .running:
            return (.error, "interrupted: \(outcome.note ?? "the server stopped twice while it ran")")
        }
    }

    /// `L1 install ✅ → L2 upgrade ✅ → …`.
    static func ladder(_ ladder: Ladder) -> String {
        ladder.rungs.map { rung in
            let mark =
                switch rung.state {
                case .reached: "✅"
                case .na: "➖"
                case .missed: "⬜"
                }
            return "L\(rung.level) \(rung.name) \(mark)"
        }.joined(separator: " → ")
    }

    static func icon(_ status: TierStatus) -> String {
        switch status {
        case .pass: "✅"
        case .fail: "❌"
        case .skip: "⏭️"
        case .na: "➖"
        case .cancelled: "⏹️"
        case .flaky: "⚠️"
        }
    }

    static func icon(_ status: UpgradeFromResult.Status) -> String {
        switch status {
        case .pass: "✅"
        case .fail: "❌"
        case .unavailable: "⏭️"
        case .cancelled: "⏹️"
        case .flaky: "⚠️"
        }
    }

    static func footer(_ job: Job) -> String {
        "<sub>job \(job.number) · attempt \(job.attempt) · asked by @\(escape(job.requester))</sub>"
    }

    static func short(_ sha: String) -> String { String(sha.prefix(10)) }

    static func seconds(_ value: Double) -> String {
        value < 60 ? String(format: "%.1f s", value) : String(format: "%d min %02d s", Int(value) / 60, Int(value) % 60)
    }

    /// Text from outside (a tier's reason, which a recipe's own tests can write; a version; a
    /// note) made inert for one table cell: one line, cut, and shown as the characters it is —
    /// no HTML, no table syntax, no link, image or emphasis (markdown punctuation is
    /// backslash-escaped), no mention or issue reference (a word joiner follows each `@`, `#`
    /// and `!` before a word, so the forge links and notifies nobody). Backticks become quotes
    /// unless `keepCode` (text whose code spans are cc-ci's own).
    public static func escape(_ text: String, limit: Int = 500, keepCode: Bool = false) -> String {
        var flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if flat.count > limit { flat = String(flat.prefix(limit)) + "…" }
        var output = ""
        output.reserveCapacity(flat.utf8.count)
        var characters = flat.makeIterator()
        var next = characters.next()
        // The forge links a mention or a reference only at the start of a word.
        var previous: Character = " "
        while let character = next {
            next = characters.next()
            defer { previous = character }
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "`": output += keepCode ? "`" : "'"
            case "\\", "|", "[", "]", "(", ")", "*", "_", "~", "{", "}":
                output += "\\\(character)"
            case "@", "#", "!":
                output.append(character)
                let startsWord = previous.isWhitespace || previous == "(" || previous == "["
                if let following = next, startsWord || following == "[",
                    following.isLetter || following.isNumber || following == "_" || following == "["
                {
                    output += "\u{2060}"
                }
            default: output.append(character)
            }
        }
        return output
    }
}
