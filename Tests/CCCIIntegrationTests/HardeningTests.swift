import CCCICore
import CCCIDeploy
import CCCIRunner
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Bad input gets a clear error, never a crash, and cc-ci touches nothing but its own objects
    /// — each class of defect found by trying ~85 bad inputs, pinned on the real lab.
    @Suite struct Hardening {
        /// A stack deployed by hand, not by cc-ci, under `name`: a service and a volume.
        func decoy(_ name: String, in directory: URL, engine: DockerEngine) async throws -> InlineStack {
            let stack = try InlineStack(
                name,
                compose: """
                    version: "3.8"
                    services:
                      app:
                        image: ccci-lab/busybox:latest
                        command: ["sleep", "3600"]
                        volumes: ["data:/data"]
                        deploy: { endpoint_mode: dnsrr }
                    volumes:
                      data:
                    """, in: directory)
            try await stack.deploy()
            try await stack.waitConverged(engine: engine)
            return stack
        }

        func expectDecoyIntact(_ stack: String, engine: DockerEngine) async throws {
            let services = try await engine.services(stack: stack)
            #expect(services.count == 1, "the decoy stack \(stack) was touched")
            let volumes = try await engine.volumes().filter { $0.Name == "\(stack)_data" }
            #expect(volumes.count == 1, "the decoy's volume was touched")
        }

        func expectIngressUp(_ engine: DockerEngine) async throws {
            let services = try await engine.services(stack: "ccci-lab")
            #expect(!services.isEmpty, "the lab ingress was removed")
        }

        @Test("teardown refuses what is not a cc-ci app domain: empty, a stack name, another CI domain — exit 2")
        func teardownArguments() async throws {
            let harness = try RunHarness()
            let empty = try await harness.ccci(["teardown", ""])
            #expect(empty.status == 2)
            #expect(empty.errorOutput.contains("not an app domain of this node"))
            #expect(!empty.errorOutput.contains("USAGE"), "no usage banner for a bad value")
            let stackName = "web-abcdef_\(harness.ciDomain.replacingOccurrences(of: ".", with: "_"))"
            let stack = try await harness.ccci(["teardown", stackName])
            #expect(stack.status == 2)
            #expect(stack.errorOutput.contains("give the app's domain instead: web-abcdef.\(harness.ciDomain)"))
            let foreign = try await harness.ccci(["teardown", "web-abcdef.ci.example.org", "../../etc"])
            #expect(foreign.status == 2)
            #expect(foreign.errorOutput.contains("'../../etc' is not an app domain"))
            try await TestEnvironment.withEngine { engine in try await expectIngressUp(engine) }
        }

        @Test("teardown and the janitor never touch a stack cc-ci did not create, even under a run app's name")
        func foreignStackSurvives() async throws {
            let harness = try RunHarness()
            let directory = try TemporaryDirectory("ccci-decoy")
            let domain = try harness.config().naming().runAppDomain(recipe: "web", pr: 0, ref: UUID().uuidString)
            try await TestEnvironment.withEngine { engine in
                _ = try await decoy(domain.stack, in: directory.url, engine: engine)
                defer {
                    Task {
                        _ = try? await StackJanitor(engine: engine, ownership: .stackNamespace).remove(
                            stack: domain.stack)
                    }
                }
                let teardown = try await harness.ccci(["teardown", domain.name.uppercased()])
                #expect(teardown.status == 1)
                #expect(teardown.output.contains("\(domain.name): no such app on this node"))
                #expect(teardown.output.contains("cc-ci did not create them, so they are not touched"))
                let janitor = try await harness.ccci(["janitor"])
                #expect(janitor.status == 0)
                #expect(!janitor.output.contains("reaped \(domain.name)"))
                try await expectDecoyIntact(domain.stack, engine: engine)
                try await expectIngressUp(engine)
                _ = try await StackJanitor(engine: engine, ownership: .stackNamespace).remove(stack: domain.stack)
            }
        }

        @Test("teardown takes the run's domain lock: a live run's app is not removed, whatever the spelling")
        func teardownRespectsLiveRuns() async throws {
            let harness = try RunHarness()
            try await harness.add("broken")
            let output = harness.home.appending("out.txt")
            let run = try await harness.start(
                ["run", "broken", "--stages", "install", "--deploy-timeout", "5m"], output: output)
            defer { if run.isRunning { kill(run.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "converge: started"))
            let domain = try #require(
                try harness.config().naming().appDomainIfValid(
                    String(
                        try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
                            .first { $0.contains("apps ") }?.split(separator: " ").dropFirst().first ?? "")))
            let teardown = try await harness.ccci(["teardown", domain.name.uppercased()])
            #expect(teardown.status == 1)
            #expect(teardown.output.contains("a live run holds its lock — not removed"))
            try await TestEnvironment.withEngine { engine in
                let services = try await engine.services(stack: domain.stack)
                #expect(!services.isEmpty, "the live run's app is still there")
            }
            kill(run.processIdentifier, SIGTERM)
            try await run.exit(within: .seconds(180))
            #expect(run.terminationStatus == 143)
        }

        @Test("everything a run deploys carries cc-ci's ownership labels: services, containers, volumes, configs")
        func ownershipLabels() async throws {
            try await TestEnvironment.withEngine { engine in
                let harness = try await DriverHarness(engine: engine)
                let web = try await harness.checkout("web")
                let app = try await harness.driver.newApp(harness.spec(web))
                defer { Task { _ = try? await harness.driver.remove(app) } }
                _ = try await harness.driver.deploy(app, mode: .chaos)
                _ = try await harness.driver.waitConverged(app, timeout: .seconds(60))
                let volumes = try await engine.volumes().filter { $0.Name.hasPrefix(app.stack + "_") }
                #expect(!volumes.isEmpty)
                for volume in volumes { #expect(volume.labels["ccci.app"] == app.domain.name, "\(volume.Name)") }
                let configs = try await engine.configs().filter { $0.name.hasPrefix(app.stack + "_") }
                #expect(!configs.isEmpty)
                for config in configs { #expect(config.labels["ccci.managed"] == "true", "\(config.name)") }
                let containers = try await engine.containers(labels: ["com.docker.stack.namespace=\(app.stack)"])
                #expect(!containers.isEmpty)
                for container in containers { #expect(container.Labels?["ccci.stack"] == app.stack) }
                let left = try await harness.driver.remove(app)
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test("a hook or test that never reads its stdin cannot crash cc-ci: 50 runs of a large context")
        func unreadStdin() async throws {
            let directory = try TemporaryDirectory("ccci-stdin")
            let hook = directory.appending("exit0")
            try "#!/bin/sh\nexit 0\n".write(to: hook, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
            // A context larger than a pipe's buffer: writing it to a pipe nobody reads would block
            // or break; from a file it cannot.
            let context = HookContext(
                recipe: "web", domain: "web-abcdef.ci.ccci.test", stack: "web-abcdef_ci_ccci_test", op: "install",
                baseURL: "https://web-abcdef.ci.ccci.test",
                meta: .object(["pad": .string(String(repeating: "x", count: 300_000))]), deps: [:],
                opStateFile: "/dev/null", depsFile: "/dev/null", runID: "r", runDirectory: directory.url.path,
                caCertificate: nil, resolve: nil, headCommit: "abc")
            let runner = HookRunner(runner: ProcessRunner())
            for index in 0..<50 {
                let outcome = try await runner.run(
                    hook, context: context, directory: directory.url, log: directory.appending("hook-\(index).log"),
                    timeout: .seconds(30))
                #expect(outcome.exitCode == 0)
            }
        }

        @Test("test output is capped: the log keeps its head and tail and says how much was cut")
        func outputCap() async throws {
            let directory = try TemporaryDirectory("ccci-cap")
            let log = directory.appending("flood.log")
            let result = try await ProcessRunner().run(
                Command(
                    "/bin/sh", ["-c", "echo FIRST; head -c 12000000 /dev/zero | tr '\\\\0' 'x'; echo; echo LAST"],
                    output: .logFile(log)))
            #expect(result.succeeded)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int)
            #expect(size < 6 << 20, "the log holds \(size) bytes")
            #expect(result.outputCut > 6_000_000)
            let handle = try FileHandle(forReadingFrom: log)
            let head = String(decoding: try handle.read(upToCount: 16) ?? Data(), as: UTF8.self)
            #expect(head.hasPrefix("FIRST"))
            try handle.seek(toOffset: UInt64(size - 200))
            let tail = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
            #expect(tail.contains("LAST"))
            let text = String(decoding: try Data(contentsOf: log), as: UTF8.self)
            #expect(text.contains("bytes of output cut here"))
        }

        @Test("durations beyond 7 days, zero timeouts and bad TOML are configuration errors (exit 2), never crashes")
        func badValues() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let huge = try await harness.ccci(["run", "web", "--deploy-timeout", "99999999999h"])
            #expect(huge.status == 2)
            #expect(huge.errorOutput.contains("longer than cc-ci's limit of 7 days"))
            let zero = try await harness.ccci(["run", "web", "--deploy-timeout", "0s"])
            #expect(zero.status == 2)
            #expect(zero.errorOutput.contains("is zero"))
            let deadline = try await harness.ccci(["run", "web", "--deadline", "1e400s"])
            #expect(deadline.status == 2)
            let packs = try TestPacks()
            for (toml, message) in [
                ("[[[a]]]\n", "not valid TOML"), ("deploy_timeout = \"99999999999h\"\n", "7 days"),
                ("deploy_timeout = 0\n", "is zero"), ("health_statuses = []\n", "is empty"),
                ("health_statuses = [200, 999]\n", "not an HTTP status"),
                ("extra_env = { DOMAIN = \"evil.example.org\" }\n", "cannot be overridden"),
                ("extra_env = { \"1BAD-NAME\" = \"x\" }\n", "not a variable name"),
                ("na_tiers = [\"install\"]\n", "every recipe must install"),
                ("na_tiers = [\"lint\"]\n", "L5"),
            ] {
                let pack = try packs.pack("web", toml: toml)
                let check = try await harness.ccci(["meta", "check", pack.path])
                #expect(check.status == 2, "\(toml)")
                #expect(check.errorOutput.contains(message), "\(toml): \(check.errorOutput)")
                let run = try await harness.ccci(
                    ["run", "web", "--stages", "install"], extra: ["CCCI_PACKS_DIR": packs.url.path])
                #expect(run.status == 2, "\(toml)")
                #expect(run.errorOutput.contains(message), "\(toml): \(run.errorOutput)")
            }
            let config = try harness.config()
            #expect(!FileManager.default.fileExists(atPath: config.envDirectory.path), "nothing was deployed")
        }

        @Test(
            "meta check: a missing directory and a stray file are errors; a ccci.toml path is checked; unknown dependencies named"
        )
        func metaCheckGaps() async throws {
            let harness = try RunHarness()
            try await harness.add("provider")
            let missing = try await harness.ccci(["meta", "check", "/nonexistent/pack"])
            #expect(missing.status == 2)
            #expect(missing.errorOutput.contains("no such directory"))
            let packs = try TestPacks()
            let pack = try packs.pack("x", toml: "dependencies = [\"provder\"]\n", files: ["notes.txt": "x"])
            let stray = try await harness.ccci(["meta", "check", pack.appendingPathComponent("notes.txt").path])
            #expect(stray.status == 2)
            #expect(stray.errorOutput.contains("is a file, not a test pack"))
            let file = try await harness.ccci(["meta", "check", pack.appendingPathComponent("ccci.toml").path])
            #expect(file.status == 2)
            #expect(file.errorOutput.contains("'provder', which is not a recipe of this node's catalogue"))
            #expect(file.errorOutput.contains("did you mean `provider`?"))
        }

        @Test(
            "meta check --recipe holds [na] against the checkout before any deploy: declared tiers noted, undeclared ones possible gaps, outgrown ones stale"
        )
        func metaCheckCoverage() async throws {
            let harness = try RunHarness()
            let blank = try await harness.add("blank")
            let web = try await harness.add("web")
            let packs = try TestPacks()
            let empty = try packs.pack("empty")
            let gaps = try await harness.ccci(["meta", "check", empty.path, "--recipe", blank.path.path])
            #expect(gaps.status == 0, "warnings, not errors: \(gaps.errorOutput)")
            #expect(
                gaps.output.contains(
                    "warning: possible coverage gap: backup would be n/a (no service is labelled backupbot.backup=true)"
                ),
                "\(gaps.output)")
            let declaring = try packs.pack(
                "declaring", toml: "[na]\nbackup = \"keeps no data\"\nrestore = \"keeps no data\"\n")
            let declared = try await harness.ccci(["meta", "check", declaring.path, "--recipe", blank.path.path])
            #expect(declared.output.contains("note: backup n/a, as declared: keeps no data"), "\(declared.output)")
            #expect(!declared.output.contains("coverage gap: backup"))
            let stale = try await harness.ccci(["meta", "check", declaring.path, "--recipe", web.path.path])
            #expect(
                stale.output.contains(
                    "warning: stale declaration: `[na] backup` is declared, but the recipe gives the tier something to run now — remove `backup` from `[na]` in \(declaring.path)/ccci.toml"
                ), "\(stale.output)")
            // upgrade_from against the checkout's releases: the bases a run takes, or the version that is none.
            let supported = try packs.pack(
                "supported", toml: "upgrade_from = \"all-supported\"\n[upgrade]\nsupported_lines = 2\n")
            let bases = try await harness.ccci(["meta", "check", supported.path, "--recipe", web.path.path])
            #expect(bases.status == 0, "\(bases.errorOutput)")
            #expect(
                bases.output.contains("note: the upgrade tier upgrades from 1.2.0+1.36.1, 1.1.0+1.35.0"),
                "\(bases.output)")
            let missing = try packs.pack("missing", toml: "upgrade_from = [\"previous\", \"9.9.9+1\"]\n")
            let refused = try await harness.ccci(["meta", "check", missing.path, "--recipe", web.path.path])
            #expect(refused.status == 2)
            #expect(
                refused.errorOutput.contains(
                    "error: upgrade_from 9.9.9+1 is not a release of web (releases: 1.0.0+1.35.0"),
                "\(refused.errorOutput)")
        }

        @Test("hooks, overlays and tests must stay inside their pack; a hook outside is refused, never executed")
        func packPathsContained() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let packs = try TestPacks()
            let outside = try TemporaryDirectory("ccci-outside")
            let marker = outside.appending("executed")
            let evil = outside.appending("evil.sh")
            try "#!/bin/sh\ntouch \(marker.path)\n".write(to: evil, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: evil.path)
            for (toml, message) in [
                ("pre_install = \"/bin/true\"\n", "is an absolute path"),
                ("pre_install = \"../../\(evil.lastPathComponent)\"\n", "leaves"),
                ("compose_overlay = \"../../etc/passwd\"\n", "leaves"),
            ] {
                let pack = try packs.pack("web", toml: toml)
                let check = try await harness.ccci(["meta", "check", pack.path])
                #expect(check.status == 2, "\(toml)")
                #expect(check.errorOutput.contains(message), "\(toml): \(check.errorOutput)")
                #expect(!check.errorOutput.contains("chmod"), "never advises chmod on a file outside the pack")
            }
            // A symlink inside the pack that leads out of it is refused too.
            let pack = try packs.pack("web", toml: "pre_install = \"hooks/setup\"\n")
            try FileManager.default.createDirectory(
                at: pack.appendingPathComponent("hooks"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: pack.appendingPathComponent("hooks/setup").path, withDestinationPath: evil.path)
            let run = try await harness.ccci(
                ["run", "web", "--stages", "install"], extra: ["CCCI_PACKS_DIR": packs.url.path])
            #expect(run.status == 2)
            #expect(run.errorOutput.contains("symlink"))
            #expect(!FileManager.default.fileExists(atPath: marker.path), "the hook outside the pack never ran")
        }

        @Test("a pull request's own paths are contained: COMPOSE_FILE and config files outside the recipe fail install")
        func recipePathsContained() async throws {
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let sample = try String(contentsOf: web.path.appendingPathComponent(".env.sample"), encoding: .utf8)
            let escape = try await RecipeEdits.commit(
                in: web.path, files: [".env.sample": sample + "\nCOMPOSE_FILE=compose.yml:../../../../etc/hostname\n"])
            let first = try await harness.ccci(["run", "web", "--ref", escape, "--stages", "install", "--json"])
            #expect(first.status == 1, "\(first.errorOutput)")
            let results = try harness.results(first)
            #expect(results.tiers["install"]?.status == .fail)
            #expect(
                results.tiers["install"]?.reason?.contains("COMPOSE_FILE entry") == true,
                "\(results.tiers["install"]?.reason ?? "")")
            let linked = try await RecipeEdits.commit(
                in: web.path, files: [".env.sample": sample], symlinks: ["entrypoint.sh": "/etc/shadow"])
            let second = try await harness.ccci(["run", "web", "--ref", linked, "--stages", "install", "--json"])
            #expect(second.status == 1)
            let reason = try harness.results(second).tiers["install"]?.reason ?? ""
            #expect(reason.contains("config `entrypoint`") && reason.contains("symlink"), "\(reason)")
        }

        @Test("a pull request that breaks its compose.yml fails install with results, JUnit and history — not exit 2")
        func brokenComposeIsAFailure() async throws {
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let broken = try await RecipeEdits.commit(
                in: web.path, files: ["compose.yml": "services:\n  app: [unclosed\n"])
            let result = try await harness.ccci(["run", "web", "--ref", broken, "--stages", "install,backup", "--json"])
            #expect(result.status == 1, "\(result.errorOutput)")
            let results = try harness.results(result)
            #expect(results.tiers["install"]?.status == .fail)
            #expect(results.tiers["install"]?.reason?.contains("not valid YAML") == true)
            #expect(results.tiers["backup"]?.status == .skip)
            let junit = URL(fileURLWithPath: results.artifacts.runDirectory).appendingPathComponent("junit.xml")
            #expect(FileManager.default.fileExists(atPath: junit.path))
            let history = try await harness.ccci(["results", "--json"])
            #expect(history.output.contains(results.runID))
        }

        @Test("secrets: a short generated secret and a git URL's token never reach the logs")
        func secretsRedacted() async throws {
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let sample = try String(contentsOf: web.path.appendingPathComponent(".env.sample"), encoding: .utf8)
            let short = sample.replacingOccurrences(
                of: "SECRET_ADMIN_PASSWORD_VERSION=v1 # length=24", with: "SECRET_ADMIN_PASSWORD_VERSION=v1 # length=4")
            #expect(short != sample, "the fixture declares the secret's length")
            let commit = try await RecipeEdits.commit(in: web.path, files: [".env.sample": short])
            // A test that prints the secret it can read through the app.
            let packs = try TestPacks()
            try packs.pack(
                "web", toml: "",
                files: [
                    "functional/leak.sh": """
                    #!/bin/sh
                    secret=$(docker exec $(docker ps -q -f label=com.docker.stack.namespace=$CCCI_STACK | head -n 1) cat /run/secrets/admin_password)
                    echo "the secret is: $secret"
                    echo "again:$secret."
                    """
                ], executable: ["functional/leak.sh"])
            let result = try await harness.ccci(
                ["run", "web", "--ref", commit, "--stages", "install,custom", "--json"],
                extra: ["CCCI_PACKS_DIR": packs.url.path])
            #expect(result.status == 0, "\(result.errorOutput)")
            let results = try harness.results(result)
            let tiers = URL(fileURLWithPath: results.artifacts.runDirectory).appendingPathComponent("tiers")
            let name = try #require(
                try FileManager.default.contentsOfDirectory(atPath: tiers.path).first { $0.hasSuffix("leak.sh.log") })
            let log = try String(contentsOf: tiers.appendingPathComponent(name), encoding: .utf8)
            #expect(log.contains("the secret is: <redacted>"), "\(log)")
            #expect(log.contains("again:<redacted>."))

            let token = "tok3n-\(TestEnvironment.randomHex(8))"
            let url = try await harness.ccci(["run", "https://ci-user:\(token)@127.0.0.1:9/recipes/web.git"])
            #expect(url.status == 2)
            #expect(!url.errorOutput.contains(token) && !url.output.contains(token))
            let runs = harness.home.appending("runs")
            for run in try FileManager.default.contentsOfDirectory(atPath: runs.path) {
                let text =
                    (try? String(contentsOf: runs.appendingPathComponent("\(run)/run.log"), encoding: .utf8)) ?? ""
                #expect(!text.contains(token), "run.log of \(run) shows the token")
            }
        }

        @Test("a healthcheck that flaps fails install every time, for that reason")
        func flappingHealthcheck() async throws {
            let harness = try RunHarness()
            try await harness.add("flaky")
            let result = try await harness.ccci(["run", "flaky", "--stages", "install", "--json"])
            #expect(result.status == 1)
            let install = try #require(try harness.results(result).tiers["install"])
            #expect(install.status == .fail)
            #expect(install.reason?.contains("did not stay healthy for 3s") == true, "\(install.reason ?? "")")
        }

        @Test("SIGTERM mid-run: unfinished tiers are cancelled, not failed with CancellationError")
        func cancelledTiers() async throws {
            let harness = try RunHarness()
            try await harness.add("broken")
            let output = harness.home.appending("out.txt")
            let run = try await harness.start(["run", "broken", "--deploy-timeout", "5m"], output: output)
            defer { if run.isRunning { kill(run.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "[install] converge: started"))
            kill(run.processIdentifier, SIGTERM)
            try await run.exit(within: .seconds(180))
            #expect(run.terminationStatus == 143)
            let results = try #require(try harness.allResults().first)
            #expect(results.tiers["install"]?.status == .cancelled, "\(String(describing: results.tiers["install"]))")
            for tier in ["backup", "restore", "custom"] {
                #expect(results.tiers[tier]?.status == .cancelled, "\(tier)")
            }
            let reasons = results.tiers.values.compactMap(\.reason).joined(separator: " | ")
            #expect(!reasons.contains("CancellationError"), "\(reasons)")
            #expect(reasons.contains("SIGTERM"))
        }

        @Test(
            "a run whose output nobody reads any more (its engine's worker died) still reports by its exit code: an error exits 2, SIGTERM tears down and exits 143 — never a crash"
        )
        func outputGone() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let unknown = try await harness.startWithoutReader(["run", "no-such-recipe"])
            defer { if unknown.isRunning { kill(unknown.processIdentifier, SIGKILL) } }
            try await unknown.exit(within: .seconds(60))
            #expect(unknown.terminationReason == .exit && unknown.terminationStatus == 2)

            let run = try await harness.startWithoutReader(["run", "web", "--stages", "install"])
            defer { if run.isRunning { kill(run.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "[install] converge: started"))
            kill(run.processIdentifier, SIGTERM)
            try await run.exit(within: .seconds(180))
            #expect(run.terminationReason == .exit && run.terminationStatus == 143)
            let results = try #require(try harness.allResults().first)
            #expect(results.outcome == .cancelled)
            try await TestEnvironment.withEngine { engine in
                let left = try await harness.residue(results.appDomain, engine: engine)
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test("SIGKILL leaves nothing for long: the janitor ends the run's test processes and records it interrupted")
        func killedRunFinishedByJanitor() async throws {
            let packs = try TestPacks()
            let pids = packs.root.appending("pids")
            try packs.pack(
                "web",
                files: [
                    "functional/slow.sh": """
                    #!/bin/sh
                    sleep 600 &
                    echo "$$ $!" > \(pids.path)
                    wait
                    """
                ], executable: ["functional/slow.sh"])
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("web")
            let run = try await harness.start(
                ["run", "web", "--stages", "install,custom"], output: harness.home.appending("out"))
            let started = try await HelperProcesses.waitForPIDs(in: pids)
            #expect(started.count == 2)
            kill(run.processIdentifier, SIGKILL)
            try await run.exit(within: .seconds(180))
            defer { for pid in started where HelperProcesses.alive(pid) { kill(pid, SIGKILL) } }
            #expect(started.allSatisfy(HelperProcesses.alive), "SIGKILL cannot stop the run's children itself")
            let janitor = try await harness.ccci(["janitor"])
            #expect(janitor.output.contains("recorded as interrupted"), "\(janitor.output)")
            for pid in started {
                #expect(
                    await HelperProcesses.waitGone(pid, timeout: .seconds(10)), "process \(pid) outlived the janitor")
            }
            let results = try #require(try harness.allResults().first)
            #expect(results.outcome == .interrupted && results.exitCode == 137)
            #expect(results.tiers["install"]?.status == .pass, "the tier it finished keeps its verdict")
            #expect(results.tiers["custom"]?.status == .cancelled)
            let history = try await harness.ccci(["results"])
            #expect(history.output.contains(results.runID) && history.output.contains("interrupted"))
            try await TestEnvironment.withEngine { engine in
                let left = try await harness.residue(results.appDomain, engine: engine)
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test("errors are one clear line with the right exit code: no usage banner, store errors translated")
        func exitCodesAndMessages() async throws {
            let harness = try RunHarness()
            let stage = try await harness.ccci(["run", "web", "--stages", "bogus"])
            #expect(stage.status == 2, "validation errors exit 2 as the README says")
            let noRun = try await harness.ccci(["results", "--run", "nope"])
            #expect(noRun.status != 0)
            #expect(!noRun.errorOutput.contains("USAGE"))
            let versions = try await harness.ccci(["recipe", "versions", "/nonexistent"])
            #expect(versions.status == 2)
            #expect(!versions.errorOutput.contains("USAGE"))
            // A store that is not a database: a translated error naming the file.
            let config = try harness.config()
            try FileManager.default.createDirectory(at: config.home, withIntermediateDirectories: true)
            let file = try #require(config.storePath)
            try "not a database".write(to: file, atomically: true, encoding: .utf8)
            let results = try await harness.ccci(["results"])
            #expect(results.status == 1)
            #expect(results.errorOutput.contains(file.path))
            #expect(results.errorOutput.contains("not a cc-ci store"), "\(results.errorOutput)")
        }

        @Test("a store this user cannot write is still read by `ccci results`")
        func readOnlyStore() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let run = try await harness.ccci(["run", "web", "--stages", "install"])
            #expect(run.status == 0)
            // Another user may read the node's files but not write them.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: harness.home.url.path)
            let config = try harness.config()
            let reader = try await ProcessRunner().run(
                Command(
                    "setpriv",
                    [
                        "--reuid=65534", "--regid=65534", "--clear-groups", TestEnvironment.ccciExecutable.path,
                        "results",
                    ],
                    environment: harness.environment.merging(["HOME": "/tmp"]) { _, new in new }))
            #expect(reader.status == 0, "\(reader.errorOutput)")
            #expect(reader.output.contains("web"))
            _ = config
        }

        @Test("a rerun never silently destroys an app kept with --keep-on-failure")
        func keptAppNotDestroyed() async throws {
            let harness = try RunHarness()
            try await harness.add("broken")
            let kept = try await harness.ccci(["run", "broken", "--stages", "install", "--keep-on-failure"])
            #expect(kept.status == 1)
            let line = try #require(
                kept.output.split(separator: "\n").first { $0.contains("remove with: ccci teardown") })
            let domain = try #require(line.split(separator: " ").last.map(String.init))
            let rerun = try await harness.ccci(["run", "broken", "--stages", "install"])
            #expect(rerun.status == 2)
            #expect(rerun.errorOutput.contains("ccci teardown \(domain)"))
            try await TestEnvironment.withEngine { engine in
                let left = try await harness.residue(domain, engine: engine)
                #expect(!left.services.isEmpty, "the kept app is still there")
            }
            let teardown = try await harness.ccci(["teardown", domain])
            #expect(teardown.status == 0)
        }
    }
}
