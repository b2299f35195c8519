import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import Foundation

/// The screenshot tier (SPEC F-LEVEL, L5's second half): once the head app is healthy, headless
/// Chromium loads the pack's page (`screenshot`: path, a selector or text to wait for, a pause,
/// the window) on the app's domain through the ingress and saves `screenshot.png` in the run
/// directory. The picture must be of the app: a browser error page, an HTTP error (the ingress'
/// own 404/502 included) or a page of one colour fails the tier, saying which. A node that cannot
/// take pictures (no python3 playwright, no chromium) skips the tier with why — the run then
/// cannot reach L5, and says so.
struct ScreenshotTier {
    let steps: TierSteps

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }

    /// The picture's file name in the run directory.
    static let fileName = "screenshot.png"

    func run(_ app: App) async -> TierResult {
        let recorder = TierRecorder(
            tier: .screenshot, role: .head, journal: context.journal, reporter: context.reporter)
        guard let spec = prepared.meta.screenshot else {
            recorder.conclude(.skip, reason: "the test pack sets `screenshot = false`")
            return recorder.result()
        }
        let output = context.runDirectory.appendingPathComponent(Self.fileName)
        let camera = Screenshooter(runner: context.runner, probe: prepared.probe)
        do {
            let picture = try await recorder.check("screenshot of \(spec.path)", waitLabel: "screenshot") {
                try await camera.capture(domain: app.domain.name, spec: spec, to: output, log: recorder.log)
            }
            await recorder.note(
                "\(Self.fileName): \(spec.width)x\(spec.height), HTTP \(picture.status ?? 0), "
                    + "\(picture.colours ?? 0)\((picture.colours ?? 0) >= Screenshooter.enoughColours ? "+" : "") colours"
                    + (picture.title.map { $0.isEmpty ? "" : ", title \"\($0)\"" } ?? ""))
        } catch let unavailable as Screenshooter.Unavailable {
            recorder.conclude(.skip, reason: "this node cannot take screenshots: \(unavailable.reason)")
        } catch {
            context.journal.line("screenshot stopped: \(error)", tier: Tier.screenshot.rawValue)
        }
        return recorder.result()
    }
}

/// Headless Chromium driven by Python's playwright (`executable_path` set to the node's
/// chromium: no browser download). In the lab the domain is mapped to the ingress' address and
/// the lab CA's certificates are accepted without a trust store (the health check has just
/// verified this domain's certificate against that CA); in production DNS and the certificate
/// are the browser's own business.
struct Screenshooter {
    let runner: ProcessRunner
    let probe: HTTPSProbe
    var chromium = ProcessInfo.processInfo.environment["CCCI_CHROMIUM"] ?? "/usr/bin/chromium"
    var timeout = Duration.seconds(90)
    /// How long the page may take to show the selector or text it is waited for.
    var showTimeout = Duration.seconds(20)

    /// Distinct colours counted at most (a page of one colour is blank).
    static let enoughColours = 16

    /// What the browser script reports.
    struct Picture: Decodable, Sendable {
        var ok = false
        var error: String?
        var unavailable: String?
        var status: Int?
        var colours: Int?
        /// The colour of a one-colour page, `#rrggbb`.
        var colour: String?
        var title: String?
    }

