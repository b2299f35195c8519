import CCCICore
import CCCIStore
import Foundation

/// `/`: every recipe with its current level, the last verdict of each tier, the age of its last
/// run, the trend of its last levels and its warm canonical's version.
enum MatrixPage {
    /// A chip beside the level when a tier of the newest run was flaky.
    static func flakyChip(_ run: RunSummary) -> HTML {
        let flaky = Tier.allCases.filter { run.tiers[$0.rawValue] == .flaky }.map(\.rawValue)
        guard !flaky.isEmpty else { return .empty }
        return " <span class=\"chip\" title=\"flaky: \(flaky.joined(separator: ", "))\">flaky</span>"
    }

    static func render(_ recipes: [RecipeStatus], canonicals: [CanonicalRecord] = [], now: Date) -> HTML {
        let warm = Dictionary(canonicals.map { ($0.recipe, $0) }, uniquingKeysWith: { first, _ in first })
        let header = HTML(joining: Tier.allCases.map { tier -> HTML in "<th scope=\"col\">\(tier.rawValue)</th>" })
        let rows = recipes.map { status -> HTML in
            let run = status.latest
            let cells = HTML(
                joining: Tier.allCases.map { tier -> HTML in
                    "<td>\(Layout.verdict(run.tiers[tier.rawValue]))</td>"
                })
            return """
                <tr><th scope="row"><a href="/recipes/\(status.recipe)">\(status.recipe)</a></th>\
                <td>\(level(run.level))\(flakyChip(run))</td>\(cells)\
                <td><a href="/runs/\(run.runID)"><time datetime="\(Layout.iso(run.startedAt))">\(Layout.age(run.startedAt, now: now))</time></a></td>\
                <td>\(trend(status.trend))</td><td>\(canonical(warm[status.recipe]))</td></tr>
                """
        }
        let table: HTML =
            recipes.isEmpty
            ? "<p class=\"muted\">No runs recorded yet. A run appears here once <code>ccci run</code> or <code>!testme</code> has finished one.</p>"
            : """
            <table>
            <thead><tr><th scope="col">recipe</th><th scope="col">level</th>\(header)<th scope="col">last run</th><th scope="col">trend</th><th scope="col">warm canonical</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            """
        return Layout.page(
            title: "Recipes",
            """
            <h1>Recipes</h1>
            \(table)
            <p class="muted">Level: L1 installs, L2 upgrades, L3 backs up and restores, L4 passes its own tests, L5 lints clean with a screenshot.</p>
            """)
    }

    /// The warm canonical's version (and its status when it is not healthy), or a dash.
    static func canonical(_ record: CanonicalRecord?) -> HTML {
        guard let record else { return "<span class=\"muted\" title=\"no warm canonical\">—</span>" }
        let status: HTML = record.status == "healthy" ? "" : " <strong>(\(record.status))</strong>"
        return
            "<code title=\"promoted \(Layout.iso(record.promotedAt)) from run \(record.runID)\">\(record.version)</code>\(status)"
    }

    /// A level as a labelled chip.
    static func level(_ level: Int) -> HTML {
        "<span class=\"level l\(min(max(level, 0), 5))\" title=\"level \(level)\">L\(level)</span>"
    }

    /// The levels as a small line chart (0 at the bottom, 5 at the top), with the levels as text
    /// for screen readers and copy-paste.
    static func trend(_ levels: [Int]) -> HTML {
        guard !levels.isEmpty else { return .empty }
        // An 80 x 20 box: x in equal steps across, y from 18 (level 0) up to 2 (level 5).
        let step = levels.count > 1 ? 80 / (levels.count - 1) : 0
        func y(_ level: Int) -> Int { 18 - min(max(level, 0), 5) * 16 / 5 }
        let points = levels.enumerated().map { "\($0.offset * step),\(y($0.element))" }.joined(separator: " ")
        let text = levels.map(String.init).joined(separator: " ")
        // One run is a point, not a line.
        let dot: HTML =
            levels.count == 1 ? "<circle cx=\"40\" cy=\"\(y(levels[0]))\" r=\"3\" fill=\"#1a7f37\"/>" : .empty
        return """
            <svg class="trend" width="80" height="20" viewBox="-2 0 84 20" role="img" aria-label="last levels: \(text)"><title>last levels: \(text)</title><polyline fill="none" stroke="#1a7f37" stroke-width="2" points="\(points)"/>\(dot)</svg>
            """
    }
}
