import CCCICore
import CCCIDeploy
import CCCISystem
import Foundation

/// The custom tier (SPEC F-CUSTOM): the recipe's own functional tests against the head app.
///
/// Each test runs with the hook context, bounded by `test_timeout`; its verdicts come from the
/// JUnit XML it writes (pytest, `CCCI_JUNIT_FILE`) or the TAP it prints, else from its exit code.
/// Browser tests (`tests/playwright/*.py`) run under pytest-playwright with Debian's chromium,
/// reaching the app by its domain through the ingress, the lab CA trusted. A test that cannot run
/// here (a `.spec.ts` with no Node runner), or that a dependency it needs is not ready for, is
/// reported as skipped with its reason — never dropped, never passed.
struct CustomTier {
    let steps: TierSteps

    var context: RunContext { steps.context }
    var prepared: PreparedRun { steps.prepared }
    var reporter: Reporter { context.reporter }

    /// Runs the tests; returns the tier's verdict and how many tests were executed.
    func run(_ app: App) async -> (TierResult, Int) {
        let custom = TierRecorder(tier: .custom, role: .head, journal: context.journal, reporter: reporter)
        guard !prepared.tests.isEmpty else {
            custom.conclude(
                .skip,
                reason:
                    "no functional tests found (tests/functional/ or tests/playwright/ in the recipe or its CI pack)")
            await custom.note("no functional tests found")
            var result = custom.result()
            result.na = TierNA(gap: NACoverage.Gap.orDeclare(NACoverage.Gap.noTests, [.custom]))
            return (result, 0)
        }
        let deps = steps.dependencies
        var executed = 0
        var skipped: [[String: JSONValue]] = []
        for test in prepared.tests {
            if Task.isCancelled {
                custom.cancel(during: test.displayName)
                break
            }
            if let refusal = test.refusal {
                custom.record(Check(name: test.displayName, status: .fail, durationSeconds: 0, message: refusal))
                await reporter.step(
                    role: "head", tier: "custom", name: test.displayName, result: .failed("refused: \(refusal)"),
                    elapsed: nil)
                continue
            }
            var reason: String?
            if case .unsupported(let why) = test.kind { reason = why }
            let missing = test.requires.filter { deps[$0]?.ready != true }
            if reason == nil, !missing.isEmpty {
                reason = missing.map { name in
                    "dependency \(name) is not ready"
                        + (deps[name]?.reason.map { " (\($0))" }
                            ?? (deps[name] == nil ? " (not declared in `dependencies`)" : ""))
                }.joined(separator: "; ")
            }
            if let reason {
                await custom.skip(test.displayName, reason: reason)
                skipped.append(["test": .string(test.displayName), "reason": .string(reason)])
                continue
            }
            executed += 1
            let stopped = await runTest(test, index: executed, app: app, into: custom)
            if stopped { break }
        }
        try? AtomicFile.write(
            try JSONCoding.prettyEncoder.encode(
                JSONValue.object(["skipped": .array(skipped.map(JSONValue.object)), "count": .int(skipped.count)])),
            to: prepared.stateFiles.skipReport, permissions: 0o600)
        if executed == 0 {
            custom.conclude(
                .skip,
                reason:
                    "\(skipped.count) test\(skipped.count == 1 ? "" : "s") skipped, none executed: \(skipped.first?["reason"]?.stringValue ?? "")"
            )
        } else if !skipped.isEmpty && !custom.failed {
            await custom.note("\(executed) executed, \(skipped.count) skipped")
        }
        return (custom.result(), executed)
    }

    /// What one run of a test left: how its process ended, its cases and how long it took.
    struct Attempt {
        var outcome: HookRunner.Outcome
        var cases: [ReportedCase]
        var elapsed: Duration
        /// The tests during which the browser's process ended (the plugin's report), by pytest id.
        var browserGone: [String] = []

        var failedCases: [ReportedCase] { cases.filter { $0.status == .fail } }
        var passed: Bool { outcome.succeeded && failedCases.isEmpty }
    }

