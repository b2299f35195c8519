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
        let camera = Screenshooter(
            runner: context.runner, probe: prepared.probe,
            support: context.runDirectory.appendingPathComponent("state"))
        if let missing = await camera.unavailable() {
            // Not the recipe's failure: the tier has no verdict, and L5 is not reached.
            recorder.conclude(.skip, reason: "this node cannot take screenshots: \(missing)")
            await recorder.note("screenshot skipped: \(missing)")
            return recorder.result()
        }
        do {
            let picture = try await recorder.check("screenshot of \(spec.path)", waitLabel: "screenshot") {
                try await camera.capture(domain: app.domain.name, spec: spec, to: output, log: recorder.log)
            }
            await recorder.note(
                "\(Self.fileName): \(spec.width)x\(spec.height), HTTP \(picture.status ?? 0), "
                    + "\(picture.colours ?? 0)\((picture.colours ?? 0) >= Screenshooter.enoughColours ? "+" : "") colours"
                    + (picture.title.map { $0.isEmpty ? "" : ", title \"\($0)\"" } ?? ""))
        } catch {
            context.journal.line("screenshot stopped: \(error)", tier: Tier.screenshot.rawValue)
        }
        return recorder.result()
    }
}

/// Headless Chromium driven by Python's playwright (`executable_path` set to the node's
/// chromium: no browser download). In the lab the domain is mapped to the ingress' address and
/// the browser trusts the lab CA through its own certificate database — the certificate is
/// verified, as the browser tests verify it (``PlaywrightSupport``); in production DNS and the
/// system trust are the browser's own.
struct Screenshooter {
    let runner: ProcessRunner
    let probe: HTTPSProbe
    /// Where the browser support module is written (the run's state directory).
    let support: URL
    var chromium = PlaywrightSupport.chromium
    /// How long loading the page and showing the selector or text may take, before `wait`.
    var timeout = Duration.seconds(90)
    /// How long the page may take to show the selector or text it is waited for.
    var showTimeout = Duration.seconds(20)

    /// Distinct colours counted at most (a page of one colour is blank).
    static let enoughColours = 16

    /// What the browser script reports.
    struct Picture: Decodable, Sendable {
        var ok = false
        var error: String?
        var status: Int?
        var colours: Int?
        /// The colour of a one-colour page, `#rrggbb`.
        var colour: String?
        var title: String?
    }

    /// A picture that is not of the app.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// Why this node cannot take a picture (no chromium, no python3 playwright, no certutil for
    /// the lab CA); `nil` when it can.
    func unavailable() async -> String? {
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            return "no chromium at \(chromium) (apt-get install chromium, or set CCCI_CHROMIUM)"
        }
        let check = Command("python3", ["-c", "import playwright.sync_api"], output: .capture)
        guard let result = try? await runner.run(check), result.succeeded else {
            return "python3 has no playwright (pip install playwright; no browser download is needed)"
        }
        if probe.caCertificate != nil {
            let certutil = try? await runner.run(Command("certutil", ["-H"], output: .capture))
            if certutil == nil {
                return "no certutil to trust the lab CA in the browser (apt-get install libnss3-tools)"
            }
        }
        return nil
    }

    func capture(domain: String, spec: ScreenshotSpec, to output: URL, log: URL) async throws -> Picture {
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
        }
        if let ca = probe.caCertificate { request["ca"] = .string(ca.path) }
        if let selector = spec.selector { request["selector"] = .string(selector) }
        if let text = spec.text { request["text"] = .string(text) }
        let module = try PlaywrightSupport.install(in: support)
        let command = Command(
            "python3",
            ["-c", Self.script, String(decoding: try JSONCoding.compactEncoder.encode(request), as: UTF8.self)],
            environment: ["PYTHONPATH": module.path], output: .capture)
        // The pause the pack asks for comes on top of the browser's own time.
        guard let result = try await runner.run(command, timeout: timeout + spec.wait) else {
            throw Refused(description: "the browser took longer than \(DurationText.format(timeout + spec.wait))")
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
        import base64, json, os, sys, time
        request = json.loads(sys.argv[1])

        def finish(**report):
            print(json.dumps(report))
            sys.exit(0)

        from playwright.sync_api import sync_playwright, Error as BrowserError
        from ccci_playwright import trusting_home

        def first_line(error):
            return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

        with sync_playwright() as playwright:
            arguments = ["--host-resolver-rules=" + request["map"]] if request.get("map") else []
            environment = dict(os.environ)
            if request.get("ca"):
                # The lab CA, trusted in the browser's own database: certificates are verified.
                environment["HOME"] = trusting_home(request["ca"])
            try:
                browser = playwright.chromium.launch(
                    executable_path=request["chromium"], args=arguments, env=environment)
            except BrowserError as error:
                finish(error="chromium does not start: " + first_line(error))
            page = browser.new_page(viewport={"width": request["width"], "height": request["height"]})
            timeout = request["timeout_ms"]
            # Chromium aborts a load when the host's network changes (ERR_NETWORK_CHANGED): docker
            # adding or removing a container's interface does that, e.g. while another app of the
            # run deploys. That is not the app's failure: the load is tried again (at most 3 times).
            for attempt in range(3):
                try:
                    response = page.goto(request["url"], wait_until="load", timeout=timeout)
                    break
                except BrowserError as error:
                    if "ERR_NETWORK_CHANGED" in str(error) and attempt < 2:
                        time.sleep(0.5)
                        continue
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
            # Count the picture's colours (up to enough_colours) in the browser's own canvas — on
            # a blank document (no page's CSP in the way), in the same tab: a second tab would
            # start another renderer process for nothing.
            page.goto("about:blank")
            colours, first = page.evaluate("""async ([data, enough]) => {
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
