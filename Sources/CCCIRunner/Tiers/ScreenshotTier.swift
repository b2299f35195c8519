import CCCICore
import CCCIDeploy
import CCCISystem
import Foundation

/// The screenshot tier (SPEC F-LEVEL, L5's second half): once the head app is healthy, headless
/// Chromium loads the pack's page (`screenshot`: path, a selector or text to wait for, a pause,
/// the window) on the app's domain through the ingress and saves `screenshot.png` in the run
/// directory. The picture must be of the app: a browser error page, an HTTP error (the ingress'
/// own 404/502 included) or a page of one colour fails the tier, saying which. A node that cannot
/// take pictures (no chromium, no certutil for the lab CA) skips the tier with why — the run then
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
            scratch: context.runDirectory.appendingPathComponent("state/screenshot-browser"))
        if let missing = await camera.unavailable() {
            // Not the recipe's failure: the tier has no verdict, and L5 is not reached.
            recorder.conclude(.skip, reason: "this node cannot take screenshots: \(missing)")
            await recorder.note("screenshot skipped: \(missing)")
            return recorder.result()
        }
        do {
            let secondTry = Locked<String?>(nil)
            let picture = try await recorder.check("screenshot of \(spec.path)", waitLabel: "screenshot") {
                do {
                    return try await camera.capture(domain: app.domain.name, spec: spec, to: output, log: recorder.log)
                } catch let refused as Screenshooter.Refused where refused.browserGone != nil {
                    // The browser's process ended under it: not the app's doing. Once more.
                    secondTry.withLock { $0 = refused.browserGone }
                    context.journal.line(
                        "screenshot: the browser went away under it (\(refused)) — taking it once more",
                        tier: Tier.screenshot.rawValue)
                    do {
                        return try await camera.capture(
                            domain: app.domain.name, spec: spec, to: output, log: recorder.log)
                    } catch let again as Screenshooter.Refused {
                        throw Screenshooter.Refused(
                            description:
                                "\(again) — on a second try: the browser went away under the first (\(refused.browserGone ?? ""))"
                        )
                    }
                }
            }
            await recorder.note(
                "\(Self.fileName): \(spec.width)x\(spec.height), HTTP \(picture.status ?? 0), "
                    + "\(picture.colours ?? 0)\((picture.colours ?? 0) >= Screenshooter.enoughColours ? "+" : "") colours"
                    + (picture.title.map { $0.isEmpty ? "" : ", title \"\($0)\"" } ?? "")
                    + (secondTry.value.map { " — on a second try: the browser went away under the first (\($0))" } ?? "")
            )
        } catch {
            context.journal.line("screenshot stopped: \(error)", tier: Tier.screenshot.rawValue)
        }
        return recorder.result()
    }
}

/// Headless Chromium, driven over its DevTools protocol on a pipe (`--remote-debugging-pipe`) by
/// a short Python script that needs nothing but the standard library: no playwright, no node
/// driver, which cost a picture ~0.6 s of CPU. In the lab the domain is mapped to the ingress'
/// address and the browser trusts the lab CA through its own certificate database — the
/// certificate is verified, as the browser tests verify it (``PlaywrightSupport``); in production
/// DNS and the system trust are the browser's own.
struct Screenshooter {
    let runner: ProcessRunner
    let probe: HTTPSProbe
    /// The browser's scratch directory (its HOME and profile), removed after each picture.
    let scratch: URL
    var chromium = PlaywrightSupport.chromium
    /// How long loading the page and showing the selector or text may take, before `wait`.
    var timeout = Duration.seconds(90)
    /// How long the page may take to show the selector or text it is waited for.
    var showTimeout = Duration.seconds(20)

    /// Distinct colours counted at most (a page of one colour is blank).
    static let enoughColours = 16

    /// What the browser script reports (every field optional: a refusal carries only `error` and
    /// perhaps `status`).
    struct Picture: Decodable, Sendable {
        var ok: Bool?
        var error: String?
        var status: Int?
        var colours: Int?
        /// The colour of a one-colour page, `#rrggbb`.
        var colour: String?
        var title: String?
        /// How chromium's process ended under the script, when it did.
        var gone: String?
    }

