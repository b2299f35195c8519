import CCCICore
import CCCIStore
import Foundation

/// `/queue`: the jobs running and waiting, in the order the workers take them, with how long each
/// has been running or waiting — the waiting ones a page of ``pageSize`` at a time
/// (`/queue?page=N`), under the true count. With `cancellable` (the node has an admin token),
/// each job has a cancel form that asks for the token (``QueueCancel``).
enum QueuePage {
    /// Waiting jobs per page.
    static let pageSize = 100

    /// - Parameters:
    ///   - queued: the waiting jobs of page `page` (from position `(page - 1) × pageSize + 1` on).
    ///   - waiting: how many jobs wait in all.
    static func render(
        running: [Job], queued: [Job], waiting: Int, page: Int = 1, now: Date, cancellable: Bool = false
    ) -> HTML {
        let first = (page - 1) * pageSize
        func row(_ job: Job, position: Int?) -> HTML {
            let since = job.state == .running ? (job.startedAt ?? job.queuedAt) : job.queuedAt
            let run: HTML = job.runID.map { id -> HTML in "<a href=\"/runs/\(id)\">\(id)</a>" } ?? "—"
            let cancel: HTML =
                cancellable
                ? """
                <td><form method="post" action="/queue/\(job.number)/cancel"><input type="password" name="token" \
                aria-label="admin token" placeholder="admin token" autocomplete="current-password" required> \
                <button type="submit">cancel</button></form></td>
                """ : ""
            return """
                <tr><td>\(position.map(String.init) ?? "running")</td><td><a href="/recipes/\(job.recipe)">\(job.recipe)</a></td>\
                <td>\(job.repository) #\(job.pr)</td><td><code>\(job.headSHA.prefix(8))</code></td><td>\(job.stages ?? "all")</td>\
                <td>\(job.requester)</td><td>\(Layout.duration(max(0, now.timeIntervalSince(since))))</td><td>\(run)</td>\(cancel)</tr>
                """
        }
        let rows =
            running.map { row($0, position: nil) }
            + queued.enumerated().map { row($0.element, position: first + $0.offset + 1) }
        let pages = max(1, (waiting + pageSize - 1) / pageSize)
        var links: [HTML] = []
        if page > 1 {
            links.append(
                "<a href=\"/queue?page=\(page - 1)\" rel=\"prev\">← positions \(first - pageSize + 1)–\(first)</a>")
        }
        if page < pages {
            links.append(
                "<a href=\"/queue?page=\(page + 1)\" rel=\"next\">positions \(first + pageSize + 1)–\(min(waiting, first + 2 * pageSize)) →</a>"
            )
        }
        let pager: HTML =
            pages > 1
            ? "<p class=\"pager\">Waiting jobs \(min(first + 1, waiting))–\(min(waiting, first + queued.count)) of \(waiting), page \(page) of \(pages). \(HTML(joining: links.map { "\($0) " }))</p>"
            : .empty
        let table: HTML =
            rows.isEmpty
            ? (waiting == 0
                ? "<p class=\"muted\">Nothing is running or waiting.</p>"
                : "<p class=\"muted\">No waiting job on this page: <a href=\"/queue\">the first page</a>.</p>")
            : """
            <table><thead><tr><th>position</th><th>recipe</th><th>pull request</th><th>head</th><th>stages</th><th>asked by</th><th>running / waiting for</th><th>run</th>\(cancellable ? "<th>cancel</th>" : HTML.empty)</tr></thead>
            <tbody>\(rows)</tbody></table>
            """
        return Layout.page(
            title: "Queue", refresh: 10,
            """
            <h1>Queue</h1>
            <p>\(running.count) running, \(waiting) waiting.</p>
            \(pager)
            \(table)
            \(pager)
            """)
    }
}
