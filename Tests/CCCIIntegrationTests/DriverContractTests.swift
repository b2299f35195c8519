import CCCICore
import CCCIDeploy
import CCCIGit
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    /// The driver contract (SPEC F-DRIVER): what any ``AppDriver`` must do to apps on a real node,
    /// run once per driver kind (``NodeConfig/DriverKind``) against the drivers ``DriverFactory``
    /// makes. The node itself is the witness (its services, labels, secrets and volumes), not the
    /// driver's own account. A new driver passes this suite before a run uses it.
    @Suite struct Driver {
        @Test(
            "web: pinned deploy of the previous release, then a chaos redeploy of the head; labels, secrets, health, zero residue",
            arguments: NodeConfig.DriverKind.allCases)
        func pinnedThenChaos(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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

        @Test(
            "a chaos deploy of a tree with uncommitted changes is stamped +U", arguments: NodeConfig.DriverKind.allCases
        )
        func dirtyChaosIsMarked(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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

        @Test(
            "oneshot converges once its restart_policy: none service has completed",
            arguments: NodeConfig.DriverKind.allCases)
        func oneShotConverges(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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

        @Test(
            "broken times out within its deploy timeout, naming the service and its task state",
            arguments: NodeConfig.DriverKind.allCases)
        func brokenTimesOut(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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

        @Test(
            "appdb: marker written, backed up (snapshot id), mutated, restored: the marker is back",
            arguments: NodeConfig.DriverKind.allCases)
        func appdbBackupRestore(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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
            "a restore makes each backed-up path hold exactly the snapshot: later files and directories go, the snapshot's empty directories stay",
            arguments: NodeConfig.DriverKind.allCases)
        func restoreIsExact(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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

        @Test(
            "a recipe without backupbot labels is not backup capable; a failing backup hook is an error",
            arguments: NodeConfig.DriverKind.allCases)
        func backupNotCapableAndHookFailure(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
                let oneshot = try await harness.checkout("oneshot")
                let plain = try await harness.driver.newApp(harness.spec(oneshot))
                apps.append(plain)
                #expect(try harness.driver.model(of: plain).backupPlan == nil)
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
            "teardown reports a volume and a secret created outside the stack by name, and leaves them",
            arguments: NodeConfig.DriverKind.allCases)
        func teardownReportsStrays(kind: NodeConfig.DriverKind) async throws {
            try await TestEnvironment.withEngine { engine in
                let harness = try await DriverHarness(engine: engine, kind: kind)
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

        @Test("a missing image fails the deploy fast, naming the image", arguments: NodeConfig.DriverKind.allCases)
        func missingImageFailsFast(kind: NodeConfig.DriverKind) async throws {
            try await DriverHarness.withApps(kind) { harness, apps in
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
