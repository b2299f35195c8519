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

    /// The browser side (`Resources/screenshot.py`, embedded in the binary): takes the request as
    /// JSON in argv[1]; prints one JSON report line.
    static let script = String(decoding: PackageResources.screenshot_py, as: UTF8.self)
}
