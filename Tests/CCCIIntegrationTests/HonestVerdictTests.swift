import CCCICore
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    /// Every tier proves what its name claims through the running app, and fails for its reason:
    /// one fixture per tier that breaks exactly what the tier checks.
    @Suite struct HonestVerdicts {
        func run(
            _ harness: RunHarness, _ arguments: [String], packs: TestPacks? = nil
        ) async throws -> (CommandResult, RunResults) {
            let result = try await harness.ccci(
                ["run"] + arguments + ["--json"], extra: packs.map { ["CCCI_PACKS_DIR": $0.url.path] } ?? [:])
            return (result, try harness.results(result))
        }

        /// The run's `junit.xml`.
        func junitXML(of results: RunResults) throws -> String {
            try String(
                contentsOf: URL(fileURLWithPath: results.artifacts.runDirectory).appendingPathComponent("junit.xml"),
                encoding: .utf8)
        }

        func expectNoResidue(_ harness: RunHarness, _ results: RunResults) async throws {
            let left = try await harness.leftovers([results.appDomain] + [results.upgradeAppDomain].compactMap { $0 })
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
        }

        @Test(
            "[na]: a declared N/A carries its reason (results, JUnit); the same tiers undeclared are possible coverage gaps naming what would make them apply; a declaration the recipe outgrew is stale"
        )
        func declaredNA() async throws {
            let harness = try RunHarness()
            try await harness.add("blank")
            try await harness.add("web")
            let declaring = try TestPacks()
            try declaring.pack(
                "blank", toml: "[na]\nbackup = \"blank keeps no data\"\nrestore = \"blank keeps no data\"\n")
            try declaring.pack("web", toml: "[na]\nbackup = \"web keeps no data\"\n")
            let stages = ["--stages", "install,upgrade,backup,restore"]

            let (_, declared) = try await run(harness, ["blank"] + stages, packs: declaring)
            #expect(declared.tiers["backup"]?.status == .na)
            #expect(declared.tiers["backup"]?.na == TierNA(declared: "blank keeps no data"))
            #expect(declared.ladder.rungs.first { $0.level == 3 }?.state == .na)
            #expect(declared.level == 3, "declared N/A does not break the ladder")
            let junit = try junitXML(of: declared)
            #expect(junit.contains("declared N/A: blank keeps no data"))
            try await expectNoResidue(harness, declared)

            let (_, undeclared) = try await run(harness, ["blank"] + stages, packs: try TestPacks())
            let gap = try #require(undeclared.tiers["backup"]?.na?.gap)
            #expect(gap.contains("label the service that holds the data `backupbot.backup=true`"), "\(gap)")
            #expect(gap.contains("`[na] backup = \"why\"`"))
            #expect(undeclared.ladder.rungs.first { $0.level == 3 }?.state == .missed)
            #expect(undeclared.level == 2, "an undeclared N/A is a missed rung")
            #expect(
                NACoverage.findings(undeclared.tiers).contains {
                    $0.hasPrefix("possible coverage gap: backup is na (no service is labelled backupbot.backup=true)")
                })
            try await expectNoResidue(harness, undeclared)

            let (_, outgrown) = try await run(harness, ["web"] + stages, packs: declaring)
            #expect(outgrown.tiers["backup"]?.status == .pass)
            let stale = try #require(outgrown.tiers["backup"]?.na?.stale)
            #expect(stale.contains("remove `backup` from `[na]` in \(declaring.url.path)/web/ccci.toml"), "\(stale)")
            try await expectNoResidue(harness, outgrown)
        }

        @Test(
            "a backup whose first snapshot lacks the app's dump (its pre-hook has not written it the first time) is taken again and passes on attempt 2 of 3, saying so; one whose snapshot never completes fails after the retries; one whose first snapshot lacks cc-ci's marker is taken again at once"
        )
        func backupRetried() async throws {
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let compose = try String(contentsOf: web.path.appendingPathComponent("compose.yml"), encoding: .utf8)
            // The recipe's dump: written in time from the second backup on; the first time it is
            // not there yet when the snapshot is taken (the hook only notes that it was called).
            let hook =
                "sh -c 'if [ -e /var/www/.dumped ]; then echo dump > /var/www/dump.txt; else touch /var/www/.dumped; fi'"
            let late = try await RecipeEdits.commit(
                in: web.path,
                files: [
                    "compose.yml": compose.replacingOccurrences(
                        of: "        - \"backupbot.backup=true\"\n",
                        with: "        - \"backupbot.backup=true\"\n        - \"backupbot.backup.pre-hook=\(hook)\"\n")
                ])
            let packs = try TestPacks()
            let verify = """
                #!/bin/sh
                # The app's own data came back: its dump is there.
                container=$(docker ps -q -f "label=com.docker.stack.namespace=$CCCI_STACK" | head -n 1)
                docker exec "$container" test -e /var/www/${DUMP:-dump.txt} || { echo "/var/www/${DUMP:-dump.txt} is missing"; exit 1; }
                """
            try packs.pack(
                "web", toml: "backup_verify = \"verify.sh\"\n", files: ["verify.sh": verify], executable: ["verify.sh"])
            let stages = ["--stages", "install,backup,restore"]

            let (passed, retried) = try await run(harness, ["web", "--ref", late] + stages, packs: packs)
            #expect(passed.status == 0, "\(String(describing: retried.tiers["restore"]))")
            let backup = try #require(retried.tiers["backup"])
            #expect(backup.status == .pass && backup.verdictText == "pass (retried)")
            let retry = try #require(backup.retry)
            #expect(retry.attempt == 2 && retry.of == 3 && retry.failures.count == 1, "\(retry)")
            #expect(retry.failures[0].contains("failed backup_verify: /var/www/dump.txt is missing"), "\(retry)")
            #expect(
                retry.summary(.pass).hasPrefix("passed on attempt 2 of 3: attempt 1's snapshot "),
                "\(retry.summary(.pass))")
            #expect(retried.tiers["restore"]?.retry == retry)
            let junit = try junitXML(of: retried)
            #expect(junit.contains("<flakyFailure") && junit.contains("pass (retried)"))
            try await expectNoResidue(harness, retried)

            // A dump that never comes: every snapshot lacks it.
            try packs.pack(
                "web", toml: "backup_verify = \"verify.sh\"\nbackup_retries = 1\n",
                files: ["verify.sh": verify.replacingOccurrences(of: "${DUMP:-dump.txt}", with: "never.txt")],
                executable: ["verify.sh"])
            let (failed, never) = try await run(harness, ["web", "--ref", late] + stages, packs: packs)
            #expect(failed.status == 1)
            let exhausted = try #require(never.tiers["backup"])
            #expect(exhausted.status == .fail && exhausted.retry?.attempt == 2 && exhausted.retry?.of == 2)
            #expect(exhausted.retry?.failures.count == 2)
            #expect(
                exhausted.displayReason?.contains("failed after 2 attempts of 2: attempt 1's snapshot") == true,
                "\(exhausted.displayReason ?? "")")
            #expect(never.tiers["restore"]?.status == .fail)
            try await expectNoResidue(harness, never)

            // cc-ci's own check: a pre-hook that, the first time, wipes the data before the
            // snapshot is taken (cc-ci's marker with it) — the snapshot is taken again at once.
            let wipe =
                "sh -c 'if [ ! -e /var/www/.wiped ]; then touch /var/www/.wiped; rm -f /var/www/.ccci-marker-*; fi'"
            let wiping = try await RecipeEdits.commit(
                in: web.path,
                files: [
                    "compose.yml": compose.replacingOccurrences(
                        of: "        - \"backupbot.backup=true\"\n",
                        with: "        - \"backupbot.backup=true\"\n        - \"backupbot.backup.pre-hook=\(wipe)\"\n")
                ])
            let (_, wiped) = try await run(harness, ["web", "--ref", wiping] + stages, packs: try TestPacks())
            let again = try #require(wiped.tiers["backup"])
            #expect(again.verdictText == "pass (retried)", "\(again)")
            #expect(
                again.retry?.failures.first?.contains("lacked cc-ci's marker /var/www/.ccci-marker-backup") == true,
                "\(String(describing: again.retry))")
            #expect(wiped.tiers["restore"]?.status == .pass)
            try await expectNoResidue(harness, wiped)
        }

        @Test(
            "retry_failed = 1: a functional test that fails once, then passes when the head path runs again on a fresh app, is FLAKY — not a pass: the level stops below L4, the run fails, every app of both attempts is removed"
        )
        func flakyTier() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let packs = try TestPacks()
            let seen = packs.root.appending("seen")
            try packs.pack(
                "web",
                files: [
                    "functional/once.sh": """
                    #!/bin/sh
                    # Fails the first time it ever runs, passes after: a flaky test.
                    echo "1..1"
                    if [ -e \(seen.path) ]; then echo "ok 1 - works the second time"; exit 0; fi
                    touch \(seen.path)
                    echo "not ok 1 - the first time it does not"
                    exit 1
                    """
                ], executable: ["functional/once.sh"])
            let result = try await harness.ccci(
                ["run", "web", "--stages", "install,upgrade,backup,restore,custom", "--json"],
                extra: ["CCCI_PACKS_DIR": packs.url.path, "CCCI_RETRY_FAILED": "1"])
            let results = try harness.results(result)
            #expect(result.status == 1, "a flaky tier is not a pass")
            let custom = try #require(results.tiers["custom"])
            #expect(custom.status == .flaky, "\(custom)")
            #expect(
                custom.reason?.hasPrefix("failed, then passed on fresh apps — attempt 1: ") == true,
                "\(custom.reason ?? "")")
            #expect(custom.retry?.attempt == 2 && custom.retry?.failures.count == 1)
            #expect(results.level == 3, "L4 is not reached on a flaky functional test")
            #expect(results.ladder.rungs.first { $0.level == 4 }?.state == .missed)
            for tier in ["install", "upgrade", "backup", "restore"] {
                #expect(results.tiers[tier]?.status == .pass, "\(tier)")
            }
            #expect(results.flags.contains("retry-failed"))
            let again = try #require(results.retryAppDomains)
            #expect(again.count == 1, "only the head path ran again: \(again)")
            #expect(results.deployCount == 3, "head, upgrade, and the head again on a fresh app")
            let junit = try junitXML(of: results)
            #expect(junit.contains("type=\"flaky\""))
            let left = try await harness.leftovers(
                [results.appDomain] + [results.upgradeAppDomain].compactMap { $0 } + again)
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")

            // Without retry_failed the same test simply fails (it has run once: it now passes, so
            // make it fail again by removing its memory).
            try FileManager.default.removeItem(at: seen)
            let plain = try await harness.ccci(
                ["run", "web", "--stages", "install,custom", "--json"], extra: ["CCCI_PACKS_DIR": packs.url.path])
            let plainResults = try harness.results(plain)
            #expect(plainResults.tiers["custom"]?.status == .fail)
            #expect(plainResults.retryAppDomains == nil && !plainResults.flags.contains("retry-failed"))
        }

        @Test("a head that moves its data to a new volume fails upgrade, saying where the data is and what it mounts")
        func movedVolumeFailsUpgrade() async throws {
            let harness = try RunHarness()
            try await harness.add("moved")
            let (result, results) = try await run(harness, ["moved", "--stages", "install,upgrade"])
            #expect(result.status == 1)
            #expect(results.tiers["install"]?.status == .pass)
            let upgrade = try #require(results.tiers["upgrade"])
            #expect(upgrade.status == .fail)
            #expect(
                upgrade.reason?.contains(
                    "data written by 0.1.0+1.0.0 lives in volume `entries`, which the head's service `app` no longer "
                        + "mounts (it mounts `entries_v2` at /www)") == true, "\(upgrade.reason ?? "")")
            try await expectNoResidue(harness, results)
        }

        @Test("a migration that really moves the data passes once `upgrade_data` says where the head keeps it")
        func declaredMigrationPasses() async throws {
            let harness = try RunHarness()
            try await harness.add("moved")
            let packs = try TestPacks()
            try packs.pack(
                "moved",
                toml: "pre_upgrade = \"hooks/migrate\"\nupgrade_data = { service = \"app\", path = \"/www\" }\n",
                files: [
                    "hooks/migrate": """
                    #!/bin/sh
                    # The recipe's migration: the head keeps its data in entries_v2 — copy it there.
                    set -eu
                    new="${CCCI_STACK}_entries_v2"
                    docker volume create --label ccci.managed=true --label "ccci.stack=$CCCI_STACK" \\
                      --label "ccci.app=$CCCI_DOMAIN" "$new" >/dev/null
                    from=$(docker volume inspect -f '{{.Mountpoint}}' "${CCCI_STACK}_entries")
                    to=$(docker volume inspect -f '{{.Mountpoint}}' "$new")
                    cp -a "$from/." "$to/"
                    """
                ], executable: ["hooks/migrate"])
            let (result, results) = try await run(harness, ["moved", "--stages", "upgrade"], packs: packs)
            #expect(result.status == 0, "\(results.tiers["upgrade"]?.reason ?? result.errorOutput)")
            #expect(results.tiers["upgrade"]?.proofs.contains("read through the app (service app at /www)") == true)
            try await expectNoResidue(harness, results)
        }

        @Test(
            "a deployed version stamp that is not the head's fails install: the code running is not the code under test"
        )
        func staleStampFailsInstall() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let packs = try TestPacks()
            // After the deploy, something re-stamps the service with another commit (the seed's HC1:
            // the code that runs is not the head).
            try packs.pack(
                "web", toml: "pre_install = \"hooks/restamp\"\n",
                files: [
                    "hooks/restamp": """
                    #!/bin/sh
                    docker service update --quiet --detach \\
                      --label-add "coop-cloud.${CCCI_STACK}.chaos-version=0badc0de" "${CCCI_STACK}_app" >/dev/null
                    """
                ], executable: ["hooks/restamp"])
            let (result, results) = try await run(harness, ["web", "--stages", "install"], packs: packs)
            #expect(result.status == 1)
            let install = try #require(results.tiers["install"])
            #expect(install.status == .fail)
            #expect(install.reason?.contains("is '0badc0de', expected") == true, "\(install.reason ?? "")")
            #expect(install.reason?.contains("the deployed code is not the code under test") == true)
            try await expectNoResidue(harness, results)
        }

        @Test("a backup that captures nothing of the app (a backupbot path mistake) fails backup")
        func emptyBackupFails() async throws {
            let harness = try RunHarness()
            try await harness.add("emptybackup")
            let (result, results) = try await run(harness, ["emptybackup", "--stages", "install,backup,restore"])
            #expect(result.status == 1)
            let backup = try #require(results.tiers["backup"])
            #expect(backup.status == .fail)
            #expect(
                backup.reason?.contains("captured nothing but cc-ci's own data marker") == true,
                "\(backup.reason ?? "")")
            #expect(results.tiers["restore"]?.status == .skip)
            try await expectNoResidue(harness, results)
        }

        @Test("a restore that does not bring the data back, as the app sees it, fails restore")
        func badRestoreFails() async throws {
            let harness = try RunHarness()
            try await harness.add("badrestore")
            let (result, results) = try await run(harness, ["badrestore", "--stages", "install,backup,restore"])
            #expect(result.status == 1)
            #expect(results.tiers["backup"]?.status == .pass)
            let restore = try #require(results.tiers["restore"])
            #expect(restore.status == .fail)
            #expect(restore.reason?.contains("the data marker /data/.ccci-marker-backup was lost") == true)
            #expect(restore.reason?.contains("read through the app") == true, "\(restore.reason ?? "")")
            try await expectNoResidue(harness, results)
        }

        @Test("an image with no shell: the data proofs go through the volume mountpoint, and the report says so")
        func noShellProofs() async throws {
            let harness = try RunHarness()
            try await harness.add("noshell")
            let (result, results) = try await run(harness, ["noshell", "--stages", "install,upgrade,backup,restore"])
            #expect(result.status == 0, "\(result.errorOutput)")
            for tier in ["upgrade", "restore"] {
                let proofs = results.tiers[tier]?.proofs ?? []
                #expect(
                    proofs.contains { $0.contains("through the volume mountpoint of `data`") }, "\(tier): \(proofs)")
            }
            try await expectNoResidue(harness, results)
        }

        @Test(
            "custom: a failing test, a timed-out test, a failing browser test and a Node-only spec — each reported for its reason"
        )
        func customVerdicts() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let packs = try TestPacks()
            try packs.pack(
                "web", toml: "test_timeout = \"15s\"\n",
                files: [
                    "functional/fails.sh": "#!/bin/sh\necho 'not ok 1 - the app greets in Esperanto'\necho 1..1\n",
                    "functional/hangs.sh": "#!/bin/sh\nsleep 120\n",
                    "playwright/test_title.py": """
                    def test_the_title_is_wrong(page, base_url):
                        page.goto(base_url + "/")
                        assert page.title() == "not the web fixture"
                    """,
                    "playwright/login.spec.ts": "test('login', async ({ page }) => {});\n",
                    // pytest loads only the plugins a test names (pytest-playwright is installed).
                    "functional/test_named_plugin.py": """
                    # ccci-pytest-plugins: playwright
                    def test_a_named_plugin_is_loaded(browser_name):
                        assert browser_name == "chromium"
                    """,
                    "functional/test_unnamed_plugin.py": "def test_an_unnamed_one_is_not(browser_name):\n    pass\n",
                    "functional/test_bad_plugin.py": "# ccci-pytest-plugins: $(reboot)\ndef test_x():\n    pass\n",
                ], executable: ["functional/fails.sh", "functional/hangs.sh"])
            let (result, results) = try await run(harness, ["web", "--stages", "install,custom"], packs: packs)
            #expect(result.status == 1)
            let custom = try #require(results.tiers["custom"])
            #expect(custom.status == .fail)
            func check(_ part: String) -> Check? { custom.checks.first { $0.name.contains(part) } }
            #expect(check("the app greets in Esperanto")?.status == .fail)
            #expect(check("hangs.sh")?.message?.contains("stopped after 15s (test_timeout)") == true)
            #expect(check("test_the_title_is_wrong")?.status == .fail)
            #expect(
                check("test_the_title_is_wrong")?.message?.contains("not the web fixture") == true,
                "\(check("test_the_title_is_wrong")?.message ?? "")")
            #expect(
                check("test_homepage_shows_the_site_title")?.status == .pass, "the recipe's own browser test passes")
            #expect(check("login.spec.ts")?.status == .skip)
            #expect(check("login.spec.ts")?.message?.contains("no Node runner") == true)
            #expect(check("test_a_named_plugin_is_loaded")?.status == .pass)
            let unnamed = check("test_an_unnamed_one_is_not")
            #expect(unnamed?.status == .fail)
            #expect(
                unnamed?.message?.contains("fixture 'browser_name' not found") == true
                    && unnamed?.message?.contains("# ccci-pytest-plugins:") == true,
                "the failure says how to load the plugin: \(unnamed?.message ?? "")")
            #expect(check("test_bad_plugin.py")?.status == .fail)
            #expect(check("test_bad_plugin.py")?.message?.contains("not a pytest plugin name") == true)
            #expect(results.level == 1)
            try await expectNoResidue(harness, results)
        }

        @Test(
            "custom: a browser test whose browser dies under it runs once more and says so; dying again fails it; a test that closes its own page is not run again"
        )
        func browserGoneRerun() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            /// A browser test that kills its own browser's process in the middle of a call, on its
            /// first run only (`once`) or every time.
            func killing(_ name: String, once: Bool) -> String {
                #"""
                import os
                import signal
                import threading
                from pathlib import Path


                def kill_my_browser():
                    # SIGKILL to the browser process this test's playwright started.
                    me = os.getpid()
                    for entry in filter(str.isdigit, os.listdir("/proc")):
                        try:
                            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(bytes(1))
                            if b"--remote-debugging-pipe" not in argv or any(a.startswith(b"--type=") for a in argv):
                                continue
                            parent = int(entry)
                            while parent > 1 and parent != me:
                                parent = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
                            if parent == me:
                                os.kill(int(entry), signal.SIGKILL)
                        except (OSError, ValueError, IndexError):
                            continue


                def test_\#(name)(page, base_url):
                    page.goto(base_url + "/")
                    marker = Path(os.environ["CCCI_RUN_DIR"]) / "state" / "killed-\#(name)"
                    if \#(once ? "not marker.exists()" : "True"):
                        marker.write_text("killed")
                        threading.Timer(0.5, kill_my_browser).start()
                        page.evaluate("new Promise(resolve => setTimeout(resolve, 20000))")
                    assert page.locator("h1").inner_text() == "web fixture"
                """#
            }
            let packs = try TestPacks()
            try packs.pack(
                "web",
                files: [
                    "playwright/test_dies_once.py": killing("the_browser_dies_once", once: true),
                    "playwright/test_always_dies.py": killing("the_browser_always_dies", once: false),
                    "playwright/test_closes_its_page.py": """
                    def test_closes_its_own_page(page, base_url):
                        page.goto(base_url + "/")
                        page.close()
                        assert page.title() == "web fixture"
                    """,
                ])
            let (result, results) = try await run(harness, ["web", "--stages", "install,custom"], packs: packs)
            #expect(result.status == 1)
            let custom = try #require(results.tiers["custom"])
            func check(_ part: String) -> Check? { custom.checks.first { $0.name.contains(part) } }
            let once = check("test_the_browser_dies_once")
            #expect(once?.status == .pass)
            #expect(
                once?.message?.hasPrefix(
                    "passed when run again: the browser went away under its first run (its process ended during `test_the_browser_dies_once[chromium]`: "
                ) == true && once?.message?.contains("Target page, context or browser has been closed") == true,
                "\(once?.message ?? "")")
            let always = check("test_the_browser_always_dies")
            #expect(always?.status == .fail)
            #expect(
                always?.message?.contains("Target page, context or browser has been closed") == true
                    && always?.message?.contains(
                        "run twice: the browser went away under its first run (its process ended during `test_the_browser_always_dies[chromium]`"
                    ) == true, "\(always?.message ?? "")")
            let closes = check("test_closes_its_own_page")
            #expect(closes?.status == .fail)
            #expect(
                closes?.message?.contains("Target page, context or browser has been closed") == true
                    && closes?.message?.contains("run twice") == false, "\(closes?.message ?? "")")
            // Each run of a test has its own log; the tier's log says why there was a second.
            let runDirectory = URL(fileURLWithPath: results.artifacts.runDirectory)
            let tierLogs = try FileManager.default.contentsOfDirectory(
                atPath: runDirectory.appendingPathComponent("tiers").path)
            #expect(tierLogs.contains { $0.hasSuffix("test_dies_once.py.rerun.log") })
            #expect(tierLogs.contains { $0.hasSuffix("test_always_dies.py.rerun.log") })
            #expect(!tierLogs.contains { $0.hasSuffix("test_closes_its_page.py.rerun.log") })
            let log = try String(contentsOf: runDirectory.appendingPathComponent("tiers/custom.log"), encoding: .utf8)
            #expect(log.contains("the browser went away under it (its process ended during"))
            #expect(log.contains("running it once more"))
            let state = try FileManager.default.contentsOfDirectory(
                atPath: runDirectory.appendingPathComponent("state").path)
            #expect(
                !state.contains { $0.hasPrefix("browser-") }, "browser homes and reports go with their test: \(state)")
            try await expectNoResidue(harness, results)
        }

        @Test("a recipe whose functional test fails stops at level 3 with everything below it proven")
        func failingTestIsLevel3() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let packs = try TestPacks()
            try packs.pack(
                "web", files: ["functional/fails.sh": "#!/bin/sh\necho 'the homepage is not green' >&2\nexit 1\n"],
                executable: ["functional/fails.sh"])
            let (result, results) = try await run(harness, ["web"], packs: packs)
            #expect(result.status == 1)
            #expect(results.tiers["custom"]?.status == .fail)
            #expect(results.tiers["custom"]?.reason?.contains("exited 1") == true)
            #expect(results.level == 3)
            #expect(results.ladder.version == "ladder/2")
            try await expectNoResidue(harness, results)
        }

        @Test("a killed test session's stacks are swept by the next session; a live session's are not")
        func testSessionHygiene() async throws {
            let dead = "s\(TestEnvironment.randomHex(5)).ccci.test"
            let live = "s\(TestEnvironment.randomHex(5)).ccci.test"
            let directory = try TemporaryDirectory("ccci-sessions")
            // The live one first: a process' first registration sweeps, and must not sweep the
            // dead session below before its stack exists (this test may be the process' first).
            TestSession.register(ciDomain: live)
            // A dead session: its registration exists, nobody holds its lock.
            try "{\"ciDomain\":\"\(dead)\",\"pid\":1}".write(
                to: TestSession.directory.appendingPathComponent("\(dead).json"), atomically: true, encoding: .utf8)
            _ = try FileLock.tryAcquire(TestSession.directory.appendingPathComponent("\(dead).lock"))?.release()
            let compose =
                "version: \"3.8\"\nservices:\n  app:\n    image: ccci-lab/busybox:latest\n    command: [\"sleep\", \"3600\"]\n    deploy: { endpoint_mode: dnsrr }\n"
            let deadStack = "web-abcdef_" + dead.replacingOccurrences(of: ".", with: "_")
            let liveStack = "web-abcdef_" + live.replacingOccurrences(of: ".", with: "_")
            try await TestEnvironment.withEngine { engine in
                for stack in [deadStack, liveStack] {
                    let folder = directory.url.appendingPathComponent(stack)
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                    try await InlineStack(stack, compose: compose, in: folder).deploy()
                }
                TestSession.sweepDeadSessions()
                let deadServices = try await engine.services(stack: deadStack)
                let liveServices = try await engine.services(stack: liveStack)
                #expect(deadServices.isEmpty, "the dead session's stack is swept")
                #expect(!liveServices.isEmpty, "a live session's stack is not")
                _ = try await StackJanitor(engine: engine, ownership: .stackNamespace).remove(stack: liveStack)
            }
            #expect(
                !FileManager.default.fileExists(
                    atPath: TestSession.directory.appendingPathComponent("\(dead).json").path))
        }
    }
}