    /// A picture that is not of the app.
    struct Refused: Error, CustomStringConvertible {
        let description: String
        /// How the browser's process ended under the picture, when that is why there is none:
        /// not the app's doing.
        var browserGone: String?
    }

    /// Why this node cannot take a picture (no chromium, no python3, no certutil for the lab CA);
    /// `nil` when it can.
    func unavailable() async -> String? {
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            return "no chromium at \(chromium) (apt-get install chromium, or set CCCI_CHROMIUM)"
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard
            path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }
            )
        else {
            return "no python3 on PATH to drive the browser (apt-get install python3)"
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
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = scratch.appendingPathComponent("home")
        try await PlaywrightSupport.trustingHome(at: home, ca: probe.caCertificate, runner: runner)
        var request: [String: JSONValue] = [
            "url": .string("https://\(domain)\(spec.path)"), "output": .string(output.path),
            "chromium": .string(chromium), "width": .int(spec.width), "height": .int(spec.height),
            "wait_ms": .int(Int(spec.wait.seconds * 1000)), "timeout_ms": .int(Int(timeout.seconds * 1000) / 2),
            "show_timeout_ms": .int(Int(showTimeout.seconds * 1000)),
            "ingress_header": .string(HTTPSProbe.ingressAnswerHeader), "enough_colours": .int(Self.enoughColours),
            "home": .string(home.path), "profile": .string(scratch.appendingPathComponent("profile").path),
        ]
        if let resolve = probe.curlResolve(for: domain), let address = resolve.split(separator: ":").last {
            request["map"] = .string("MAP \(domain) \(address)")
        }
        if let selector = spec.selector { request["selector"] = .string(selector) }
        if let text = spec.text { request["text"] = .string(text) }
        let command = Command(
            "python3",
            ["-c", Self.script, String(decoding: try JSONCoding.compactEncoder.encode(request), as: UTF8.self)],
            output: .capture)
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
        if let error = picture.error { throw Refused(description: error, browserGone: picture.gone) }
        guard picture.ok == true, FileManager.default.fileExists(atPath: output.path) else {
            throw Refused(description: "no picture was saved")
        }
        if picture.colours == 1 {
            throw Refused(
                description: "the page is blank: every pixel of the \(spec.width)x\(spec.height) picture is "
                    + "\(picture.colour ?? "one colour") (saved as \(output.lastPathComponent))")
        }
        return picture
    }

    /// The browser side: takes the request as JSON in argv[1]; prints one JSON report line. It
    /// speaks the DevTools protocol to chromium over fds 3 (commands) and 4 (replies and events),
    /// each message JSON ended by a NUL byte.
    static let script = #"""
        import base64, json, os, select, subprocess, sys, time
        request = json.loads(sys.argv[1])
        browser = None
        # Set when chromium's process ended under the script: the report says so (gone).
        gone = None

        class Stopped(Exception):
            pass

        def finish(**report):
            # Exactly one report line, then the browser is stopped, whatever ended the script.
            if "error" in report and gone is not None:
                report["gone"] = gone
            print(json.dumps(report))
            sys.stdout.flush()
            if browser is not None:
                browser.close()
            sys.exit(0)

        def describe(error):
            return str(error) or type(error).__name__

        class Browser:
            def __init__(self):
                to_chromium_read, self.to_chromium = os.pipe()
                self.from_chromium, from_chromium_write = os.pipe()

                def pipes():
                    # Moved out of the way first: either end may already be fd 3 or 4.
                    high = [os.dup(to_chromium_read), os.dup(from_chromium_write)]
                    os.dup2(high[0], 3)
                    os.dup2(high[1], 4)

                arguments = [
                    request["chromium"], "--headless", "--no-sandbox", "--remote-debugging-pipe",
                    "--user-data-dir=" + request["profile"], "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                    "--disable-extensions", "--disable-sync", "--disable-breakpad", "--disable-dev-shm-usage",
                    "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
                    "--force-color-profile=srgb", "--hide-scrollbars", "--mute-audio",
                ]
                if request.get("map"):
                    arguments.append("--host-resolver-rules=" + request["map"])
                arguments.append("about:blank")
                environment = dict(os.environ, HOME=request["home"])
                self.process = subprocess.Popen(
                    arguments, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=sys.stderr, preexec_fn=pipes, pass_fds=(3, 4))
                os.close(to_chromium_read)
                os.close(from_chromium_write)
                self.buffer, self.events, self.last = b"", [], 0

            def ended(self):
                # Its pipe closed: chromium's process ended under the script.
                global gone
                try:
                    status = self.process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    status = None
                gone = "chromium exited (status %s)" % status
                raise Stopped(gone)

            def read(self, deadline):
                while b"\0" not in self.buffer:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.from_chromium], [], [], left)[0]:
                        raise Stopped("timed out")
                    chunk = os.read(self.from_chromium, 1 << 16)
                    if not chunk:
                        self.ended()
                    self.buffer += chunk
                message, _, self.buffer = self.buffer.partition(b"\0")
                return json.loads(message)

            def call(self, method, params=None, session=None, seconds=30):
                self.last += 1
                message = {"id": self.last, "method": method, "params": params or {}}
                if session:
                    message["sessionId"] = session
                data = json.dumps(message).encode() + b"\0"
                while data:
                    try:
                        data = data[os.write(self.to_chromium, data):]
                    except BrokenPipeError:
                        self.ended()
                deadline = time.monotonic() + seconds
                while True:
                    reply = self.read(deadline)
                    if reply.get("id") != self.last:
                        self.events.append(reply)
                    elif "error" in reply:
                        raise Stopped("%s: %s" % (method, reply["error"].get("message")))
                    else:
                        return reply.get("result", {})

            def event(self, matches, deadline):
                while True:
                    for index, event in enumerate(self.events):
                        if matches(event):
                            return self.events.pop(index)
                    self.events.append(self.read(deadline))

            def close(self):
                try:
                    self.call("Browser.close", seconds=5)
                except Exception:
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()

        try:
            browser = Browser()
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        except Exception as error:
            # One that does not start is not given another try.
            gone = None
            finish(error="chromium does not start: %s" % describe(error))

        def page(method, params=None, seconds=10):
            return browser.call(method, params, session, seconds)

        def evaluate(expression, seconds=10, context=None):
            params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
            if context is not None:
                params["contextId"] = context
            result = page("Runtime.evaluate", params, seconds)
            if "exceptionDetails" in result:
                details = result["exceptionDetails"]
                raise Stopped(details.get("exception", {}).get("description") or details.get("text"))
            return result["result"].get("value")

        def picture():
            data = page("Page.captureScreenshot", {"format": "png"})["data"]
            with open(request["output"], "wb") as file:
                file.write(base64.b64decode(data))
            return data

        try:
            page("Page.enable")
            page("Page.setLifecycleEventsEnabled", {"enabled": True})
            page("Network.enable")
            page("Emulation.setDeviceMetricsOverride", {
                "width": request["width"], "height": request["height"], "deviceScaleFactor": 1, "mobile": False})
            # Loading the page (every attempt) has timeout_ms in all, as the Swift side expects.
            url, loaded_by = request["url"], time.monotonic() + request["timeout_ms"] / 1000
            # Chromium aborts a load when the host's network changes (ERR_NETWORK_CHANGED): docker
            # adding or removing a container's interface does that, e.g. while another app of the
            # run deploys. That is not the app's failure: the load is tried again (at most 3 times).
            for attempt in range(3):
                browser.events = []
                navigation = page("Page.navigate", {"url": url}, max(1, loaded_by - time.monotonic()))
                failure = navigation.get("errorText")
                if failure and "ERR_NETWORK_CHANGED" in failure and attempt < 2:
                    time.sleep(0.5)
                    continue
                if failure:
                    finish(error="the browser could not load %s: %s" % (url, failure))
                # This navigation's own load (the first about:blank's may still be queued).
                loader = navigation.get("loaderId")
                try:
                    browser.event(lambda event: event.get("method") == "Page.lifecycleEvent"
                                  and event["params"].get("name") == "load"
                                  and event["params"].get("loaderId") == loader, loaded_by)
                except Stopped as error:
                    finish(error="the browser could not load %s: %s" % (url, error))
                break
            # The main document's last response (after any redirects).
            responses = [event["params"]["response"] for event in browser.events
                         if event.get("method") == "Network.responseReceived"
                         and event["params"].get("loaderId") == navigation.get("loaderId")
                         and event["params"].get("type") == "Document"]
            response = responses[-1] if responses else {}
            status = response.get("status", 0)
            headers = {name.lower(): value for name, value in response.get("headers", {}).items()}
            ingress = headers.get(request["ingress_header"].lower())
            if ingress:
                finish(error="the ingress answered %d itself (%s): no route to the app" % (status, ingress),
                       status=status)
            if status >= 400:
                picture()
                finish(error="the page is an error: HTTP %d" % status, status=status)
            if request.get("selector") or request.get("text"):
                # Shown: the element rendered with a size, and the text in the page's rendered text
                # (whitespace folded, case ignored).
                shown = """(([selector, text]) => {
                    if (selector !== null) {
                        const element = document.querySelector(selector);
                        if (!element) return false;
                        const box = element.getBoundingClientRect(), style = getComputedStyle(element);
                        if (box.width === 0 || box.height === 0 || style.visibility === "hidden") return false;
                    }
                    if (text !== null) {
                        const fold = (value) => value.replace(/\\s+/g, " ").trim().toLowerCase();
                        if (!document.body || !fold(document.body.innerText).includes(fold(text))) return false;
                    }
                    return true;
                })(%s)""" % json.dumps([request.get("selector"), request.get("text")])
                deadline = time.monotonic() + request["show_timeout_ms"] / 1000
                problem = None
                while True:
                    try:
                        if evaluate(shown, seconds=5):
                            break
                        problem = None
                    except Stopped as error:
                        # The page navigating itself (a redirect to a login page, a refresh)
                        # destroys the context mid-check: not shown yet. (An invalid selector
                        # fails every check: the report says so.)
                        problem = describe(error).splitlines()[0]
                    if time.monotonic() > deadline:
                        picture()
                        wanted = " and ".join("%s `%s`" % (kind, request[kind])
                                              for kind in ("selector", "text") if request.get(kind))
                        finish(error="the page never showed %s within %d s%s" % (
                            wanted, request["show_timeout_ms"] // 1000,
                            " (the last check failed: %s)" % problem if problem else ""), status=status)
                    time.sleep(0.1)
            if request["wait_ms"] > 0:
                time.sleep(request["wait_ms"] / 1000)
            data = picture()
            title = evaluate("document.title")
            # Count the picture's colours (up to enough_colours) in the browser's own canvas, in
            # an isolated world of the same page: the page's own scripts cannot touch it, and a
            # bitmap made from bytes loads no URL the page's CSP could refuse. (Navigating away
            # to a blank document for this cost a renderer ~0.2 s of CPU.)
            frame = page("Page.getFrameTree")["frameTree"]["frame"]["id"]
            world = page("Page.createIsolatedWorld", {"frameId": frame, "worldName": "ccci-colours"})
            colours, first = evaluate("""(async ([data, enough]) => {
                const bytes = Uint8Array.from(atob(data), (character) => character.charCodeAt(0));
                const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
                const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
                const context = canvas.getContext("2d", {willReadFrequently: true});
                context.drawImage(bitmap, 0, 0);
                const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
                const seen = new Set();
                for (let i = 0; i < pixels.length && seen.size < enough; i += 4) {
                    seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
                }
                const rgb = (pixels[0] << 16) | (pixels[1] << 8) | pixels[2];
                return [seen.size, "#" + rgb.toString(16).padStart(6, "0")];
            })(%s)""" % json.dumps([data, request["enough_colours"]]), context=world["executionContextId"])
        except Exception as error:
            finish(error="the browser stopped: %s" % describe(error))
        finish(ok=True, status=status, colours=colours, colour=first, title=title)
        """#
}