    /// Runs one test and records its verdicts; returns `true` when the run was stopped meanwhile.
    ///
    /// A browser test whose browser went away under it (the browser process ended: not something
    /// the app or an assertion does) is run once more, and the report says so — its verdict is
    /// the second run's.
    func runTest(_ test: CustomTest, index: Int, app: App, into custom: TierRecorder) async -> Bool {
        let timeout = prepared.meta.testTimeout
        var rerunBecause: String?
        var attempt: Attempt
        while true {
            context.journal.line(
                "test \(test.displayName): \(rerunBecause == nil ? "running" : "running again") "
                    + "(log \(Self.logName(test, index: index, rerun: rerunBecause != nil, attempt: steps.attempt)), "
                    + "timeout \(DurationText.format(timeout)))",
                tier: "custom")
            let started = ContinuousClock.now
            do {
                guard
                    let done = try await run(
                        test, index: index, app: app, timeout: timeout, rerun: rerunBecause != nil)
                else { return false }
                attempt = done
            } catch {
                if Task.isCancelled {
                    custom.cancel(during: test.displayName)
                    return true
                }
                custom.record(
                    Check(
                        name: test.displayName, status: .fail, durationSeconds: (ContinuousClock.now - started).seconds,
                        message: "\(error)"))
                return false
            }
            if Task.isCancelled {
                // Killed by the stop, not failed on its own: no verdict.
                custom.cancel(during: test.displayName)
                return true
            }
            guard rerunBecause == nil, test.kind == .playwright, !attempt.passed, !attempt.outcome.timedOut,
                let why = Self.browserWentAway(attempt)
            else { break }
            rerunBecause = why
            await custom.note("\(test.displayName): the browser went away under it (\(why)) — running it once more")
        }
        record(attempt, of: test, rerunBecause: rerunBecause, timeout: timeout, into: custom)
        let verdict: Reporter.StepResult =
            attempt.outcome.timedOut
            ? .failed("timed out after \(DurationText.format(timeout))")
            : attempt.passed
                ? .passed
                : .failed(attempt.failedCases.first.map { "\($0.name) failed" } ?? "exited \(attempt.outcome.exitCode)")
        await reporter.step(
            role: "head", tier: "custom", name: test.displayName, result: verdict, elapsed: attempt.elapsed)
        return false
    }

    /// The log of a test's run, in the run's `tiers/`.
    /// (`attempt` 2: the head path run again on a fresh app, `retry_failed`.)
    static func logName(_ test: CustomTest, index: Int, rerun: Bool, attempt: Int = 1) -> String {
        "custom-\(index)-\(test.path.lastPathComponent)\(attempt > 1 ? ".attempt\(attempt)" : "")\(rerun ? ".rerun" : "").log"
    }

    /// Runs `test` once (`rerun`: its second run, with logs of its own); `nil` for a kind that
    /// cannot run here.
    func run(_ test: CustomTest, index: Int, app: App, timeout: Duration, rerun: Bool) async throws -> Attempt? {
        let hookContext = steps.hookContext(op: "custom", app: app)
        let runDirectory = context.runDirectory
        let suffix = (steps.attempt > 1 ? "-attempt\(steps.attempt)" : "") + (rerun ? "-rerun" : "")
        let junit = runDirectory.appendingPathComponent("state/junit-\(index)\(suffix).xml")
        // Each test writes to a log of its own (its TAP is read from there), on each attempt.
        let log = runDirectory.appendingPathComponent(
            "tiers/\(Self.logName(test, index: index, rerun: rerun, attempt: steps.attempt))")
        let clock = ContinuousClock()
        let start = clock.now
        // A browser test's HOME (its certificate database), removed once the test is done.
        let browserHome = runDirectory.appendingPathComponent("state/browser-\(index)\(suffix)")
        // Where the plugin names the tests whose browser went away under them.
        let browserGone = runDirectory.appendingPathComponent("state/browser-gone-\(index)\(suffix)")
        defer {
            try? FileManager.default.removeItem(at: browserHome)
            try? FileManager.default.removeItem(at: browserGone)
        }
        let hooks = HookRunner(runner: context.runner)
        let outcome: HookRunner.Outcome
        switch test.kind {
        case .executable:
            outcome = try await hooks.run(
                test.path, context: hookContext, directory: test.path.deletingLastPathComponent(), log: log,
                extraEnvironment: ["CCCI_JUNIT_FILE": junit.path], timeout: timeout)
        case .pytest, .playwright:
            var arguments = [
                "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=\(junit.path)",
            ]
            // Only the plugins the test names (and pytest-playwright for a browser test): the
            // node's other plugins would change what the test sees and cost seconds of CPU.
            var environment = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"]
            var plugins = test.pytestPlugins
            if test.kind == .playwright, !plugins.contains(PlaywrightSupport.pytestPlugin) {
                plugins.insert(PlaywrightSupport.pytestPlugin, at: 0)
            }
            arguments += plugins.flatMap { ["-p", $0] }
            if test.kind == .playwright {
                let plugin = try PlaywrightSupport.install(in: runDirectory.appendingPathComponent("state"))
                arguments += ["-p", PlaywrightSupport.moduleName, "--base-url", hookContext.baseURL]
                try await PlaywrightSupport.trustingHome(
                    at: browserHome, ca: prepared.probe.caCertificate, runner: context.runner)
                environment["PYTHONPATH"] = plugin.path
                environment["CCCI_CHROMIUM"] = PlaywrightSupport.chromium
                environment["CCCI_BROWSER_HOME"] = browserHome.path
                environment["CCCI_BROWSER_GONE"] = browserGone.path
            }
            outcome = try await hooks.run(
                URL(fileURLWithPath: "/usr/bin/env"), arguments: arguments + [test.path.path], context: hookContext,
                directory: test.path.deletingLastPathComponent(), log: log, extraEnvironment: environment,
                timeout: timeout)
        case .unsupported:
            return nil
        }
        var cases: [ReportedCase] = []
        if !outcome.timedOut {
            cases = (try? Data(contentsOf: junit)).flatMap(JUnitReport.parse) ?? []
            if cases.isEmpty { cases = TAP.parse((try? String(contentsOf: log, encoding: .utf8)) ?? "") }
        }
        // The test's own process writes it: only its first 4 KiB are read.
        let report = (try? FileHandle(forReadingFrom: browserGone)).flatMap { handle in
            defer { try? handle.close() }
            return try? handle.read(upToCount: 4096)
        }
        let gone = String(decoding: report ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init)
        return Attempt(outcome: outcome, cases: cases, elapsed: clock.now - start, browserGone: gone)
    }

