import CCCICore
import CCCIStore
import Foundation

/// `/queue`: the jobs running and waiting, in the order the workers take them, with how long each
/// has been running or waiting. With `cancellable` (the node has an admin token), each job has a
/// cancel form that asks for the token (``QueueCancel``).
enum QueuePage {
    static func render(running: [Job], queued: [Job], now: Date, cancellable: Bool = false) -> HTML {
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
            + queued.enumerated().map { row($0.element, position: $0.offset + 1) }
        let table: HTML =
            rows.isEmpty
            ? "<p class=\"muted\">Nothing is running or waiting.</p>"
            : """
            <table><thead><tr><th>position</th><th>recipe</th><th>pull request</th><th>head</th><th>stages</th><th>asked by</th><th>running / waiting for</th><th>run</th>\(cancellable ? "<th>cancel</th>" : HTML.empty)</tr></thead>
            <tbody>\(rows)</tbody></table>
            """
        return Layout.page(
            title: "Queue", refresh: 10,
            """
            <h1>Queue</h1>
            <p>\(running.count) running, \(queued.count) waiting.</p>
            \(table)
            """)
    }
}
