import CCCICore
import CCCIStore
import Foundation

/// `/runs/<id>`: a finished run — header, level ladder, each tier with its checks, timings and
/// reason, the (redacted) manifest and the artifacts — or a live one, whose log grows on the page
/// (server-sent events from `/runs/<id>/events`; without JavaScript the page reloads itself).
enum RunPage {
    /// Where a pull request lives on the forge, when the run came from a job.
    struct Origin {
        let pullRequestURL: String
        let requester: String
    }

    static func render(_ results: RunResults, origin: Origin?) -> HTML {
        let id = results.runID
        let pr: HTML =
            if let pr = results.pr {
                if let origin {
                    "<a href=\"\(origin.pullRequestURL)\">#\(pr)</a> (asked by \(origin.requester))"
                } else {
                    "#\(pr)"
                }
            } else { "—" }
        let tiers = results.tiers.sorted {
            (Tier(rawValue: $0.key) ?? .screenshot) < (Tier(rawValue: $1.key) ?? .screenshot)
        }
        let tierSections = tiers.map { name, tier -> HTML in section(name, tier) }
        let rungs = results.ladder.rungs.map { rung -> HTML in
            let state: HTML =
                switch rung.state {
                case .reached: "<span class=\"v pass\">✓ reached</span>"
                case .na: "<span class=\"v na\">○ n/a</span>"
                case .missed: "<span class=\"v fail\">✗ missed</span>"
                }
            return "<tr><td>L\(rung.level)</td><td>\(rung.name)</td><td>\(state)</td></tr>"
        }
        let manifest = redactedManifest(results.manifest)
        var artifacts: [HTML] = [
            "<li><a href=\"/runs/\(id)/results.json\">results.json</a></li>",
            "<li><a href=\"/runs/\(id)/junit.xml\">junit.xml</a></li>",
            "<li><a href=\"/runs/\(id)/log\">run log</a></li>",
        ]
        if results.artifacts.screenshot != nil {
            artifacts.append("<li><a href=\"/runs/\(id)/screenshot\">screenshot</a></li>")
        }
        let screenshot: HTML =
            results.artifacts.screenshot == nil
            ? .empty
            : "<section><h2>Screenshot</h2><img src=\"/runs/\(id)/screenshot\" alt=\"the app as deployed\" style=\"max-width:100%\"></section>"
        return Layout.page(
            title: "\(results.recipe) run \(id)",
            """
            <h1><a href="/recipes/\(results.recipe)">\(results.recipe)</a> · \(MatrixPage.level(results.level)) \(Layout.outcome(results.outcome))</h1>
            <dl>
            <dt>run</dt><dd><code>\(id)</code></dd>
            <dt>pull request</dt><dd>\(pr)</dd>
            <dt>head</dt><dd>\(results.headVersion ?? "unreleased") <code>\(results.headCommit.prefix(12))</code></dd>
            <dt>base</dt><dd>\(results.baseVersion ?? "—")</dd>
            <dt>started</dt><dd><time datetime="\(Layout.iso(results.startedAt))">\(Layout.iso(results.startedAt))</time></dd>
            <dt>duration</dt><dd>\(Layout.duration(results.durationSeconds))</dd>
            <dt>exit code</dt><dd>\(results.exitCode)</dd>
            \(giveBack(results.giveBack))
            </dl>
            <section><h2>Level ladder (\(results.ladder.version))</h2>
            <table><thead><tr><th>level</th><th>rung</th><th>state</th></tr></thead><tbody>\(rungs)</tbody></table></section>
            <section><h2>Tiers</h2>\(tierSections)</section>
            \(screenshot)
            \(resources(results.resources))
            \(images(results.manifest.images))
            <section><h2>Artifacts</h2><ul>\(artifacts)</ul></section>
            <section><h2>Manifest</h2><p class="muted">What this run was configured with (secret values redacted).</p><pre>\(manifest)</pre></section>
            """)
    }

    /// What became of the canonical a quick run borrowed, after its verdict.
    static func giveBack(_ giveBack: GiveBack?) -> HTML {
        guard let giveBack else { return .empty }
        let text: HTML =
            switch giveBack.state {
            case .pending: "being given back"
            case .ok: "given back\(giveBack.durationSeconds.map { " in \(Layout.duration($0))" } ?? "")"
            case .failed: "<span class=\"v fail\">not given back</span>: \(giveBack.reason ?? "")"
            }
        return "<dt>canonical</dt><dd>\(text)</dd>"
    }

    /// What the head app cost, per service, while the tiers exercised it.
    static func resources(_ profile: ResourceProfile?) -> HTML {
        guard let profile, !profile.services.isEmpty else { return .empty }
        let rows = profile.services.sorted { $0.key < $1.key }.map { name, service -> HTML in
            let image: HTML = service.imageBytes.map { "\(ResourceProfile.mebibytes($0))" } ?? "—"
            return """
                <tr><td>\(name)</td><td>\(ResourceProfile.mebibytes(service.peakRSSBytes))</td>\
                <td>\(String(format: "%.1f %%", service.meanCPUPercent))</td><td>\(String(format: "%.1f %%", service.peakCPUPercent))</td>\
                <td>\(image)</td><td>\(service.samples)</td></tr>
                """
        }
        return """
            <section><h2>Resources</h2><p class="muted">What the head app (<code>\(profile.app)</code>) cost while the tiers exercised it, from the engine's stats stream of each container: peak memory (usage less inactive file cache), CPU in percent of one CPU.</p>
            <table><thead><tr><th>service</th><th>peak memory</th><th>mean CPU</th><th>peak CPU</th><th>image</th><th>samples</th></tr></thead><tbody>\(rows)</tbody></table></section>
            """
    }

