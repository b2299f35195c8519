import CCCICore
import CCCIStore
import Foundation

/// `/recipes/<name>`: the recipe's run history, newest first, under a chart of level and duration
/// over time.
enum RecipePage {
    /// `profiled`: the newest cold runs' documents, newest first, for the memory trend.
    static func render(recipe: String, runs: [RunSummary], profiled: [RunResults] = [], now: Date) -> HTML {
        let rows = runs.map { run -> HTML in
            """
            <tr><td><a href="/runs/\(run.runID)"><time datetime="\(Layout.iso(run.startedAt))">\(Layout.age(run.startedAt, now: now))</time></a></td>\
            <td>\(MatrixPage.level(run.level))</td><td>\(Layout.outcome(run.outcome))</td>\
            <td>\(run.headVersion ?? "unreleased") <code>\(run.headCommit.prefix(8))</code></td>\
            <td>\(Layout.duration(run.durationSeconds))</td></tr>
            """
        }
        let body: HTML =
            runs.isEmpty
            ? "<p class=\"muted\">No runs of this recipe are recorded.</p>"
            : """
            \(chart(runs.reversed()))
            \(flakeRates(FlakeRate.of(runs), runs: min(runs.count, FlakeRate.window)))
            \(memoryTrend(profiled))
            <table><thead><tr><th>run</th><th>level</th><th>outcome</th><th>head</th><th>duration</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            """
        return Layout.page(
            title: recipe,
            """
            <h1>\(recipe)</h1>
            <p><a href="/badge/\(recipe).svg"><img src="/badge/\(recipe).svg" alt="cc-ci level badge of \(recipe)"></a></p>
            \(body)
            """)
    }

    /// Each tier's flake rate over the newest `runs` runs (a tier that failed, then passed when
    /// run again on fresh apps).
    static func flakeRates(_ rates: [FlakeRate], runs: Int) -> HTML {
        guard !rates.isEmpty else { return .empty }
        let rows = rates.map { rate -> HTML in
            let percent = String(format: "%.0f%%", rate.rate * 100)
            let shown: HTML = rate.flaky > 0 ? "<span class=\"flaky\">\(percent)</span>" : "\(percent)"
            return "<tr><td>\(rate.tier.rawValue)</td><td>\(rate.flaky) of \(rate.ran)</td><td>\(shown)</td></tr>"
        }
        return """
            <section><h2>Flake rate (newest \(runs) runs)</h2>
            <p class="muted">A tier is flaky when it failed, then passed when its path ran again on fresh apps (<code>retry_failed = 1</code> in the node config).</p>
            <table><thead><tr><th>tier</th><th>flaky</th><th>rate</th></tr></thead><tbody>\(rows)</tbody></table></section>
            """
    }

    /// Each service's peak memory over the newest profiled runs, and a flag on the newest run's
    /// services that grew more than 25 % over the last release that passed.
    static func memoryTrend(_ history: [RunResults]) -> HTML {
        let runs = Array(history.filter { $0.resources != nil }.prefix(MemoryTrend.window))
        guard !runs.isEmpty else { return .empty }
        let services = Set(runs.flatMap { $0.resources!.services.keys }).sorted()
        let growth = MemoryTrend.growth(in: runs)
        let flags = growth.map { grown -> HTML in
            """
            <p class="v fail">⚠ memory: <code>\(grown.service)</code> peaked at \(ResourceProfile.mebibytes(grown.head)) in the newest run, \
            \(String(format: "%.0f%%", grown.growth * 100)) more than \(ResourceProfile.mebibytes(grown.baseline)) in \
            <a href="/runs/\(grown.baselineRun)">\(grown.baselineVersion)</a>, the last release that passed (flagged above \
            \(String(format: "%.0f%%", MemoryGrowth.limit * 100))).</p>
            """
        }
        let header = services.map { service -> HTML in "<th>\(service)</th>" }
        let rows = runs.map { run -> HTML in
            let cells = services.map { service -> HTML in
                guard let bytes = run.resources?.services[service]?.peakRSSBytes else { return "<td>—</td>" }
                let grown = run.runID == runs.first?.runID && growth.contains { $0.service == service }
                return grown
                    ? "<td class=\"v fail\">\(ResourceProfile.mebibytes(bytes))</td>"
                    : "<td>\(ResourceProfile.mebibytes(bytes))</td>"
            }
            return """
                <tr><td><a href="/runs/\(run.runID)">\(run.headVersion ?? "unreleased")</a> <code>\(run.headCommit.prefix(8))</code></td>\
                <td>\(Layout.outcome(run.outcome))</td>\(cells)</tr>
                """
        }
        return """
            <section><h2>Peak memory (newest \(runs.count) runs)</h2>
            <p class="muted">Each service's peak memory while the tiers exercised the head app. The newest run is flagged when a service grew more than \(String(format: "%.0f%%", MemoryGrowth.limit * 100)) over the last release that passed.</p>
            \(flags)
            <table><thead><tr><th>run</th><th>outcome</th>\(header)</tr></thead><tbody>\(rows)</tbody></table></section>
            """
    }

    /// Level (steps, left axis 0–5) and duration (dots, right axis) of `runs`, oldest first.
    static func chart(_ runs: [RunSummary]) -> HTML {
        let width = 720.0
        let height = 180.0
        let left = 36.0
        let right = 56.0
        let top = 10.0
        let bottom = 24.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let longest = max(runs.map(\.durationSeconds).max() ?? 1, 1)
        func x(_ index: Int) -> Double {
            runs.count > 1 ? left + Double(index) / Double(runs.count - 1) * plotWidth : left + plotWidth / 2
        }
        func yLevel(_ level: Int) -> Double { top + plotHeight - Double(min(max(level, 0), 5)) / 5 * plotHeight }
        func yDuration(_ seconds: Double) -> Double { top + plotHeight - seconds / longest * plotHeight }
        let levels = runs.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), yLevel($0.element.level)) }
            .joined(separator: " ")
        let dots = runs.enumerated().map { index, run -> HTML in
            """
            <circle cx="\(String(format: "%.1f", x(index)))" cy="\(String(format: "%.1f", yDuration(run.durationSeconds)))" r="3" fill="#8250df"><title>\(run.runID): \(Layout.duration(run.durationSeconds))</title></circle>
            """
        }
        let gridlines = (0...5).map { level -> HTML in
            let y = String(format: "%.1f", yLevel(level))
            return
                "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#d1d9e0\"/><text x=\"\(left - 6)\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\" font-size=\"11\">L\(level)</text>"
        }
        let first = runs.first.map { Layout.iso($0.startedAt).prefix(10) } ?? ""
        let last = runs.last.map { Layout.iso($0.startedAt).prefix(10) } ?? ""
        return """
            <figure>
            <svg width="100%" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="level and duration of the last \(runs.count) runs">
            \(gridlines)
            <polyline fill="none" stroke="#1a7f37" stroke-width="2" points="\(levels)"/>
            \(dots)
            <text x="\(width - right + 6)" y="\(top + 4)" font-size="11" fill="#8250df">\(Layout.duration(longest))</text>
            <text x="\(width - right + 6)" y="\(top + plotHeight)" font-size="11" fill="#8250df">0 s</text>
            <text x="\(left)" y="\(height - 6)" font-size="11">\(String(first))</text>
            <text x="\(width - right)" y="\(height - 6)" font-size="11" text-anchor="end">\(String(last))</text>
            </svg>
            <figcaption class="muted">Level (green line, left) and duration (purple dots, right) of the last \(runs.count) runs, oldest on the left.</figcaption>
            </figure>
            """
    }
}
