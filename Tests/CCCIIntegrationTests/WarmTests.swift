import CCCICore
import CCCIDeploy
import CCCIGit
import CCCILab
import CCCIStore
import CCCISwarm
import CCCISystem
import CCCITestSupport
import CCCIWarm
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Warm canonicals and the weekly sweep on the real lab (SPEC F-CANON, F-SWEEP): the real
    /// `ccci` binary, real git tags, real deploys proven over HTTPS, real restic rollbacks.
    @Suite struct Warm {
        let harness: RunHarness
        let git = Git(runner: ProcessRunner())

        init() throws {
            harness = try RunHarness()
        }

        var warmDomain: String { "web.warm.\(harness.ciDomain)" }
        /// A maintainer committing to the catalogue's recipe.
        let identity = [
            "GIT_AUTHOR_NAME": "maintainer", "GIT_AUTHOR_EMAIL": "m@ccci.test", "GIT_COMMITTER_NAME": "maintainer",
            "GIT_COMMITTER_EMAIL": "m@ccci.test",
        ]
        var warmStack: String { AppNaming.stackName(forDomain: warmDomain) }

        func sweep(
            _ arguments: [String] = [], extra: [String: String?] = [:]
        ) async throws -> (CommandResult, [String: JSONValue]) {
            let result = try await harness.ccci(["sweep", "--json"] + arguments, extra: extra)
            guard let start = result.output.firstIndex(of: "{"),
                let report = try? JSONCoding.decoder.decode(
                    [String: JSONValue].self, from: Data(result.output[start...].utf8))
            else {
                throw TestSetupError(
                    "no sweep report (exit \(result.status)):\n\(result.output)\n\(result.errorOutput)")
            }
            return (result, report)
        }

        /// The label the report gives `recipe`.
        func label(_ report: [String: JSONValue], _ recipe: String = "web") -> String? {
            report["entries"]?.arrayValue?.first { $0.objectValue?["recipe"]?.stringValue == recipe }?
                .objectValue?["label"]?.stringValue
        }

        func canonical() async throws -> CanonicalRecord? {
            try await harness.store().canonical("web")
        }

        /// The release the warm app's services are stamped with (`coop-cloud.<stack>.version`).
        func deployedVersion() async throws -> String {
            let result = try await ProcessRunner().run(
                Command(
                    "docker",
                    [
                        "service", "inspect", "\(warmStack)_app", "--format",
                        "{{index .Spec.Labels \"coop-cloud.\(warmStack).version\"}}",
                    ]))
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// The services the warm app runs.
        func warmServices() async throws -> [String] {
            let result = try await ProcessRunner().run(
                Command(
                    "docker",
                    [
                        "service", "ls", "--filter", "label=com.docker.stack.namespace=\(warmStack)", "--format",
                        "{{.Name}}",
                    ]))
            return result.output.split(separator: "\n").map(String.init).sorted()
        }

        /// The host directory of the warm app's `content` volume.
        func contentVolume() async throws -> URL {
            let result = try await ProcessRunner().run(
                Command("docker", ["volume", "inspect", "\(warmStack)_content", "--format", "{{.Mountpoint}}"]))
            #expect(result.status == 0, "\(result.errorOutput)")
            return URL(fileURLWithPath: result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        /// Healthy over HTTPS on its own domain, through the lab ingress with the lab CA.
        func healthyOverHTTPS() async throws -> Bool {
            let config = try harness.config()
            let probe = HTTPSProbe(target: .lab(address: "127.0.0.1", caCertificate: config.labCACertificate))
            let result = try? await HealthChecker(probe: probe).waitHealthy(
                domain: warmDomain, path: "/health", accepted: [200], timeout: .seconds(30))
            return result != nil
        }

        func runCount() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: harness.home.appending("runs").path).count) ?? 0
        }

        /// Tags `commit` of the catalogue's web as release `version` (annotated, as a maintainer does).
        func release(_ version: String, at commit: String, in repository: URL) async throws {
            try await git.run(
                ["tag", "-a", version, "-m", "Release \(version)", commit], in: repository,
                environment: identity)
        }

        @Test(
            "the sweep seeds web's canonical, skips when nothing is new, rolls a failed promotion back, promotes exactly a new release, keeps the canonical through a failing one, and drop leaves nothing"
        )
        func lifecycle() async throws {
            let web = try await harness.add("web")
            let head = try #require(web.head)
            let seeded = try #require(web.releases["1.2.0+1.36.1"])
            do {
                try await lifecycleSteps(web, head: head, seeded: seeded)
            } catch {
                _ = try? await harness.ccci(["canonical", "drop", "web"])  // what a failed step left
                throw error
            }
        }

        func lifecycleSteps(_ web: FixtureRecipes.Repository, head: String, seeded: String) async throws {

            // An untagged green head is never promoted.
            let untagged = try await harness.ccci(["run", "web", "--json"])
            #expect(untagged.status == 0, "\(untagged.errorOutput)")
            let untaggedResults = try harness.results(untagged)
            #expect(untaggedResults.promotion?.status == .notEligible)
            #expect(untaggedResults.promotion?.reason?.contains("not a release") == true)
            #expect(try await canonical() == nil)
            #expect(try await harness.leftovers([warmDomain]).isEmpty)

            // First sweep: no canonical → a cold run on the newest release, then its promotion.
            let (first, firstReport) = try await sweep()
            #expect(first.status == 0, "\(first.output)\n\(first.errorOutput)")
            #expect(label(firstReport) == "PROMOTED 1.2.0+1.36.1")
            let record = try #require(try await canonical())
            #expect(record.version == "1.2.0+1.36.1")
            #expect(record.commit == seeded, "the tag's own commit, as tested")
            #expect(record.domain == warmDomain)
            #expect(record.status == "healthy")
            #expect(record.volumeNames.contains("\(warmStack)_content"))
            #expect(try await deployedVersion() == "1.2.0+1.36.1")
            #expect(try await healthyOverHTTPS())

            // Second sweep, nothing new: every enrolled recipe skips, nothing runs or deploys.
            let runsBefore = runCount()
            let (second, secondReport) = try await sweep()
            #expect(second.status == 0)
            #expect(label(secondReport) == "SKIP(no-new-version)")
            #expect(runCount() == runsBefore, "no run was made")
            #expect(try await canonical() == record, "the record was not touched")

            // The canonical holds data; a new release whose promotion fails is rolled back with it.
            let marker = try await contentVolume().appendingPathComponent("canonical-marker.txt")
            try "kept through promotions\n".write(to: marker, atomically: true, encoding: .utf8)
            try await release("1.3.0+1.36.1", at: head, in: web.path)
            let (failed, failedReport) = try await sweep(extra: [Promoter.faultVariable: "promote.health"])
            #expect(failed.status == 1)
            #expect(
                label(failedReport) == "GREEN-BUT-PROMOTE-FAILED (canonical=1.2.0+1.36.1, expected 1.3.0+1.36.1)",
                "\(failedReport)")
            #expect(try await canonical() == record, "the previous canonical and its record are intact")
            #expect(try await deployedVersion() == "1.2.0+1.36.1")
            #expect(
                try String(
                    contentsOf: try await contentVolume().appendingPathComponent("canonical-marker.txt"),
                    encoding: .utf8) == "kept through promotions\n")
            #expect(try await healthyOverHTTPS())

            // The same release again, with nothing injected: promoted to exactly that version.
            let (promoted, promotedReport) = try await sweep()
            #expect(promoted.status == 0, "\(promoted.output)")
            #expect(label(promotedReport) == "PROMOTED 1.3.0+1.36.1")
            let upgraded = try #require(try await canonical())
            #expect(upgraded.version == "1.3.0+1.36.1")
            #expect(upgraded.commit == head)
            #expect(try await deployedVersion() == "1.3.0+1.36.1")
            #expect(
                try String(
                    contentsOf: try await contentVolume().appendingPathComponent("canonical-marker.txt"),
                    encoding: .utf8)
                    == "kept through promotions\n", "upgraded in place, as an operator would: the data stays")

            // A failing new release: FAIL, the canonical unchanged.
            let compose = web.path.appendingPathComponent("compose.yml")
            let text = try String(contentsOf: compose, encoding: .utf8)
            try text.replacingOccurrences(of: "ccci-lab/busybox:latest", with: "ccci-lab/no-such-image:latest")
                .replacingOccurrences(of: "version=1.3.0+1.36.1", with: "version=1.4.0+1.36.1")
                .write(to: compose, atomically: true, encoding: .utf8)
            try await git.run(
                ["commit", "--quiet", "--no-gpg-sign", "-am", "A broken release"], in: web.path, environment: identity)
            try await release("1.4.0+1.36.1", at: try await git.commit(of: "HEAD", in: web.path), in: web.path)
            let (failing, failingReport) = try await sweep()
            #expect(failing.status == 1)
            #expect(label(failingReport) == "FAIL (canonical unchanged)", "\(failingReport)")
            #expect(try await canonical() == upgraded)
            #expect(try await deployedVersion() == "1.3.0+1.36.1")

            // Drop: the warm app and its record are gone, nothing left.
            let drop = try await harness.ccci(["canonical", "drop", "web"])
            #expect(drop.status == 0, "\(drop.output)\(drop.errorOutput)")
            #expect(try await canonical() == nil)
            #expect(try await harness.leftovers([warmDomain]).isEmpty)
        }

        @Test(
            "--quick upgrades the canonical to the head and runs its tests; passing, failing or stopped, the canonical is given back at its version with its data"
        )
        func quickLane() async throws {
            let web = try await harness.add("web")
            do {
                try await quickSteps(web)
            } catch {
                _ = try? await harness.ccci(["canonical", "drop", "web"])
                throw error
            }
            let drop = try await harness.ccci(["canonical", "drop", "web"])
            #expect(drop.status == 0, "\(drop.output)\(drop.errorOutput)")
        }

        func quickSteps(_ web: FixtureRecipes.Repository) async throws {
            let (seed, seedReport) = try await sweep(["--recipe", "web"])
            #expect(seed.status == 0)
            #expect(label(seedReport) == "PROMOTED 1.2.0+1.36.1")
            let record = try #require(try await canonical())
            let marker = try await contentVolume().appendingPathComponent("canonical-marker.txt")
            try "the canonical's own data\n".write(to: marker, atomically: true, encoding: .utf8)
            func expectGivenBack(_ comment: Comment) async throws {
                #expect(try await canonical() == record, comment)
                #expect(try await deployedVersion() == "1.2.0+1.36.1", comment)
                let data = try? String(
                    contentsOf: try await contentVolume().appendingPathComponent("canonical-marker.txt"),
                    encoding: .utf8)
                #expect(data == "the canonical's own data\n", comment)
                #expect(try await healthyOverHTTPS(), comment)
                #expect(try await warmServices() == ["\(warmStack)_app"], "only the canonical's services: \(comment)")
            }

            // A passing head, which adds a service: upgrade and custom proven on the warm app,
            // nothing cold created; given back, the canonical runs its own services only.
            let compose = web.path.appendingPathComponent("compose.yml")
            let original = try String(contentsOf: compose, encoding: .utf8)
            try original.replacingOccurrences(
                of: "\nservices:\n",
                with: "\nservices:\n  worker:\n    image: ccci-lab/busybox:latest\n    command: [\"sleep\", \"3600\"]\n"
            )
            .write(to: compose, atomically: true, encoding: .utf8)
            #expect(try String(contentsOf: compose, encoding: .utf8).contains("  worker:"))
            try await git.run(
                ["commit", "--quiet", "--no-gpg-sign", "-am", "A head with a worker"], in: web.path,
                environment: identity)
            let passing = try await harness.ccci(["run", "web", "--quick", "--json"])
            #expect(passing.status == 0, "\(passing.output)\(passing.errorOutput)")
            let results = try harness.results(passing)
            #expect(results.mode == "quick")
            #expect(results.appDomain == warmDomain)
            #expect(results.baseVersion == "1.2.0+1.36.1")
            #expect(results.tiers["upgrade"]?.status == .pass)
            #expect(results.tiers["custom"]?.status == .pass)
            #expect(results.tiers["install"] == nil || results.tiers["install"]?.status == .skip)
            #expect(results.level == 0, "the ladder counts only what the quick lane proved: no fresh install")
            #expect(results.promotion?.status == .notEligible)
            // The verdict on the head is recorded before the canonical goes back; the give-back's
            // outcome after it.
            #expect(results.giveBack?.state == .ok && results.giveBack?.durationSeconds != nil)
            #expect(results.flags.contains("quick-changes-volumes-or-secrets") == false)
            let log = try String(
                contentsOf: harness.home.appending("runs/\(results.runID)/run.log"), encoding: .utf8)
            let verdictAt = try #require(log.range(of: "verdict recorded (pass, level 0); giving the canonical back"))
            let backAt = try #require(log.range(of: "quick: the canonical is 1.2.0+1.36.1 again, its data restored"))
            #expect(verdictAt.lowerBound < backAt.lowerBound)
            let naming = try harness.config().naming()
            let cold = naming.runAppDomain(recipe: "web", pr: 0, ref: results.headCommit).name
            #expect(try await harness.leftovers([cold]).isEmpty)
            try await expectGivenBack("after a passing quick run")

            // A head that cannot run: the upgrade fails, the tests are skipped, the canonical comes back.
            let text = try String(contentsOf: compose, encoding: .utf8)
            try text.replacingOccurrences(of: "ccci-lab/busybox:latest", with: "ccci-lab/no-such-image:latest")
                .write(to: compose, atomically: true, encoding: .utf8)
            try await git.run(
                ["commit", "--quiet", "--no-gpg-sign", "-am", "A broken head"], in: web.path, environment: identity)
            let failing = try await harness.ccci(["run", "web", "--quick", "--json"])
            #expect(failing.status == 1)
            let failed = try harness.results(failing)
            #expect(failed.tiers["upgrade"]?.status == .fail)
            #expect(failed.tiers["custom"]?.status == .skip)
            try await expectGivenBack("after a failing quick run")

            // Stopped in the middle (SIGTERM): exit 143, and the canonical is given back all the same.
            try await git.run(["reset", "--quiet", "--hard", "HEAD~1"], in: web.path)
            let output = harness.home.appending("quick-stopped.txt")
            let earlier = harness.runIDs()
            let process = try await harness.start(["run", "web", "--quick"], output: output)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "[upgrade] converge: started", excluding: earlier))
            kill(process.processIdentifier, SIGTERM)
            try await process.exit(within: .seconds(180))
            #expect(process.terminationStatus == 143)
            try await expectGivenBack("after a stopped quick run")

            // SIGTERM while the canonical is being given back: the give-back completes (bounded by
            // its own timeouts), the verdict recorded before it stands.
            let duringGiveBack = harness.runIDs()
            let giving = try await harness.start(
                ["run", "web", "--quick"], output: harness.home.appending("quick-giving.txt"))
            defer { if giving.isRunning { kill(giving.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "giving the canonical back", excluding: duringGiveBack))
            kill(giving.processIdentifier, SIGTERM)
            try await giving.exit(within: .seconds(180))
            #expect(giving.terminationStatus == 0, "the verdict (pass) stands")
            let givingRun = try #require(harness.runIDs().subtracting(duringGiveBack).first)
            let givingResults = try JSONCoding.decoder.decode(
                RunResults.self, from: Data(contentsOf: harness.home.appending("runs/\(givingRun)/results.json")))
            #expect(givingResults.giveBack?.state == .ok)
            try await expectGivenBack("after a SIGTERM during the give-back")

            // A head swarm rolls back (its new task never turns healthy; failure_action: rollback):
            // the lane never reports the rolled-back app as the head.
            let rolled = try String(contentsOf: compose, encoding: .utf8)
            try rolled.replacingOccurrences(
                of: "\"http://127.0.0.1:8080/health\"]", with: "\"http://127.0.0.1:8080/no-such-page\"]"
            )
            .write(to: compose, atomically: true, encoding: .utf8)
            try await git.run(
                ["commit", "--quiet", "--no-gpg-sign", "-am", "A head swarm rolls back"], in: web.path,
                environment: identity)
            let rollback = try await harness.ccci(["run", "web", "--quick", "--json"])
            #expect(rollback.status == 1)
            let rolledBack = try harness.results(rollback)
            #expect(rolledBack.tiers["upgrade"]?.status == .fail, "\(rolledBack.tiers["upgrade"]?.reason ?? "")")
            #expect(rolledBack.tiers["custom"]?.status == .skip)
            try await expectGivenBack("after a head swarm rolled back")
            try await git.run(["reset", "--quiet", "--hard", "HEAD~1"], in: web.path)

            // Killed outright (SIGKILL) mid-upgrade: nothing can give the canonical back, so the
            // next holder of the warm lock finds the borrow mark and marks the record broken; a
            // sweep re-seeds it.
            let beforeKill = harness.runIDs()
            let killed = try await harness.start(
                ["run", "web", "--quick"], output: harness.home.appending("killed.txt"))
            defer { if killed.isRunning { kill(killed.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "[upgrade] converge: started", excluding: beforeKill))
            kill(killed.processIdentifier, SIGKILL)
            try await killed.exit(within: .seconds(30))
            let next = try await harness.ccci(["run", "web", "--quick", "--json"])
            #expect(next.status == 1)
            #expect(
                try harness.results(next).tiers["upgrade"]?.reason?.contains(
                    "died before giving the canonical of web back")
                    == true)
            #expect(try await canonical()?.status == "broken", "the record no longer claims what may not be running")
            let refused = try await harness.ccci(["run", "web", "--quick"])
            #expect(refused.status == 2)
            #expect(refused.errorOutput.contains("is broken"))
            let (reseed, reseedReport) = try await sweep()
            #expect(reseed.status == 0)
            #expect(label(reseedReport) == "PROMOTED 1.2.0+1.36.1")
            #expect(try await canonical()?.status == "healthy")
            #expect(try await deployedVersion() == "1.2.0+1.36.1")
            #expect(try await healthyOverHTTPS())
        }

        @Test("--quick with no canonical is a usage error (exit 2) that says how to seed one, and deploys nothing")
        func quickWithoutCanonical() async throws {
            try await harness.add("web")
            let result = try await harness.ccci(["run", "web", "--quick"])
            #expect(result.status == 2)
            #expect(result.errorOutput.contains("web has no warm canonical"), "\(result.errorOutput)")
            #expect(result.errorOutput.contains("the sweep first"))
            #expect(try await harness.leftovers([warmDomain]).isEmpty)
            let cold = try await harness.ccci(["run", "web", "--quick", "--stages", "install"])
            #expect(cold.status == 2)
            #expect(cold.errorOutput.contains("install needs a cold run"), "\(cold.errorOutput)")
        }

        @Test("a first promotion that fails leaves no canonical and no orphan volume; the run itself stays green")
        func seedFailure() async throws {
            try await harness.add("web")
            let (result, report) = try await sweep(extra: [Promoter.faultVariable: "promote.health"])
            #expect(result.status == 1)
            #expect(label(report) == "GREEN-BUT-PROMOTE-FAILED (canonical=none, expected 1.2.0+1.36.1)", "\(report)")
            #expect(try await canonical() == nil)
            let left = try await harness.leftovers([warmDomain])
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
            let results = try harness.allResults()
            #expect(results.count == 1)
            #expect(results.first?.outcome == .pass)
            #expect(results.first?.promotion?.status == .failed)
            #expect(results.first?.promotion?.reason?.contains("injected fault") == true)
        }

        @Test(
            "SIGTERM to the sweep: its run is told to stop and tears down, nothing more starts, the report is kept, exit 143"
        )
        func sweepStopped() async throws {
            try await harness.add("web")
            let output = harness.home.appending("sweep.txt")
            let sweep = try await harness.start(["sweep"], output: output)
            defer { if sweep.isRunning { kill(sweep.processIdentifier, SIGKILL) } }
            #expect(await harness.waitForLog(containing: "[install] converge: started"))
            kill(sweep.processIdentifier, SIGTERM)
            try await sweep.exit(within: .seconds(180))
            #expect(sweep.terminationStatus == 143)
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            #expect(text.contains("stopping after the current run"), "\(text)")
            #expect(text.contains("web: FAIL (canonical unchanged)"), "\(text)")
            let results = try harness.allResults()
            #expect(results.count == 1)
            #expect(results.first?.outcome == .cancelled, "the run was stopped by its sweep and tore down")
            #expect(try await canonical() == nil)
            let sweeps = try await harness.store().sweeps(limit: 5)
            #expect(sweeps.count == 1, "the stopped sweep's report is kept")
            if let run = results.first {
                #expect(
                    try await harness.leftovers([run.appDomain, run.upgradeAppDomain ?? run.appDomain, warmDomain])
                        .isEmpty)
            }
        }

        @Test("one sweep at a time: while another holds the sweep lock, a sweep refuses and does nothing")
        func oneAtATime() async throws {
            try await harness.add("web")
            let config = try harness.config()
            try FileManager.default.createDirectory(at: config.lockDirectory, withIntermediateDirectories: true)
            let held = try await FileLock.acquire(config.sweepLockFile)
            defer { held.release() }
            let result = try await harness.ccci(["sweep"])
            #expect(result.status == 1)
            #expect(result.errorOutput.contains("another sweep is running"), "\(result.errorOutput)")
            #expect(runCount() == 0)
        }

        @Test("a recipe whose repository cannot be fetched is SYNC-FAILED, and the sweep says so (exit 1)")
        func syncFailure() async throws {
            let web = try await harness.add("web")
            try FileManager.default.removeItem(at: web.path.appendingPathComponent(".git/objects"))
            let (result, report) = try await sweep()
            #expect(result.status == 1)
            #expect(label(report) == "SYNC-FAILED", "\(report)")
            #expect(runCount() == 0)
        }

        @Test("--dry-run decides without running; --recipe refuses a recipe that is not enrolled (exit 2)")
        func dryRunAndEnrolment() async throws {
            try await harness.add("web")
            try await harness.add("appdb")
            let (result, report) = try await sweep(["--dry-run"])
            #expect(result.status == 0)
            #expect(label(report) == "WOULD-RUN")
            #expect(label(report, "appdb") == nil, "appdb is not enrolled")
            #expect(runCount() == 0)
            let refused = try await harness.ccci(["sweep", "--recipe", "appdb"])
            #expect(refused.status == 2)
            #expect(refused.errorOutput.contains("appdb is not enrolled"), "\(refused.errorOutput)")
        }
    }
}