    /// Records the verdicts of a test's last run; a second run says why there was one.
    func record(
        _ attempt: Attempt, of test: CustomTest, rerunBecause: String?, timeout: Duration, into custom: TierRecorder
    ) {
        let elapsed = attempt.elapsed.seconds
        /// What a second run adds to each of its verdicts.
        func said(_ message: String?, passed: Bool) -> String? {
            guard let rerunBecause else { return message }
            let why = "the browser went away under its first run (\(rerunBecause))"
            if passed { return "passed when run again: \(why)" }
            return [message, "run twice: \(why)"].compactMap { $0 }.joined(separator: " — ")
        }
        if attempt.outcome.timedOut {
            custom.record(
                Check(
                    name: test.displayName, status: .fail, durationSeconds: elapsed,
                    message: said(
                        "stopped after \(DurationText.format(timeout)) (test_timeout): the test did not finish",
                        passed: false)))
            return
        }
        if attempt.cases.isEmpty {
            let outcome = attempt.outcome
            custom.record(
                Check(
                    name: test.displayName, status: outcome.succeeded ? .pass : .fail, durationSeconds: elapsed,
                    message: said(
                        outcome.succeeded
                            ? nil
                            : "exited \(outcome.exitCode): \(outcome.outputTail.split(separator: "\n").suffix(3).joined(separator: " | "))",
                        passed: outcome.succeeded)))
            return
        }
        for reported in attempt.cases {
            custom.record(
                Check(
                    name: "\(test.displayName): \(reported.name)", status: reported.status,
                    durationSeconds: reported.durationSeconds,
                    message: said(
                        reported.message.map { test.kind == .executable ? $0 : Self.pluginHint($0) },
                        passed: reported.status == .pass)))
        }
        if !attempt.outcome.succeeded && attempt.failedCases.isEmpty {
            custom.record(
                Check(
                    name: test.displayName, status: .fail, durationSeconds: elapsed,
                    message: said(
                        "exited \(attempt.outcome.exitCode) although every reported case passed", passed: false)))
        }
    }
}

extension CustomTier {
    /// Why a browser test's failure was its browser going away (its process ended under the
    /// test, as the plugin saw: not something a page or an assertion does), with what playwright
    /// said; `nil` when it failed for anything else.
    static func browserWentAway(_ attempt: Attempt) -> String? {
        guard let test = attempt.browserGone.first else { return nil }
        let name = test.split(separator: ":").last.map(String.init) ?? test
        let said =
            attempt.failedCases.first(where: { $0.name.hasSuffix(name) })?.message
            ?? attempt.failedCases.first?.message
        let line = said?.split(separator: "\n").first.map(String.init) ?? ""
        let first = line.count > 160 ? String(line.prefix(160)) + "…" : line
        return "its process ended during `\(name)`" + (first.isEmpty ? "" : ": \(first)")
    }

