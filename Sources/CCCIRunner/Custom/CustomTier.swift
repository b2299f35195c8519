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
            return (custom.result(), 0)
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

    /// Runs one test and records its verdicts; returns `true` when the run was stopped meanwhile.
    func runTest(_ test: CustomTest, index: Int, app: App, into custom: TierRecorder) async -> Bool {
        let hookContext = steps.hookContext(op: "custom", app: app)
        let runDirectory = context.runDirectory
        let junit = runDirectory.appendingPathComponent("state/junit-\(index).xml")
        // Each test writes to a log of its own (its TAP is read from there).
        let log = runDirectory.appendingPathComponent("tiers/custom-\(index)-\(test.path.lastPathComponent).log")
        let timeout = prepared.meta.testTimeout
        let clock = ContinuousClock()
        let start = clock.now
        context.journal.line(
            "test \(test.displayName): running (log \(log.lastPathComponent), timeout \(DurationText.format(timeout)))",
            tier: "custom")
        let outcome: HookRunner.Outcome
        // A browser test's HOME (its certificate database), removed once the test is done.
        let browserHome = runDirectory.appendingPathComponent("state/browser-\(index)")
        defer { try? FileManager.default.removeItem(at: browserHome) }
        do {
            let hooks = HookRunner(runner: context.runner)
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
                }
                outcome = try await hooks.run(
                    URL(fileURLWithPath: "/usr/bin/env"), arguments: arguments + [test.path.path], context: hookContext,
                    directory: test.path.deletingLastPathComponent(), log: log, extraEnvironment: environment,
                    timeout: timeout)
            case .unsupported:
                return false
            }
        } catch {
            if Task.isCancelled {
                custom.cancel(during: test.displayName)
                return true
            }
            custom.record(
                Check(
                    name: test.displayName, status: .fail, durationSeconds: (clock.now - start).seconds,
                    message: "\(error)"))
            return false
        }
        if Task.isCancelled {
            // Killed by the stop, not failed on its own: no verdict.
            custom.cancel(during: test.displayName)
            return true
        }
        let elapsed = clock.now - start
        if outcome.timedOut {
            custom.record(
                Check(
                    name: test.displayName, status: .fail, durationSeconds: elapsed.seconds,
                    message: "stopped after \(DurationText.format(timeout)) (test_timeout): the test did not finish"))
            await reporter.step(
                role: "head", tier: "custom", name: test.displayName,
                result: .failed("timed out after \(DurationText.format(timeout))"), elapsed: elapsed)
            return false
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        var cases = (try? Data(contentsOf: junit)).flatMap(JUnitReport.parse) ?? []
        if cases.isEmpty { cases = TAP.parse(output) }
        if cases.isEmpty {
            custom.record(
                Check(
                    name: test.displayName, status: outcome.succeeded ? .pass : .fail, durationSeconds: elapsed.seconds,
                    message: outcome.succeeded
                        ? nil
                        : "exited \(outcome.exitCode): \(outcome.outputTail.split(separator: "\n").suffix(3).joined(separator: " | "))"
                ))
            await reporter.step(
                role: "head", tier: "custom", name: test.displayName,
                result: outcome.succeeded ? .passed : .failed("exited \(outcome.exitCode)"), elapsed: elapsed)
            return false
        }
        for reported in cases {
            custom.record(
                Check(
                    name: "\(test.displayName): \(reported.name)", status: reported.status,
                    durationSeconds: reported.durationSeconds,
                    message: reported.message.map { test.kind == .executable ? $0 : Self.pluginHint($0) }))
        }
        let failedCases = cases.filter { $0.status == .fail }
        if !outcome.succeeded && failedCases.isEmpty {
            custom.record(
                Check(
                    name: test.displayName, status: .fail, durationSeconds: elapsed.seconds,
                    message: "exited \(outcome.exitCode) although every reported case passed"))
        }
        let verdict: Reporter.StepResult =
            (outcome.succeeded && failedCases.isEmpty)
            ? .passed : .failed(failedCases.first.map { "\($0.name) failed" } ?? "exited \(outcome.exitCode)")
        await reporter.step(role: "head", tier: "custom", name: test.displayName, result: verdict, elapsed: elapsed)
        return false
    }
}

extension CustomTier {
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


        def pytest_configure(config):
            # Registered now, after pytest-playwright, so that this fixture takes precedence.
            config.pluginmanager.register(_LabBrowser(), "ccci-lab-browser")
        """#
}