    /// Which bits each service ran: the digest pulled (or the local image id).
    static func images(_ images: [DeployedImage]) -> HTML {
        guard !images.isEmpty else { return .empty }
        let rows = images.map { image -> HTML in
            let digest: HTML = image.digest.map { "<code title=\"\($0)\">\($0.prefix(19))…</code>" } ?? "—"
            return
                "<tr><td>\(image.app)</td><td>\(image.service)</td><td><code>\(image.image)</code></td><td>\(digest)</td><td><code title=\"\(image.id)\">\(image.id.prefix(19))…</code></td><td>\(image.source)</td></tr>"
        }
        return """
            <section><h2>Images</h2><p class="muted">What each service ran: the manifest digest pulled from the registry, and the image id.</p>
            <table><thead><tr><th>app</th><th>service</th><th>image</th><th>digest</th><th>image id</th><th>from</th></tr></thead><tbody>\(rows)</tbody></table></section>
            """
    }

    /// The manifest as JSON, redacted again here: a results document read from disk may come
    /// from anywhere, and a page must never show a secret-named key's value.
    static func redactedManifest(_ manifest: Manifest) -> String {
        guard let data = try? JSONCoding.prettyEncoder.encode(manifest),
            let value = try? JSONCoding.decoder.decode(JSONValue.self, from: data),
            let redacted = try? JSONCoding.prettyEncoder.encode(Redaction.redact(value))
        else { return "(the manifest cannot be shown)" }
        return String(decoding: redacted, as: UTF8.self)
    }

    static func section(_ name: String, _ tier: TierResult) -> HTML {
        let checks = tier.checks.map { check -> HTML in
            "<tr><td>\(check.name)</td><td>\(Layout.verdict(check.status))</td><td>\(Layout.duration(check.durationSeconds))</td><td>\(check.message)</td></tr>"
        }
        let proofs = tier.proofs.map { proof -> HTML in "<li>\(proof)</li>" }
        return """
            <h3 id="tier-\(name)">\(name) · \(Layout.verdict(tier.status))\(tier.retry == nil ? HTML.empty : " <span class=\"v skip\">(retried)</span>") <span class="muted">\(Layout.duration(tier.durationSeconds))</span></h3>
            \(tier.reason.map { reason -> HTML in "<p><strong>Why:</strong> \(reason)</p>" } ?? .empty)
            \(bases(tier))
            \(tier.na.map(coverage) ?? .empty)
            \(tier.retry.map { retry -> HTML in "<p><strong>Attempts:</strong> \(retry.summary(tier.status))</p>" } ?? .empty)
            \(proofs.isEmpty ? HTML.empty : "<ul>\(proofs)</ul>")
            \(checks.isEmpty ? HTML.empty : "<table><thead><tr><th>step</th><th>verdict</th><th>time</th><th>detail</th></tr></thead><tbody>\(checks)</tbody></table>")
            """
    }

    /// The upgrade tier's bases (`upgrade_from`): base → verdict → time, newest release first.
    static func bases(_ tier: TierResult) -> HTML {
        let bases = tier.bases
        guard !bases.isEmpty else { return .empty }
        let rows = bases.map { version, base -> HTML in
            let verdict: HTML =
                switch base.status {
                case .pass: "<span class=\"v pass\">pass</span>"
                case .fail: "<span class=\"v fail\">fail</span>"
                case .unavailable: "<span class=\"v skip\">base could not be deployed</span>"
                case .cancelled: "<span class=\"v skip\">stopped</span>"
                case .flaky: "<span class=\"v flaky\">flaky</span>"
                }
            return
                "<tr><td><code>\(version)</code></td><td>\(verdict)</td><td>\(Layout.duration(base.durationSeconds))</td><td><code>\(base.app)</code></td><td>\(base.reason ?? "")</td></tr>"
        }
        return """
            <table class="bases"><thead><tr><th>upgrade from</th><th>verdict</th><th>time</th><th>app</th><th>detail</th></tr></thead><tbody>\(rows)</tbody></table>
            """
    }

    /// What the recipe's `[na]` says of a tier: the declared reason, a possible gap, a stale key.
    static func coverage(_ na: TierNA) -> HTML {
        var parts: [HTML] = []
        if let declared = na.declared { parts.append("<p><strong>Declared N/A:</strong> \(declared)</p>") }
        if let gap = na.gap {
            parts.append(
                "<p class=\"warn\"><strong>Possible coverage gap</strong> — <code>[na]</code> does not declare it: \(gap)</p>"
            )
        }
        if let stale = na.stale { parts.append("<p class=\"warn\"><strong>Stale declaration:</strong> \(stale)</p>") }
        return "\(parts)"
    }

    /// A run that has not finished: its log so far, followed live.
    static func renderLive(runID: String, recipe: String?, log: String) -> HTML {
        Layout.page(
            title: "run \(runID) (running)", refresh: 5, script: Layout.liveLogScript,
            """
            <h1>\(recipe.map { name -> HTML in "<a href=\"/recipes/\(name)\">\(name)</a> · " } ?? .empty)<span class="o running">running</span></h1>
            <p>Run <code>\(runID)</code> has not finished; its log follows.</p>
            <pre id="log" data-events="/runs/\(runID)/events?from=\(log.utf8.count)">\(log)</pre>
            <p id="log-end" class="muted" hidden></p>
            """)
    }
}