    /// A pytest failure for a fixture no loaded plugin provides, with how to load the plugin.
    static func pluginHint(_ message: String) -> String {
        guard let start = message.range(of: "fixture '"),
            let end = message[start.upperBound...].range(of: "' not found")
        else { return message }
        let fixture = message[start.upperBound..<end.lowerBound]
        return message
            + " — pytest runs here with plugin autoloading off: if `\(fixture)` comes from a plugin, name it "
            + "in the test's first lines, e.g. `# ccci-pytest-plugins: benchmark`"
    }
}

/// What browser tests need: Debian's chromium driven by PyPI's playwright, told to reach the
/// app's domain on the lab ingress and to trust the lab CA — through a small pytest plugin cc-ci
/// writes into the run directory.
enum PlaywrightSupport {
    static let moduleName = "ccci_playwright"
    /// pytest-playwright's plugin (its entry-point name).
    static let pytestPlugin = "playwright"
    /// The node's chromium: `CCCI_CHROMIUM`, else Debian's.
    static let chromium = ProcessInfo.processInfo.environment["CCCI_CHROMIUM"] ?? "/usr/bin/chromium"

    /// The browser could not be set up (its certificate database): the tier says why.
    struct SetupFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Makes `home` a HOME for the browser whose NSS database trusts `ca` (the lab CA): chromium
    /// verifies the app's certificate against it, as a browser trusting that CA would. It lives in
    /// the run's state directory, and whoever made it removes it after the browser is done.
    static func trustingHome(at home: URL, ca: URL?, runner: ProcessRunner) async throws {
        let files = FileManager.default
        try? files.removeItem(at: home)
        let database = home.appendingPathComponent(".pki/nssdb")
        try files.createDirectory(
            at: database, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard let ca else { return }
        for arguments in [
            ["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "ccci-lab-ca", "-i", ca.path],
        ] {
            let result = try await runner.run(
                Command("certutil", ["-d", "sql:\(database.path)"] + arguments, output: .capture))
            guard result.succeeded else {
                throw SetupFailure(
                    description:
                        "certutil \(arguments[0]) failed (the browser's trust of the lab CA): \(result.tail(3))")
            }
        }
    }

    /// Writes the plugin into `directory`; returns the directory for `PYTHONPATH`.
    static func install(in directory: URL) throws -> URL {
        let file = directory.appendingPathComponent("\(moduleName).py")
        if !FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try AtomicFile.write(plugin, to: file)
        }
        return directory
    }

    /// The plugin. Its fixture is registered at configure time, after pytest-playwright's, so
    /// that it takes precedence: chromium from Debian, the app's domain mapped to the ingress
    /// address (`CCCI_CURL_RESOLVE`), and the browser's HOME (`CCCI_BROWSER_HOME`, see
    /// ``trustingHome(at:ca:runner:)``) whose certificate database trusts the lab CA —
    /// certificates are verified against it, never ignored.
    static let plugin = #"""
        # Written by cc-ci: runs recipe browser tests with the node's chromium against the lab.
        import os

        import pytest


        class _LabBrowser:
            @pytest.fixture(scope="session")
            def browser_type_launch_args(self, pytestconfig):
                args = []
                env = dict(os.environ)
                resolve = os.environ.get("CCCI_CURL_RESOLVE")
                if resolve:
                    host, _, address = resolve.split(":")
                    args.append(f"--host-resolver-rules=MAP {host} {address}")
                home = os.environ.get("CCCI_BROWSER_HOME")
                if home:
                    env["HOME"] = home
                return {
                    "headless": not pytestconfig.getoption("--headed"),
                    "executable_path": os.environ.get("CCCI_CHROMIUM", "/usr/bin/chromium"),
                    "args": args,
                    "env": env,
                }


        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            # A test that failed with its browser disconnected: the browser's process ended under
            # it. cc-ci is told (CCCI_BROWSER_GONE), and runs the test once more.
            outcome = yield
            report = outcome.get_result()
            gone = os.environ.get("CCCI_BROWSER_GONE")
            browser = getattr(item, "funcargs", {}).get("browser")
            if gone and report.failed and browser is not None and not browser.is_connected():
                with open(gone, "a", encoding="utf-8") as file:
                    file.write(item.nodeid + "\n")


        def pytest_configure(config):
            # Registered now, after pytest-playwright, so that this fixture takes precedence.
            config.pluginmanager.register(_LabBrowser(), "ccci-lab-browser")
        """#
}