    /// The node has no way to take the picture (not the recipe's failure).
    struct Unavailable: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    /// A picture that is not of the app.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    func capture(domain: String, spec: ScreenshotSpec, to output: URL, log: URL) async throws -> Picture {
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            throw Unavailable(reason: "no chromium at \(chromium) (apt-get install chromium, or set CCCI_CHROMIUM)")
        }
        try? FileManager.default.removeItem(at: output)
        var request: [String: JSONValue] = [
            "url": .string("https://\(domain)\(spec.path)"), "output": .string(output.path),
            "chromium": .string(chromium), "width": .int(spec.width), "height": .int(spec.height),
            "wait_ms": .int(Int(spec.wait.seconds * 1000)), "timeout_ms": .int(Int(timeout.seconds * 1000) / 2),
            "show_timeout_ms": .int(Int(showTimeout.seconds * 1000)),
            "ingress_header": .string(HTTPSProbe.ingressAnswerHeader), "enough_colours": .int(Self.enoughColours),
        ]
        if let resolve = probe.curlResolve(for: domain), let address = resolve.split(separator: ":").last {
            request["map"] = .string("MAP \(domain) \(address)")
            request["lab_ca"] = .bool(true)
        }
        if let selector = spec.selector { request["selector"] = .string(selector) }
        if let text = spec.text { request["text"] = .string(text) }
        let command = Command(
            "python3",
            ["-c", Self.script, String(decoding: try JSONCoding.compactEncoder.encode(request), as: UTF8.self)],
            output: .capture)
        let result: CommandResult
        do {
            guard let finished = try await runner.run(command, timeout: timeout) else {
                throw Refused(description: "the browser took longer than \(DurationText.format(timeout))")
            }
            result = finished
        } catch let error as Refused {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw Unavailable(reason: "python3 cannot be started (\(error))")
        }
        if !result.errorOutput.isEmpty, let handle = try? FileHandle(forWritingTo: log) {
            _ = try? handle.seekToEnd()
            try? handle.write(contentsOf: Data(result.errorOutput.utf8))
            try? handle.close()
        }
        guard let line = result.output.split(separator: "\n").last,
            let picture = try? JSONCoding.decoder.decode(Picture.self, from: Data(line.utf8))
        else {
            throw Refused(
                description: "the browser script ended without a report (exit \(result.status)): \(result.tail(3))")
        }
        if let unavailable = picture.unavailable { throw Unavailable(reason: unavailable) }
        if let error = picture.error { throw Refused(description: error) }
        guard picture.ok, FileManager.default.fileExists(atPath: output.path) else {
            throw Refused(description: "no picture was saved")
        }
        if picture.colours == 1 {
            throw Refused(
                description: "the page is blank: every pixel of the \(spec.width)x\(spec.height) picture is "
                    + "\(picture.colour ?? "one colour") (saved as \(output.lastPathComponent))")
        }
        return picture
    }

    /// The browser side: takes the request as JSON in argv[1]; prints one JSON report line.
    static let script = #"""
        import base64, json, sys
        request = json.loads(sys.argv[1])

        def finish(**report):
            print(json.dumps(report))
            sys.exit(0)

        try:
            from playwright.sync_api import sync_playwright, Error as BrowserError
        except ImportError:
            finish(unavailable="python3 has no playwright (pip install playwright; no browser download is needed)")

        def first_line(error):
            return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

        with sync_playwright() as playwright:
            arguments = ["--host-resolver-rules=" + request["map"]] if request.get("map") else []
            try:
                browser = playwright.chromium.launch(executable_path=request["chromium"], args=arguments)
            except BrowserError as error:
                finish(unavailable="chromium does not start: " + first_line(error))
            page = browser.new_page(
                viewport={"width": request["width"], "height": request["height"]},
                ignore_https_errors=bool(request.get("lab_ca")))
            timeout = request["timeout_ms"]
            try:
                response = page.goto(request["url"], wait_until="load", timeout=timeout)
            except BrowserError as error:
                finish(error="the browser could not load %s: %s" % (request["url"], first_line(error)))
            status = response.status if response else 0
            if response is not None and response.header_value(request["ingress_header"]):
                finish(error="the ingress answered %d itself (%s): no route to the app" % (
                    status, response.header_value(request["ingress_header"])), status=status)
            if status >= 400:
                page.screenshot(path=request["output"])
                finish(error="the page is an error: HTTP %d" % status, status=status)
            try:
                if request.get("selector"):
                    page.wait_for_selector(request["selector"], state="visible", timeout=request["show_timeout_ms"])
                if request.get("text"):
                    page.get_by_text(request["text"]).first.wait_for(state="visible", timeout=request["show_timeout_ms"])
            except BrowserError as error:
                page.screenshot(path=request["output"])
                wanted = " and ".join("%s `%s`" % (kind, request[kind]) for kind in ("selector", "text") if request.get(kind))
                finish(error="the page never showed %s within %d s" % (wanted, request["show_timeout_ms"] // 1000),
                       status=status)
            if request["wait_ms"] > 0:
                page.wait_for_timeout(request["wait_ms"])
            png = page.screenshot(path=request["output"])
            title = page.title()
            # Count the picture's colours (up to enough_colours) in the browser's own canvas.
            counter = browser.new_page()
            colours, first = counter.evaluate("""async ([data, enough]) => {
                const image = new Image();
                image.src = "data:image/png;base64," + data;
                await image.decode();
                const canvas = document.createElement("canvas");
                canvas.width = image.width; canvas.height = image.height;
                const context = canvas.getContext("2d");
                context.drawImage(image, 0, 0);
                const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
                const seen = new Set();
                for (let i = 0; i < pixels.length && seen.size < enough; i += 4) {
                    seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
                }
                const rgb = (pixels[0] << 16) | (pixels[1] << 8) | pixels[2];
                return [seen.size, "#" + rgb.toString(16).padStart(6, "0")];
            }""", [base64.b64encode(png).decode(), request["enough_colours"]])
            browser.close()
            finish(ok=True, status=status, colours=colours, colour=first, title=title)
        """#
}
