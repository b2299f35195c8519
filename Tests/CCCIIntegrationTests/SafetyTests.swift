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
    /// Locks, the janitor and the lifetime guards with real kernel flocks, real signals and real
    /// helper processes (SPEC F-LOCK, F-JANITOR, F-LIFETIME) — nothing here is mocked.
    @Suite struct Safety {
        let helpers: HelperProcesses
        let home: TemporaryDirectory
        let lockDirectory: URL
        let ciDomain: String

        init() throws {
            helpers = try HelperProcesses()
            home = try TemporaryDirectory("ccci-janitor")
            lockDirectory = home.appending("locks")
            ciDomain = "j\(TestEnvironment.randomHex(5)).ccci.test"
            TestSession.register(ciDomain: ciDomain, home: home.url)
        }

        var domain: String { "web-\(TestEnvironment.randomHex(6)).\(ciDomain)" }

        /// `text` as the app domain a run would lock.
        func appDomain(_ text: String) -> AppDomain {
            try! AppNaming(ciDomain: ciDomain).appDomain(text)
        }

        func config() throws -> NodeConfig {
            try TestEnvironment.labConfig(
                home: home.url, extra: ["CCCI_LOCK_DIR": lockDirectory.path, "CCCI_CI_DOMAIN": ciDomain])
        }

        func janitor(_ engine: DockerEngine) throws -> Janitor {
            let config = try config()
            return Janitor(
                config: config, naming: try config.naming(),
                driver: NativeDriver(config: config, engine: engine, logger: TestEnvironment.logger))
        }

        /// `held`, `free` or `absent`, probed with a real non-blocking flock.
        func lockState(_ domain: String) -> String {
            let path = AppLocks.path(for: appDomain(domain), in: lockDirectory)
            guard FileManager.default.fileExists(atPath: path.path) else { return "absent" }
            guard let lock = try? FileLock.tryAcquire(path) else { return "held" }
            lock.release()
            return "free"
        }

        func waitLockState(_ domain: String, _ state: String) async -> Bool {
            (try? await poll(until: { lockState(domain) == state }, timeout: .seconds(10))) ?? false
        }

        /// An env file, as a run app leaves it.
        func makeEnvFile(_ domain: String) throws -> URL {
            let file = try config().envDirectory.appendingPathComponent("\(domain).env")
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try "TYPE=web\nDOMAIN=\(domain)\n".write(to: file, atomically: true, encoding: .utf8)
            return file
        }

        func hold(_ domain: String, withChild: Bool = false) async throws -> (Process, String) {
            let marker = helpers.markerFile()
            let process = try await helpers.start([
                withChild ? "hold-with-child" : "hold", lockDirectory.path, domain, marker,
            ])
            return (process, marker)
        }

        // MARK: - Locks

        @Test("SIGKILL of the holder releases the lock (the kernel does it)")
        func sigkillReleases() async throws {
            let domain = self.domain
            let (holder, marker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(marker, "ACQUIRED") != nil)
            #expect(lockState(domain) == "held")
            kill(holder.processIdentifier, SIGKILL)
            #expect(await waitLockState(domain, "free"))
        }

        @Test("a non-blocking probe fails on a held lock and succeeds on a free one")
        func probeSemantics() async throws {
            let domain = self.domain
            let path = AppLocks.path(for: appDomain(domain), in: lockDirectory)
            let (holder, marker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(marker, "ACQUIRED") != nil)
            #expect(try FileLock.tryAcquire(path) == nil)
            kill(holder.processIdentifier, SIGKILL)
            #expect(await waitLockState(domain, "free"))
            let lock = try #require(try FileLock.tryAcquire(path))
            lock.release()
        }

        @Test("children never inherit the lock: the holder dies, its child lives, the lock is free")
        func lockNotInherited() async throws {
            let domain = self.domain
            let (holder, marker) = try await hold(domain, withChild: true)
            let child = try #require(await HelperProcesses.waitForMarker(marker, "CHILD"))
            let childPID = pid_t(child.split(separator: " ")[1])!
            helpers.track(childPID)
            kill(holder.processIdentifier, SIGKILL)
            #expect(await waitLockState(domain, "free"), "a child holding an inherited descriptor would keep it held")
            #expect(HelperProcesses.alive(childPID), "the child outlived the holder")
        }

        @Test("a second acquire of the same domain waits, visibly, until the first holder exits")
        func secondAcquireWaits() async throws {
            let domain = self.domain
            let (first, firstMarker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(firstMarker, "ACQUIRED") != nil)
            let (_, secondMarker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(secondMarker, "WAITING") != nil)
            #expect(await HelperProcesses.waitForMarker(secondMarker, "ACQUIRED", timeout: .seconds(1)) == nil)
            let killedAt = Date().timeIntervalSince1970
            kill(first.processIdentifier, SIGKILL)
            let acquired = try #require(await HelperProcesses.waitForMarker(secondMarker, "ACQUIRED"))
            #expect(Double(acquired.split(separator: " ")[1])! >= killedAt - 0.01)
        }

        // MARK: - Janitor

        @Test("an orphan (its run died) is reaped once and its lock file unlinked")
        func orphanReapedOnce() async throws {
            let domain = self.domain
            let envFile = try makeEnvFile(domain)
            let (holder, marker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(marker, "ACQUIRED") != nil)
            kill(holder.processIdentifier, SIGKILL)
            #expect(await waitLockState(domain, "free"))
            try await TestEnvironment.withEngine { engine in
                let first = try await janitor(engine).sweep()
                #expect(first.reaped == [domain])
                #expect(!FileManager.default.fileExists(atPath: envFile.path))
                #expect(lockState(domain) == "absent", "the lock file is unlinked")
                let second = try await janitor(engine).sweep()
                #expect(second.reaped.isEmpty)
            }
        }

        @Test("a live run's app is never reaped")
        func liveNeverReaped() async throws {
            let domain = self.domain
            let envFile = try makeEnvFile(domain)
            let (_, marker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(marker, "ACQUIRED") != nil)
            try await TestEnvironment.withEngine { engine in
                let report = try await janitor(engine).sweep()
                #expect(report.live == [domain])
                #expect(report.reaped.isEmpty)
            }
            #expect(FileManager.default.fileExists(atPath: envFile.path))
            #expect(lockState(domain) == "held")
        }

        @Test("a new run of a domain being reaped waits until the reap is done")
        func newRunWaitsForReap() async throws {
            try await TestEnvironment.withEngine { engine in
                let domain = self.domain
                let stack = AppNaming.stackName(forDomain: domain)
                let work = try TemporaryDirectory("ccci-reap")
                let inline = try InlineStack(
                    stack,
                    compose: """
                        version: "3.8"
                        services:
                          app:
                            image: ccci-lab/busybox:latest
                            init: true
                            command: ["sleep", "3600"]
                            labels: { ccci.managed: "true", ccci.stack: "\(stack)" }
                            deploy:
                              endpoint_mode: dnsrr
                              labels: { ccci.managed: "true", ccci.stack: "\(stack)", ccci.app: "\(domain)" }
                        volumes: {}
                        # Labelled as cc-ci labels its own, so the reap removes it too (unlabelled, it was left).
                        networks:
                          default:
                            labels: { ccci.managed: "true", ccci.stack: "\(stack)" }

                        """, in: work.url)
                try await inline.deploy()
                try await inline.waitConverged(engine: engine)
                _ = try makeEnvFile(domain)
                let janitor = try janitor(engine)
                async let sweep = janitor.sweep()
                // Once the janitor holds the probe lock, a new run of the domain arrives.
                #expect(await waitLockState(domain, "held"))
                let (_, marker) = try await hold(domain)
                let report = await sweep
                #expect(report.reaped == [domain])
                #expect(await HelperProcesses.waitForMarker(marker, "WAITING") != nil, "the new run had to wait")
                #expect(await HelperProcesses.waitForMarker(marker, "ACQUIRED") != nil)
                #expect(
                    try await engine.services(stack: stack).isEmpty, "the reap finished before the new run got the lock"
                )
                #expect(try await engine.containers(labels: ["com.docker.stack.namespace=\(stack)"]).isEmpty)
            }
        }

        @Test("two janitors racing over one orphan reap it once")
        func racingJanitors() async throws {
            let domain = self.domain
            _ = try makeEnvFile(domain)
            try await TestEnvironment.withEngine { engine in
                let first = try janitor(engine)
                let second = try janitor(engine)
                async let a = first.sweep()
                async let b = second.sweep()
                let reports = await [a, b]
                #expect(reports.map(\.reaped.count).reduce(0, +) == 1, "\(reports.map(\.lines))")
            }
        }

        @Test("after a reboot (no lock file at all) a surviving app is reaped at once")
        func rebootReapsImmediately() async throws {
            let domain = self.domain
            let envFile = try makeEnvFile(domain)
            #expect(lockState(domain) == "absent")
            try await TestEnvironment.withEngine { engine in
                let clock = ContinuousClock()
                let start = clock.now
                let report = try await janitor(engine).sweep()
                #expect(report.reaped == [domain])
                #expect(clock.now - start < .seconds(5), "no age threshold")
            }
            #expect(!FileManager.default.fileExists(atPath: envFile.path))
        }

        @Test("a lock held for more than twice the run deadline is flagged loudly and never stolen")
        func longHeldFlagged() async throws {
            let domain = self.domain
            let envFile = try makeEnvFile(domain)
            let (_, marker) = try await hold(domain)
            #expect(await HelperProcesses.waitForMarker(marker, "ACQUIRED") != nil)
            let path = AppLocks.path(for: appDomain(domain), in: lockDirectory)
            let threeHoursAgo = Date().addingTimeInterval(-3 * 3600)
            try FileManager.default.setAttributes([.modificationDate: threeHoursAgo], ofItemAtPath: path.path)
            try await TestEnvironment.withEngine { engine in
                let report = try await janitor(engine).sweep()
                #expect(report.flagged == [domain])
                #expect(report.reaped.isEmpty)
                #expect(report.lines.contains { $0.contains("!!") && $0.contains("lslocks") })
            }
            #expect(lockState(domain) == "held")
            #expect(FileManager.default.fileExists(atPath: envFile.path))
        }

        @Test("warm and canonical apps, and other CI domains' apps, are never candidates: no lock file is even created")
        func warmNeverProbed() async throws {
            let warm = try makeEnvFile("web.warm.\(ciDomain)")
            let foreign = try makeEnvFile("web-123abc.other.ccci.test")
            try await TestEnvironment.withEngine { engine in
                let report = try await janitor(engine).sweep()
                #expect(report.reaped.isEmpty && report.live.isEmpty && report.skipped.isEmpty)
            }
            #expect(FileManager.default.fileExists(atPath: warm.path))
            #expect(FileManager.default.fileExists(atPath: foreign.path))
            let locks = (try? FileManager.default.contentsOfDirectory(atPath: lockDirectory.path)) ?? []
            #expect(locks.isEmpty, "\(locks)")
        }

        @Test("an unreadable lock file is skipped with a line, and a missing lock directory degrades, never crashing")
        func degradesSafely() async throws {
            let domain = self.domain
            let envFile = try makeEnvFile(domain)
            try FileManager.default.createDirectory(
                at: AppLocks.path(for: appDomain(domain), in: lockDirectory), withIntermediateDirectories: true)
            try await TestEnvironment.withEngine { engine in
                let report = try await janitor(engine).sweep()
                #expect(report.skipped == [domain])
                #expect(report.lines.contains { $0.contains("skipping \(domain)") })
            }
            #expect(FileManager.default.fileExists(atPath: envFile.path))
            // A lock directory that cannot exist (its parent is a file).
            let blocker = home.appending("not-a-directory")
            try "x".write(to: blocker, atomically: true, encoding: .utf8)
            let config = try TestEnvironment.labConfig(
                home: home.url,
                extra: ["CCCI_LOCK_DIR": blocker.appendingPathComponent("locks").path, "CCCI_CI_DOMAIN": ciDomain])
            try await TestEnvironment.withEngine { engine in
                let janitor = Janitor(
                    config: config, naming: try config.naming(),
                    driver: NativeDriver(config: config, engine: engine, logger: TestEnvironment.logger))
                let report = await janitor.sweep()
                #expect(report.reaped.isEmpty)
                #expect(report.lines.contains { $0.contains("unusable") })
            }
            #expect(FileManager.default.fileExists(atPath: envFile.path))
        }

        // MARK: - Lifetime

        @Test("when the parent dies, the run gets SIGTERM, tears down and releases its lock")
        func parentDeathTermsTheRun() async throws {
            let domain = self.domain
            let marker = helpers.markerFile()
            let wrapper = try await helpers.start(["wrapper", lockDirectory.path, domain, marker])
            let wrapped = try #require(await HelperProcesses.waitForMarker(marker, "WRAPPED"))
            let child = pid_t(wrapped.split(separator: " ")[1])!
            helpers.track(child)
            let ready = await HelperProcesses.waitForMarker(marker, "READY")
            #expect(
                ready?.hasSuffix("pdeathsig=15") == true,
                "the guard armed SIGTERM as the parent-death signal: \(ready ?? "")")
            kill(wrapper.processIdentifier, SIGKILL)  // the parent dies without a word to its child
            let teardown = await HelperProcesses.waitForMarker(marker, "TEARDOWN")
            #expect(teardown?.contains("SIGTERM") == true, "\(teardown ?? "no teardown")")
            #expect(await HelperProcesses.waitForMarker(marker, "DONE") != nil)
            #expect(await HelperProcesses.waitGone(child))
            #expect(await waitLockState(domain, "free"))
        }

        @Test(
            "a guarded child forked by a thread that then ends is stopped though its parent lives; forked on the spawn thread it runs on"
        )
        func forkingThreadEnds() async throws {
            // The kernel's rule, which a run forked on a retired pool thread met (exit 143 mid-run).
            let (exposedDomain, safeDomain) = (domain, domain)
            let (exposedMarker, safeMarker) = (helpers.markerFile(), helpers.markerFile())
            let exposed = helpers.prepare(["guarded", lockDirectory.path, exposedDomain, exposedMarker, "3600"])
            let launched = Locked<(any Error)?>(nil)
            // The thread ends once the child armed its guard (a death before that is not signalled).
            let thread = Thread {
                do { try exposed.run() } catch { return launched.withLock { $0 = error } }
                for _ in 0..<300 {
                    if (try? String(contentsOfFile: exposedMarker, encoding: .utf8))?.contains("READY") == true {
                        return
                    }
                    usleep(50_000)
                }
            }
            thread.start()
            // The spawn thread, asked from a task whose pool thread may end whenever the runtime likes.
            let safe = try await helpers.start(["guarded", lockDirectory.path, safeDomain, safeMarker, "3600"])
            #expect(await HelperProcesses.waitForMarker(safeMarker, "READY")?.hasSuffix("pdeathsig=15") == true)
            #expect(launched.value == nil)

            let stopped = await HelperProcesses.waitForMarker(exposedMarker, "TEARDOWN")
            #expect(stopped?.contains("SIGTERM") == true, "the forking thread ended: \(stopped ?? "no teardown")")
            try await exposed.exit(within: .seconds(30))
            #expect(exposed.terminationStatus == 143)
            #expect(
                await HelperProcesses.waitForMarker(safeMarker, "TEARDOWN", timeout: .seconds(3)) == nil,
                "the spawn thread never ends, so its child is never told its parent died")
            #expect(safe.isRunning)
            kill(safe.processIdentifier, SIGTERM)
            try await safe.exit(within: .seconds(30))
            #expect(safe.terminationStatus == 143)
        }

        @Test("a run whose parent is already gone refuses to start")
        func orphanRefuses() async throws {
            let marker = helpers.markerFile()
            let intermediate = try await helpers.start(["spawn-orphan", marker])
            try await intermediate.exit(within: .seconds(180))
            let line = await HelperProcesses.waitForMarker(marker, "REFUSED", timeout: .seconds(20))
            #expect(line?.contains("refusing to run orphaned") == true, "\(line ?? "no verdict")")
        }

        @Test("the hard deadline tears down and exits 142, releasing the lock")
        func deadlineFunnel() async throws {
            let domain = self.domain
            let marker = helpers.markerFile()
            let process = try await helpers.start(["guarded", lockDirectory.path, domain, marker, "2"])
            #expect(await HelperProcesses.waitForMarker(marker, "READY") != nil)
            try await process.exit(within: .seconds(180))
            #expect(process.terminationStatus == 142)
            #expect(await HelperProcesses.waitForMarker(marker, "TEARDOWN")?.contains("deadline") == true)
            #expect(await HelperProcesses.waitForMarker(marker, "DONE") != nil)
            #expect(lockState(domain) == "free")
        }

        @Test("SIGTERM tears down and exits 143; a second SIGTERM during teardown is logged and ignored")
        func sigtermFunnel() async throws {
            let domain = self.domain
            let marker = helpers.markerFile()
            let process = try await helpers.start(["guarded", lockDirectory.path, domain, marker, "3600"])
            #expect(await HelperProcesses.waitForMarker(marker, "READY") != nil)
            kill(process.processIdentifier, SIGTERM)
            #expect(await HelperProcesses.waitForMarker(marker, "TEARDOWN") != nil)
            kill(process.processIdentifier, SIGTERM)
            try await process.exit(within: .seconds(180))
            #expect(process.terminationStatus == 143)
            #expect(await HelperProcesses.waitForMarker(marker, "IGNORED 15") != nil)
            #expect(await HelperProcesses.waitForMarker(marker, "DONE") != nil, "the teardown was not cut short")
            #expect(lockState(domain) == "free")
        }

        @Test("run-scoped state files are keyed by run id and pid, never by app domain")
        func stateFilesNotKeyedByDomain() throws {
            let directory = home.appending("state")
            let first = RunStateFiles(directory: directory, runID: "20261123T100000Z-web-aaaaaa", pid: 100)
            let second = RunStateFiles(directory: directory, runID: "20261123T100001Z-web-bbbbbb", pid: 101)
            for (a, b) in zip(first.all, second.all) {
                #expect(a != b)
                #expect(a.lastPathComponent.contains("20261123T100000Z-web-aaaaaa-100"))
                #expect(!a.path.contains(".ccci.test"), "no domain in \(a.path)")
            }
        }
    }
}
