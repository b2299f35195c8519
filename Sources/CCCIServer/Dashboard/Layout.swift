import CCCICore
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The frame every dashboard page shares: one stylesheet inline (no CDN, no web font), a header
/// with the navigation, the page's content. Pages are complete without JavaScript; a page that
/// follows something live adds a small script of its own and a `<noscript>` refresh.
enum Layout {
    static func page(title: String, refresh: Int? = nil, script: HTML = .empty, _ content: HTML) -> HTML {
        let reload: HTML =
            refresh.map { "<noscript><meta http-equiv=\"refresh\" content=\"\($0)\"></noscript>" } ?? .empty
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · cc-ci</title>
            \(reload)
            <style>\(stylesheet)</style>
            </head>
            <body>
            <header><a class="brand" href="/">cc-ci</a> <nav><a href="/">Recipes</a> <a href="/queue">Queue</a> <a href="/api/v1/recipes">API</a></nav></header>
            <main>
            \(content)
            </main>
            <footer>cc-ci \(CCCIVersion.current)</footer>
            \(script)
            </body>
            </html>
            """
    }

    /// A verdict as an icon *and* a word, coloured by a class (never by colour alone).
    static func verdict(_ status: TierStatus?) -> HTML {
        guard let status else { return "<span class=\"v none\">· none</span>" }
        return "<span class=\"v \(status.rawValue)\">\(icon(status)) \(label(status))</span>"
    }

    static func icon(_ status: TierStatus) -> String {
        switch status {
        case .pass: "✓"
        case .fail: "✗"
        case .skip: "–"
        case .na: "○"
        case .cancelled: "⊘"
        case .flaky: "≈"
        }
    }

    static func label(_ status: TierStatus) -> String {
        switch status {
        case .pass: "pass"
        case .fail: "fail"
        case .skip: "skipped"
        case .na: "n/a"
        case .cancelled: "cancelled"
        case .flaky: "FLAKY"
        }
    }

    /// A run's outcome as a word with its class.
    static func outcome(_ outcome: RunOutcome) -> HTML {
        "<span class=\"o \(outcome.rawValue)\">\(outcome.rawValue)</span>"
    }

    /// "4 min ago", from `date` to `now`.
    static func age(_ date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "\(seconds) s ago"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<86_400: return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86_400) d ago"
        }
    }

    /// "1 min 12 s" for a duration in seconds.
    static func duration(_ seconds: Double) -> String {
        guard seconds >= 60 else { return "\(decimal(seconds)) s" }
        let whole = Int(seconds.rounded())
        return "\(whole / 60) min \(whole % 60) s"
    }

    /// `value` with one decimal (`12.3`), without Foundation's formatter (pages print hundreds).
    static func decimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }

    /// A UTC time in ISO 8601 (`2026-01-01T12:00:00Z`), for `<time datetime>`; computed from
    /// the calendar fields directly, as a page prints hundreds of them.
    static func iso(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var fields = tm()
        gmtime_r(&seconds, &fields)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(fields.tm_year + 1900)-\(two(fields.tm_mon + 1))-\(two(fields.tm_mday))T"
            + "\(two(fields.tm_hour)):\(two(fields.tm_min)):\(two(fields.tm_sec))Z"
    }

    /// The live log's script, the same on every page (so that the content security policy can
    /// name it by its hash): it follows the events of `#log`'s `data-events` URL, reloads the
    /// page when the run is done, and says why the stream ended otherwise (no reconnecting).
    static let liveLogScript: HTML = """
        <script>
        (function () {
          var log = document.getElementById("log");
          var source = new EventSource(log.dataset.events);
          source.onmessage = function (event) {
            log.textContent += event.data + "\\n";
            log.scrollTop = log.scrollHeight;
          };
          source.addEventListener("done", function () { source.close(); location.reload(); });
          source.addEventListener("end", function (event) {
            source.close();
            var end = document.getElementById("log-end");
            end.textContent = "The live log stopped: " + event.data + ".";
            end.hidden = false;
          });
        })();
        </script>
        """

    /// The `Content-Security-Policy` of every answer: nothing but the dashboard's own stylesheet
    /// and live-log script (by hash), images and event streams from this server, forms posted to it;
    /// no framing, no plugins, no base URL change.
    static let contentSecurityPolicy: String = {
        func hash(of element: HTML, tag: String) -> String {
            let text = element.rendered
            guard let open = text.range(of: ">"), let close = text.range(of: "</\(tag)>", options: .backwards) else {
                return "'none'"
            }
            let body = String(text[open.upperBound..<close.lowerBound])
            return "'sha256-\(Data(SHA256.hash(data: Data(body.utf8))).base64EncodedString())'"
        }
        return [
            "default-src 'none'", "style-src \(hash(of: "<style>\(stylesheet)</style>", tag: "style"))",
            "script-src \(hash(of: liveLogScript, tag: "script"))", "img-src 'self' data:", "connect-src 'self'",
            "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
        ].joined(separator: "; ")
    }()

    static let stylesheet: HTML = """
        :root{--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--pass:#1a7f37;--fail:#cf222e;--skip:#6e7781;--warn:#9a6700}
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:var(--fg)}
        header{display:flex;gap:1.5em;align-items:baseline;padding:.7em 1.2em;border-bottom:1px solid var(--line)}
        header .brand{font-weight:700;font-size:1.15em;color:var(--fg);text-decoration:none}
        nav a{margin-right:1em}main{padding:1em 1.2em;max-width:80em}footer{padding:1em 1.2em;color:var(--muted);font-size:.85em}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-weight:600;color:var(--muted);font-size:.85em}
        .v,.o{white-space:nowrap;font-weight:600}.pass,.o.pass{color:var(--pass)}.fail,.o.fail,.o.error{color:var(--fail)}
        .skip,.na,.none{color:var(--skip);font-weight:400}.cancelled,.o.cancelled,.o.deadline,.o.interrupted,.flaky{color:var(--warn)}
        .chip{display:inline-block;border:1px solid var(--warn);color:var(--warn);border-radius:.8em;padding:0 .5em;font-size:.8em;font-weight:600}
        .level{display:inline-block;min-width:2.2em;text-align:center;border-radius:.3em;color:#fff;font-weight:700;padding:0 .3em}
        .l0{background:#cf222e}.l1{background:#bc4c00}.l2{background:#9a6700}.l3{background:#4d7c0f}.l4{background:#1a7f37}.l5{background:#116329}
        .muted{color:var(--muted)}p.warn{color:var(--warn)}pre{background:#f6f8fa;padding:.8em;overflow:auto;max-height:40em;font-size:.85em}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:var(--muted)}dd{margin:0}
        section{margin:1.5em 0}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}svg.trend{vertical-align:middle}
        """
}
