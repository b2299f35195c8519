import CCCICore
import CCCISystem
import Foundation
import Testing

@testable import CCCIRunner

#if canImport(Glibc)
import Glibc
#endif

/// The screenshot tier's browser program (`Sources/CCCIRunner/Resources/screenshot.py`, embedded
/// in the binary) run as the tier runs it — `python3 -c <script> <request>` with the node's
/// chromium — against pages a local server answers: each report the tier relies on, for its reason.
@Suite(.serialized) struct ScreenshotScriptTests {
    /// A local HTTP server (python3's) with one page per case; its port on the first line.
    static let server = #"""
        import http.server, sys
        PAGES = {
            "/colourful": (200, {}, "<title>Colourful</title><body style='margin:0'>" + "".join(
                "<div style='height:12px;background:hsl(%d,80%%,50%%)'></div>" % (index * 7) for index in range(60))),
            "/blank": (200, {}, "<title>Blank</title><body style='background:#ffffff'></body>"),
            "/missing": (404, {}, "<title>Not found</title><h1>nothing here</h1>"),
            "/ingress": (502, {"X-CCCI-Ingress": "no route"}, "no route"),
            "/late": (200, {}, "<title>Late</title><body><script>setTimeout(() => {"
                      "document.body.innerHTML = '<p id=ready>Ready   NOW</p>' + '<div style=\"height:400px;"
                      "background:linear-gradient(red,blue)\"></div>'}, 300)</script></body>"),
        }
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, headers, body = PAGES.get(self.path, (404, {}, "no such page"))
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body.encode())
            def log_message(self, *arguments):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Runs `body` with the server's base URL; ends the server (by its pid) after.
    static func withServer<T>(_ body: (String) async throws -> T) async throws -> T {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", server]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // SIGKILL: the server inherits the test process' signal mask, where SIGTERM may be blocked.
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line += byte
        }
        let port = try #require(Int(String(decoding: line, as: UTF8.self)), "the page server did not start")
        return try await body("http://127.0.0.1:\(port)")
    }

    /// The report of the script on `path`, with the request fields the tier sends.
    static func capture(
        _ base: String, _ path: String, selector: String? = nil, text: String? = nil, showTimeout: Int = 3000
    ) async throws -> (report: [String: Any], picture: URL) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-shot-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let picture = scratch.appendingPathComponent("screenshot.png")
        var request: [String: Any] = [
            "url": base + path, "output": picture.path, "chromium": PlaywrightSupport.chromium, "width": 800,
            "height": 600, "wait_ms": 0, "timeout_ms": 30000, "show_timeout_ms": showTimeout,
            "ingress_header": "X-CCCI-Ingress", "enough_colours": Screenshooter.enoughColours,
            "home": scratch.appendingPathComponent("home").path,
            "profile": scratch.appendingPathComponent("profile").path,
        ]
        if let selector { request["selector"] = selector }
        if let text { request["text"] = text }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let result = try await ProcessRunner().run(
            Command("python3", ["-c", Screenshooter.script, json], output: .capture))
        let line = try #require(result.output.split(separator: "\n").last, "no report: \(result.errorOutput)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (report, picture)
    }

    @Test("the program is valid Python and is what the binary embeds")
    func compiles() async throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/CCCIRunner/Resources/screenshot.py")
        #expect(try String(contentsOf: source, encoding: .utf8) == Screenshooter.script)
        let check = try await ProcessRunner().run(
            Command(
                "python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"],
                input: Data(Screenshooter.script.utf8),
                output: .capture))
        #expect(check.status == 0, "\(check.errorOutput)")
    }

    @Test(
        "a page: ok, its title, enough colours, a PNG; a blank page is one colour; an error page and the ingress' own answer are refused for their reason"
    )
    func reports() async throws {
        try await Self.withServer { base in
            let (page, picture) = try await Self.capture(base, "/colourful")
            #expect(page["ok"] as? Bool == true, "\(page)")
            #expect(page["title"] as? String == "Colourful" && page["status"] as? Int == 200)
            #expect((page["colours"] as? Int ?? 0) >= Screenshooter.enoughColours)
            let png = try Data(contentsOf: picture)
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")

            let (blank, _) = try await Self.capture(base, "/blank")
            #expect(blank["colours"] as? Int == 1 && blank["colour"] as? String == "#ffffff", "\(blank)")

            let (missing, missingPicture) = try await Self.capture(base, "/missing")
            #expect(missing["error"] as? String == "the page is an error: HTTP 404", "\(missing)")
            #expect(FileManager.default.fileExists(atPath: missingPicture.path), "the error page is pictured")

            let (ingress, _) = try await Self.capture(base, "/ingress")
            #expect(
                ingress["error"] as? String == "the ingress answered 502 itself (no route): no route to the app",
                "\(ingress)")
        }
    }

    @Test(
        "a selector or text is waited for until shown (case and spacing folded); one never shown is refused, naming it")
    func waitsForWhatIsShown() async throws {
        try await Self.withServer { base in
            let (shown, _) = try await Self.capture(base, "/late", selector: "#ready", text: "ready now")
            #expect(shown["ok"] as? Bool == true, "\(shown)")
            let (never, _) = try await Self.capture(base, "/late", selector: "#nowhere", showTimeout: 1500)
            #expect(
                (never["error"] as? String)?.hasPrefix("the page never showed selector `#nowhere` within 1 s") == true,
                "\(never)")
        }
    }
}
