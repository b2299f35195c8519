"""The screenshot tier's browser side (SPEC F-SCREENSHOT), run by cc-ci as `python3 -c <this> <request>`.

Takes the request as JSON in argv[1] and prints one JSON report line. It speaks the DevTools
protocol to chromium over fds 3 (commands) and 4 (replies and events), each message JSON ended by
a NUL byte. Tests: Tests/CCCIRunnerTests/ScreenshotScriptTests.swift.
"""
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
