import CCCICore
import CCCIDeploy
import CCCIGit
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    @Suite struct Driver {
        /// Runs `body` with a harness and removes the apps it lists afterwards, whatever happens.
        func withHarness(_ body: (DriverHarness, inout [App]) async throws -> Void) async throws {
            try await TestEnvironment.withEngine { engine in
                let harness = try DriverHarness(engine: engine)
                var apps: [App] = []
                do {
                    try await body(harness, &apps)
                } catch {
                    for app in apps { _ = try? await harness.driver.remove(app) }
                    throw error
                }
                for app in apps {
                    let left = try await harness.driver.remove(app)
                    #expect(left.isEmpty, "\(app.domain) left \(left.summary)")
                }
            }
        }

        @Test(
            "web: pinned deploy of the previous release, then a chaos redeploy of the head; labels, secrets, health, zero residue"
        )
        func pinnedThenChaos() async throws {
            try await withHarness { harness, apps in
                let repository = try await harness.checkout("web")
                let driver = harness.driver
                let base = try #require(RecipeVersion("1.2.0+1.36.1"))
                try await harness.git.checkout(base.raw, in: repository.path, force: true)
                let app = try await driver.newApp(harness.spec(repository))
                apps.append(app)
                // Secrets exist under abra's names, with the length the env asks for.
                let secret = try #require(
                    try await harness.engine.secrets(names: ["\(app.stack)_admin_password_v1"]).first)
                #expect(secret.labels["ccci.app"] == app.domain.name)
                #expect(app.secretValues["admin_password"]?.count == 24)

                let pinned = try await driver.deploy(app, mode: .pinned(base))
                #expect(pinned.label == "coop-cloud.\(app.stack).version")
                _ = try await driver.waitConverged(app, timeout: .seconds(90))
                var labels = try await harness.serviceLabels(app)
                #expect(labels["coop-cloud.\(app.stack).version"] == "1.2.0+1.36.1")
                #expect(labels["coop-cloud.\(app.stack).chaos-version"] == nil)
                #expect(labels["ccci.app"] == app.domain.name)
                let health = HealthChecker(probe: harness.probe)
                try await health.waitHealthy(domain: app.domain.name, path: "/", accepted: [200], timeout: .seconds(30))

                // Upgrade in place to the head (chaos): the label names the head commit.
                try await harness.git.checkout(try #require(repository.head), in: repository.path, force: true)
                let chaos = try await driver.deploy(app, mode: .chaos)
                _ = try await driver.waitConverged(app, timeout: .seconds(90))
                labels = try await harness.serviceLabels(app)
                let head = try #require(repository.head)
                #expect(chaos.value == String(head.prefix(8)))
                #expect(labels["coop-cloud.\(app.stack).chaos-version"] == String(head.prefix(8)))
                #expect(
                    labels["coop-cloud.\(app.stack).version"] == "1.3.0+1.36.1", "the recipe's own label at the head")
                let answer = try await health.waitHealthy(
                    domain: app.domain.name, path: "/", accepted: [200], timeout: .seconds(30))
                #expect(answer.status == 200)
            }
        }

        @Test("a chaos deploy of a tree with uncommitted changes is stamped +U")
        func dirtyChaosIsMarked() async throws {
            try await withHarness { harness, apps in
                let repository = try await harness.checkout("oneshot")
                let compose = repository.path.appendingPathComponent("compose.yml")
                try (try String(contentsOf: compose, encoding: .utf8) + "\n# local edit\n").write(
                    to: compose, atomically: true, encoding: .utf8)
                let app = try await harness.driver.newApp(harness.spec(repository))
                apps.append(app)
                let record = try await harness.driver.deploy(app, mode: .chaos)
                #expect(record.value == String(try #require(repository.head).prefix(8)) + "+U")
            }
        }

        @Test("oneshot converges once its restart_policy: none service has completed")
        func oneShotConverges() async throws {
            try await withHarness { harness, apps in
                let repository = try await harness.checkout("oneshot")
                let app = try await harness.driver.newApp(harness.spec(repository))
                apps.append(app)
                _ = try await harness.driver.deploy(app, mode: .chaos)
                let state = try await harness.driver.waitConverged(app, timeout: .seconds(90))
                let setup = try #require(state.services.first { $0.name == "\(app.stack)_setup" })
                #expect(setup.completed == 1)
                #expect(setup.taskStates == ["complete"])
                #expect(state.converged)
            }
        }

        @Test("broken times out within its deploy timeout, naming the service and its task state")
        func brokenTimesOut() async throws {
            try await withHarness { harness, apps in
                let repository = try await harness.checkout("broken")
                let app = try await harness.driver.newApp(harness.spec(repository))
                apps.append(app)
                _ = try await harness.driver.deploy(app, mode: .chaos)
                let clock = ContinuousClock()
                let start = clock.now
                let error = try #require(
                    await #expect(throws: ConvergenceTimeout.self) {
                        try await harness.driver.waitConverged(app, timeout: .seconds(12))
                    })
                let elapsed = clock.now - start
                #expect(elapsed >= .seconds(12) && elapsed < .seconds(20), "bounded by the timeout (took \(elapsed))")
                let text = error.description
                #expect(text.contains("\(app.stack)_app"))
                #expect(text.contains("starting") || text.contains("health"), "names the task state: \(text)")
            }
        }

        @Test("a service whose update is paused, back at N/N on the current spec, counts as settled")
        func pausedUpdateIsSettled() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-paused")
                let stack = TestSession.stackName("paused")
                // Each spec version fails its very first start, then runs: an update's first new
                // task fails inside the monitor window, so swarm pauses the update — and then
                // restarts the task, which runs.
                let inline = try InlineStack(
                    stack,
                    compose: """
                        version: "3.8"
                        services:
                          app:
                            image: ccci-lab/busybox:latest
                            init: true
                            command: ["sh", "-c", "if [ -f /state/started-$$SPEC ]; then exec httpd -f -p 8080 -h /; else touch /state/started-$$SPEC; exit 1; fi"]
                            environment:
                              - SPEC=${SPEC}
                            volumes:
                              - state:/state
                            deploy:
                              endpoint_mode: dnsrr
                              restart_policy:
                                condition: any
                                delay: 1s
                              update_config:
                                failure_action: pause
                                monitor: 10s
                        volumes:
                          state:

                        """, in: work.url)
                let left = try await TestEnvironment.withStack(stack, engine: engine) {
                    try await inline.deploy(environment: ["SPEC": "one"])
                    try await inline.waitConverged(engine: engine)
                    try await inline.deploy(environment: ["SPEC": "two"])
                    // Wait (bounded) for swarm to pause the update.
                    var updateState: String?
                    _ = try await poll(
                        until: { () async throws -> Bool in
                            updateState = try await engine.service("\(stack)_app").UpdateStatus?.State
                            return updateState == "paused"
                        }, timeout: .seconds(60),
                        backoff: Backoff(initial: .milliseconds(250), maximum: .milliseconds(250)))
                    #expect(updateState == "paused", "swarm did not pause the update (state \(updateState ?? "none"))")
                    let state = try await inline.waitConverged(engine: engine)
                    let service = try #require(state.services.first)
                    #expect(service.updateState == "paused")
                    #expect(service.running == 1)
                }
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test(
            "a 30 s healthcheck interval: converged as soon as the healthcheck passes when cc-ci runs it, not at docker's first probe; one that fails never converges"
        )
        func healthcheckProbedEarly() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-probe")
                func compose(_ test: String) -> String {
                    """
                    version: "3.8"
                    services:
                      app:
                        image: ccci-lab/busybox:latest
                        init: true
                        command: ["sh", "-c", "touch /tmp/up; exec sleep 3600"]
                        healthcheck:
                          test: \(test)
                          interval: 30s
                          timeout: 2s
                          retries: 3
                        deploy:
                          endpoint_mode: dnsrr

                    """
                }
                let good = TestSession.stackName("probe")
                let bad = TestSession.stackName("probebad")
                let goodFolder = work.appending("good")
                let badFolder = work.appending("bad")
                for folder in [goodFolder, badFolder] {
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                }
                let healthy = try InlineStack(
                    good, compose: compose("[\"CMD\", \"test\", \"-f\", \"/tmp/up\"]"), in: goodFolder)
                let failing = try InlineStack(bad, compose: compose("[\"CMD-SHELL\", \"exit 1\"]"), in: badFolder)
                let left = try await TestEnvironment.withStack(good, engine: engine) {
                    try await healthy.deploy()
                    let clock = ContinuousClock()
                    let start = clock.now
                    let state = try await healthy.waitConverged(engine: engine, timeout: .seconds(25))
                    #expect(clock.now - start < .seconds(10), "converged long before docker's first probe at 30 s")
                    #expect(state.services.first?.running == 1)
                    // Docker itself has not probed yet: the pass was cc-ci's run of the same command.
                    let container = try #require(
                        try await engine.containers(labels: ["com.docker.stack.namespace=\(good)"], all: false).first)
                    #expect(container.health == "starting")
                    // The stability window holds it, re-running the healthcheck at its end.
                    let window = StabilityWindow(engine: engine)
                    try await window.verify(try await window.baseline(stack: good), window: .seconds(1))
                }
                #expect(left.isEmpty, "\(left.summary)")
                let leftBad = try await TestEnvironment.withStack(bad, engine: engine) {
                    try await failing.deploy()
                    do {
                        try await failing.waitConverged(engine: engine, timeout: .seconds(8))
                        Issue.record("a healthcheck that fails must not count as healthy")
                    } catch let timeout as ConvergenceTimeout {
                        #expect(
                            timeout.description.contains("health starting")
                                || timeout.description.contains("task starting"), "\(timeout)")
                    }
                }
                #expect(leftBad.isEmpty, "\(leftBad.summary)")
            }
        }

        @Test("appdb: marker written, backed up (snapshot id), mutated, restored: the marker is back")
        func appdbBackupRestore() async throws {
            try await withHarness { harness, apps in
                let repository = try await harness.checkout("appdb")
                let driver = harness.driver
                let app = try await driver.newApp(harness.spec(repository))
                apps.append(app)
                _ = try await driver.deploy(app, mode: .chaos)
                _ = try await driver.waitConverged(app, timeout: .seconds(90))
                try await HealthChecker(probe: harness.probe)
                    .waitHealthy(
                        domain: app.domain.name, path: "/cgi-bin/health", accepted: [200], timeout: .seconds(30))
                try await harness.probe.withClient(domains: [app.domain.name]) { client in
                    #expect(
                        try await client.get(domain: app.domain.name, path: "/cgi-bin/kv?key=marker&value=before").body
                            .contains("stored"))
                    let snapshot = try await driver.backup(app)
                    #expect(snapshot.id.count >= 8)
                    #expect(snapshot.files >= 1)
                    #expect(
                        snapshot.paths.allSatisfy { $0.hasSuffix("/backup") },
                        "only the volume's backup path: \(snapshot.paths)")
                    #expect(
                        try await client.get(domain: app.domain.name, path: "/cgi-bin/kv?key=marker&value=after").body
                            .contains("stored"))
                    #expect(
                        try await client.get(domain: app.domain.name, path: "/cgi-bin/kv?key=later&value=x").body
                            .contains(
                                "stored"))
                    try await driver.restore(app, snapshot: snapshot)
                    #expect(
                        try await client.get(domain: app.domain.name, path: "/cgi-bin/kv?key=marker").body.contains(
                            "before")
                    )
                    let later = try await client.get(domain: app.domain.name, path: "/cgi-bin/kv?key=later")
                    #expect(later.status == 404, "a key written after the backup is gone after the restore")
                }
            }
        }

        @Test(
            "a node repository restic initialised gets the quick key, and its snapshots stay readable; a repository another password sealed is refused, unchanged"
        )
        func quickKeyForAnOlderRepository() async throws {
            let home = try TemporaryDirectory("ccci-restic-key")
            let restic = ResticStore(
                directory: home.appending("restic"), runner: ProcessRunner(), secrets: SecretRegistry())
            try FileManager.default.createDirectory(at: restic.directory, withIntermediateDirectories: true)
            try AtomicFile.write(SecretGenerator.value(length: 40), to: restic.passwordFile, permissions: 0o600)
            _ = try await restic.run(["init"])
            try "kept\n".write(to: home.appending("file"), atomically: true, encoding: .utf8)
            _ = try await restic.run(["backup", "--no-cache", "--tag", "before", home.appending("file").path])
            #expect(restic.quickKey() == nil, "restic's own key only")

            #expect(try await restic.ensureRepository() == false, "not initialised again")
            let quick = try #require(restic.quickKey())
            let keys = try await restic.run(["key", "list", "--json", "--no-cache"])
            #expect(keys.contains(#""current":true,"id":"\#(quick.prefix(8))"#), "\(keys)")
            #expect(try await restic.run(["snapshots", "--json", "--no-cache", "--tag", "before"]).contains("before"))
            let scratch = try FileManager.default.contentsOfDirectory(atPath: restic.directory.path)
            #expect(!scratch.contains { $0.hasPrefix("key-check") }, "the scratch repository is gone: \(scratch)")

            // Another node's password: no key opens, the error says so, and nothing is written.
            let other = ResticStore(
                directory: home.appending("other"), runner: ProcessRunner(), secrets: SecretRegistry())
            try FileManager.default.createDirectory(at: other.directory, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: restic.repository, to: other.repository)
            for name in try FileManager.default.contentsOfDirectory(
                atPath: other.repository.appendingPathComponent("keys").path)
            where name == quick {
                try FileManager.default.removeItem(
                    at: other.repository.appendingPathComponent("keys").appendingPathComponent(name))
            }
            try AtomicFile.write(SecretGenerator.value(length: 40), to: other.passwordFile, permissions: 0o600)
            let before = try FileManager.default.contentsOfDirectory(
                atPath: other.repository.appendingPathComponent("keys").path)
            do {
                try await other.ensureRepository()
                Issue.record("a repository sealed with another password must be refused")
            } catch {
                #expect("\(error)".contains("opens with the password in \(other.passwordFile.path)"), "\(error)")
            }
            #expect(
                try FileManager.default.contentsOfDirectory(
                    atPath: other.repository.appendingPathComponent("keys").path) == before)
        }

        @Test(
            "one restic repository per node: two apps back up at once, a snapshot restores only into its own app, teardown forgets the app's snapshots"
        )
        func nodeRepository() async throws {
            try await withHarness { harness, apps in
                let driver = harness.driver
                let repository = try await harness.checkout("appdb")
                let first = try await driver.newApp(harness.spec(repository))
                let second = try await driver.newApp(harness.spec(repository))
                apps += [first, second]
                for app in [first, second] { _ = try await driver.deploy(app, mode: .chaos) }
                for app in [first, second] { _ = try await driver.waitConverged(app, timeout: .seconds(90)) }

                // Concurrent backups share the repository (restic's shared lock); the first use
                // initialised it once.
                async let firstBackup = driver.backup(first)
                async let secondBackup = driver.backup(second)
                let (a, b) = try await (firstBackup, secondBackup)
                #expect(a.id != b.id)
                let restic = driver.restic
                #expect(FileManager.default.fileExists(atPath: restic.repository.appendingPathComponent("config").path))
                let perApp = restic.legacyFiles(for: first.domain) + restic.legacyFiles(for: second.domain)
                #expect(perApp.allSatisfy { !FileManager.default.fileExists(atPath: $0.path) }, "no per-app repository")
                let listed = try await restic.run(["snapshots", "--json", "--no-cache"])
                #expect(listed.contains("\"\(first.domain.name)\"") && listed.contains("\"\(second.domain.name)\""))

                // Beside restic's own key (its half-second scrypt) the repository has the node's
                // quick key for the same master key, and restic opens the repository with it.
                let quick = try #require(restic.quickKey(), "the repository has a quick key")
                let keys = try await restic.run(["key", "list", "--json", "--no-cache"])
                let listing = try JSONCoding.decoder.decode([JSONValue].self, from: Data(keys.utf8))
                #expect(listing.count == 2, "restic's key and the quick one: \(keys)")
                let current = listing.filter { $0["current"] == .bool(true) }.compactMap { $0["id"]?.stringValue }
                #expect(current.count == 1 && quick.hasPrefix(current[0]), "restic opened \(current), not \(quick)")

                // Another app's snapshot is refused before anything of this app is touched: known
                // from the backup itself, or, for a snapshot known only by id, from its tags.
                #expect(a.domain == first.domain.name && a.directories?.isEmpty == false, "listed while backing up")
                var byID = b
                byID.domain = nil
                byID.directories = nil
                for snapshot in [b, byID] {
                    do {
                        try await driver.restore(first, snapshot: snapshot)
                        Issue.record("a snapshot of \(second.domain) must not restore into \(first.domain)")
                    } catch let error as DriverError {
                        #expect("\(error)".contains("is not a snapshot of \(first.domain.name)"))
                    }
                }

                // Teardown forgets the app's snapshots (and only its own); no mark, no residue.
                let left = try await driver.remove(first)
                apps.removeAll { $0.domain == first.domain }
                #expect(left.isEmpty, "\(left.summary)")
                #expect(!FileManager.default.fileExists(atPath: restic.snapshotMark(for: first.domain).path))
                let after = try await restic.run(["snapshots", "--json", "--no-cache"])
                #expect(!after.contains("\"\(first.domain.name)\""), "the removed app's snapshots are forgotten")
                #expect(after.contains("\"\(second.domain.name)\""), "another app's snapshots stay")

                // A mark whose snapshots could not be forgotten is residue.
                try restic.markSnapshots(of: first.domain)
                let residue = try await driver.residue(domain: first.domain)
                #expect(residue.files == [restic.snapshotMark(for: first.domain).path])
                _ = try await restic.forget(first.domain)
                #expect(try await driver.residue(domain: first.domain).isEmpty)

                // `ccci gc` prunes the forgotten snapshots' data under restic's exclusive lock; a
                // backup running meanwhile (a shared lock) is waited for, not broken.
                func gc() async throws -> CommandResult {
                    try await ProcessRunner().run(
                        Command(
                            TestEnvironment.ccciExecutable.path, ["gc"],
                            environment: ["CCCI_HOME": harness.home.url.path, "CCCI_CONFIG": nil]))
                }
                async let concurrentBackup = driver.backup(second)
                async let concurrentGC = gc()
                let (third, pruning) = try await (concurrentBackup, concurrentGC)
                #expect(pruning.status == 0, "\(pruning.output)\(pruning.errorOutput)")
                let pruned = try #require(pruning.output.split(separator: "\n").first { $0.hasPrefix("backups: ") })
                #expect(
                    pruned.hasPrefix("backups: pruned ") && !pruned.hasPrefix("backups: pruned 0 blobs"), "\(pruned)")
                #expect(try await restic.run(["snapshots", "--json", "--no-cache"]).contains(third.id))
                let again = try await gc()
                #expect(
                    again.output.contains("backups: pruned 0 blobs / 0 B"), "nothing left to prune: \(again.output)")
            }
        }

        @Test(
            "a restore makes each backed-up path hold exactly the snapshot: later files and directories go, the snapshot's empty directories stay"
        )
        func restoreIsExact() async throws {
            try await withHarness { harness, apps in
                let driver = harness.driver
                let app = try await driver.newApp(harness.spec(try await harness.checkout("appdb")))
                apps.append(app)
                _ = try await driver.deploy(app, mode: .chaos)
                _ = try await driver.waitConverged(app, timeout: .seconds(90))
                let files = FileManager.default
                // The first backup finds the backed-up path; the tree is set up in it, then backed up.
                let root = URL(fileURLWithPath: try #require(try await driver.backup(app).paths.first))
                try files.createDirectory(
                    at: root.appendingPathComponent("kept-empty"), withIntermediateDirectories: true)
                try files.createDirectory(
                    at: root.appendingPathComponent("sub/deeper"), withIntermediateDirectories: true)
                try "data\n".write(
                    to: root.appendingPathComponent("sub/deeper/file"), atomically: true, encoding: .utf8)
                let snapshot = try await driver.backup(app)
                #expect(snapshot.directories?.contains(root.appendingPathComponent("kept-empty").path) == true)
                // After the backup: a new tree, a new empty directory, a removed one, a changed file.
                try files.createDirectory(
                    at: root.appendingPathComponent("later/inner"), withIntermediateDirectories: true)
                try "x\n".write(to: root.appendingPathComponent("later/inner/x"), atomically: true, encoding: .utf8)
                try files.createDirectory(
                    at: root.appendingPathComponent("later-empty"), withIntermediateDirectories: true)
                try files.removeItem(at: root.appendingPathComponent("kept-empty"))
                try "changed\n".write(
                    to: root.appendingPathComponent("sub/deeper/file"), atomically: true, encoding: .utf8)
                try await driver.restore(app, snapshot: snapshot)
                #expect(files.fileExists(atPath: root.appendingPathComponent("kept-empty").path))
                #expect(
                    try String(contentsOf: root.appendingPathComponent("sub/deeper/file"), encoding: .utf8) == "data\n")
                #expect(!files.fileExists(atPath: root.appendingPathComponent("later").path))
                #expect(!files.fileExists(atPath: root.appendingPathComponent("later-empty").path))
            }
        }

        @Test("a recipe without backupbot labels is not backup capable; a failing backup hook is an error")
        func backupNotCapableAndHookFailure() async throws {
            try await withHarness { harness, apps in
                let oneshot = try await harness.checkout("oneshot")
                let plain = try await harness.driver.newApp(harness.spec(oneshot))
                apps.append(plain)
                #expect(try harness.driver.backupEngine(for: plain).plan().0 == nil)
                await #expect(throws: DriverError.self) { try await harness.driver.backup(plain) }

                let appdb = try await harness.checkout("appdb")
                let failing = harness.home.appending("compose.failing-hook.yml")
                try """
                version: "3.8"
                services:
                  db:
                    deploy:
                      labels:
                        backupbot.backup.pre-hook: "echo dump refused >&2; exit 3"

                """.write(to: failing, atomically: true, encoding: .utf8)
                let app = try await harness.driver.newApp(harness.spec(appdb, packComposeFiles: [failing]))
                apps.append(app)
                _ = try await harness.driver.deploy(app, mode: .chaos)
                _ = try await harness.driver.waitConverged(app, timeout: .seconds(90))
                do {
                    _ = try await harness.driver.backup(app)
                    Issue.record("a backup whose pre-hook fails must fail")
                } catch let error as DriverError {
                    guard case .hookFailed(let service, _, let code, let output) = error else {
                        Issue.record("unexpected error \(error)")
                        return
                    }
                    #expect(service == "db")
                    #expect(code == 3)
                    #expect(output.contains("dump refused"))
                }
            }
        }

        @Test(
            "a stack removed while its tasks are starting, or while a container ignores SIGTERM, leaves nothing — and nothing appears after"
        )
        func removalLeavesNothingBehind() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-removal")
                let stack = TestSession.stackName("removal")
                // `sleep` as PID 1 ignores SIGTERM, and a minute's grace: swarm keeps its tasks
                // for a while after their containers are gone.
                let inline = try InlineStack(
                    stack,
                    compose: """
                        version: "3.8"
                        services:
                          app:
                            image: ccci-lab/busybox:latest
                            command: ["sleep", "3600"]
                            stop_grace_period: 1m
                            volumes: ["data:/data"]
                            deploy: { endpoint_mode: dnsrr, replicas: 2 }
                        volumes:
                          data:

                        """, in: work.url)
                let janitor = StackJanitor(engine: engine, ownership: .stackNamespace)
                /// Nothing of the stack exists now, nor during the next `seconds`: no agent still
                /// creates a container (or its volume) for a task of a removed service.
                func expectNothingAppears(for seconds: Int, _ when: String) async throws {
                    for _ in 0..<(seconds * 4) {
                        let left = try await janitor.residue(stack: stack)
                        #expect(left.isEmpty, "\(when): \(left.summary)")
                        if !left.isEmpty { return }
                        try await Task.sleep(for: .milliseconds(250))
                    }
                }
                // At once: the tasks are new or being prepared.
                try await inline.deploy()
                let early = try await janitor.remove(stack: stack)
                #expect(early.isEmpty, "removed while starting: \(early.summary)")
                try await expectNothingAppears(for: 5, "after a removal while starting")
                // Running: the removal force-removes the containers rather than wait out the grace.
                let left = try await TestEnvironment.withStack(stack, engine: engine) {
                    try await inline.deploy()
                    try await inline.waitConverged(engine: engine)
                }
                #expect(left.isEmpty, "removed while running: \(left.summary)")
                try await expectNothingAppears(for: 3, "after a removal while running")
            }
        }

        @Test("teardown reports a volume and a secret created outside the stack by name, and leaves them")
        func teardownReportsStrays() async throws {
            try await TestEnvironment.withEngine { engine in
                let harness = try DriverHarness(engine: engine)
                let repository = try await harness.checkout("web")
                let app = try await harness.driver.newApp(harness.spec(repository))
                _ = try await harness.driver.deploy(app, mode: .chaos)
                let strayVolume = "\(app.stack)_stray"
                let straySecret = "\(app.stack)_stray_v1"
                try await engine.createVolume(name: strayVolume, labels: [:])
                try await engine.createSecret(name: straySecret, value: "x", labels: [:])
                let left = try await harness.driver.remove(app)
                #expect(left.volumes == [strayVolume])
                #expect(left.secrets == [straySecret])
                #expect(left.services.isEmpty && left.networks.isEmpty && left.configs.isEmpty && left.files.isEmpty)
                try await engine.removeVolume(strayVolume)
                try await engine.removeSecret(straySecret)
                #expect(try await harness.driver.residue(app).isEmpty)
            }
        }

        @Test("a missing image fails the deploy fast, naming the image")
        func missingImageFailsFast() async throws {
            try await withHarness { harness, apps in
                let repository = try await harness.checkout("web")
                let override = harness.home.appending("compose.missing-image.yml")
                try "version: \"3.8\"\nservices:\n  app:\n    image: ccci-lab/does-not-exist:1.0\n"
                    .write(to: override, atomically: true, encoding: .utf8)
                let app = try await harness.driver.newApp(harness.spec(repository, packComposeFiles: [override]))
                apps.append(app)
                do {
                    _ = try await harness.driver.deploy(app, mode: .chaos)
                    Issue.record("deploy with a missing image must fail")
                } catch let error as DriverError {
                    #expect(error.description.contains("ccci-lab/does-not-exist:1.0"))
                }
                #expect(try await harness.engine.services(stack: app.stack).isEmpty, "nothing was deployed")
            }
        }
    }
}
