import CCCICore
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Runs under stress: stopped mid-way, against the deadline, two at once (SPEC F-LOCK,
    /// F-LIFETIME, F-CAPACITY) — the real `ccci` binary on the real lab.
    @Suite struct RunsUnderStress {
        func start(
            _ harness: RunHarness, _ arguments: [String], output: URL, extra: [String: String] = [:]
        ) async throws -> Process {
            try await harness.start(arguments, output: output, extra: extra)
        }

        func waitForLog(_ harness: RunHarness, containing text: String, timeout: Duration = .seconds(60)) async -> Bool
        {
            await harness.waitForLog(containing: text, timeout: timeout)
        }

        func onlyResults(_ harness: RunHarness) throws -> RunResults {
            let runs = harness.home.appending("runs")
            let run = try #require(try FileManager.default.contentsOfDirectory(atPath: runs.path).first)
            return try JSONCoding.decoder.decode(
                RunResults.self, from: Data(contentsOf: runs.appendingPathComponent("\(run)/results.json")))
        }

        func expectNoResidue(_ harness: RunHarness, _ domains: [String]) async throws {
            let left = try await harness.leftovers(domains)
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
        }

        @Test("SIGTERM in the middle of a run: teardown, exit 143, zero residue, results say cancelled")
        func sigtermMidRun() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let output = harness.home.appending("out.txt")
            let process = try await start(harness, ["run", "web"], output: output)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            #expect(await waitForLog(harness, containing: "[install] converge: started"))
            kill(process.processIdentifier, SIGTERM)
            try await process.exit(within: .seconds(180))
            #expect(process.terminationStatus == 143)
            let text = try String(contentsOf: output, encoding: .utf8)
            #expect(text.contains("stopping: SIGTERM — tearing down"))
            let results = try onlyResults(harness)
            #expect(results.outcome == .cancelled && results.exitCode == 143)
            try await expectNoResidue(harness, [results.appDomain, results.upgradeAppDomain!])
        }

        @Test("the hard deadline cuts a run short: teardown, exit 142, zero residue")
        func deadlineMidRun() async throws {
            let harness = try RunHarness()
            try await harness.add("broken")
            let result = try await harness.ccci(["run", "broken", "--deadline", "6s", "--json"])
            #expect(result.status == 142)
            let results = try harness.results(result)
            #expect(results.outcome == .deadline)
            #expect(results.durationSeconds < 20)
            try await expectNoResidue(harness, [results.appDomain, results.upgradeAppDomain!])
        }

        @Test("two runs of different recipes at once both pass with zero residue")
        func twoRecipesAtOnce() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            try await harness.add("appdb")
            async let web = harness.ccci(["run", "web", "--json"])
            async let appdb = harness.ccci(["run", "appdb", "--json"])
            let (a, b) = try await (web, appdb)
            #expect(a.status == 0, "\(a.errorOutput)")
            #expect(b.status == 0, "\(b.errorOutput)")
            let webResults = try harness.results(a)
            let appdbResults = try harness.results(b)
            #expect(webResults.level == 5)
            #expect(appdbResults.level == 3)
            try await expectNoResidue(
                harness,
                [
                    webResults.appDomain, webResults.upgradeAppDomain!, appdbResults.appDomain,
                    appdbResults.upgradeAppDomain!,
                ])
        }

        @Test("two runs of the same domain serialise: the second says it waits, then runs; both pass")
        func sameDomainSerialises() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let firstOutput = harness.home.appending("first.txt")
            let first = try await start(harness, ["run", "web", "--stages", "install,upgrade"], output: firstOutput)
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
            #expect(await waitForLog(harness, containing: "app lock held"))
            let second = try await harness.ccci(["run", "web", "--stages", "install,upgrade"])
            try await first.exit(within: .seconds(180))
            #expect(first.terminationStatus == 0)
            #expect(second.status == 0, "\(second.output)")
            #expect(
                second.output.contains("waiting for another run of web-"),
                "the second run says it waits:\n\(second.output)")
        }

        @Test("with capacity 1 a second run waits for the node's free run slot, saying so, then runs")
        func capacityOne() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            try await harness.add("oneshot")
            let firstOutput = harness.home.appending("first.txt")
            let first = try await start(
                harness, ["run", "web", "--stages", "install"], output: firstOutput, extra: ["CCCI_CAPACITY": "1"])
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
            #expect(await waitForLog(harness, containing: "run slot 1/1 taken"))
            let second = try await harness.ccci(
                ["run", "oneshot", "--stages", "install"], extra: ["CCCI_CAPACITY": "1"])
            try await first.exit(within: .seconds(180))
            #expect(first.terminationStatus == 0)
            #expect(second.status == 0, "\(second.output)")
            #expect(second.output.contains("waiting for a free run slot (this node runs 1 at once"))
        }

        @Test("cancelling a run ends the processes it started, grandchildren included")
        func cancelEndsChildren() async throws {
            // A functional test that starts a background grandchild and then runs for minutes.
            let packs = try TemporaryDirectory("ccci-slow-pack")
            let functional = packs.appending("web/functional")
            try FileManager.default.createDirectory(at: functional, withIntermediateDirectories: true)
            let pids = packs.appending("pids")
            try """
            #!/bin/sh
            sleep 300 &
            echo "$$ $!" > \(pids.path)
            wait
            """.write(to: functional.appendingPathComponent("slow.sh"), atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: functional.appendingPathComponent("slow.sh").path)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("web")
            let output = harness.home.appending("out.txt")
            let process = try await start(harness, ["run", "web", "--stages", "install,custom"], output: output)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            let started = try await HelperProcesses.waitForPIDs(in: pids)
            #expect(started.count == 2)
            kill(process.processIdentifier, SIGTERM)
            try await process.exit(within: .seconds(180))
            #expect(process.terminationStatus == 143)
            for pid in started {
                #expect(
                    await HelperProcesses.waitGone(pid, timeout: .seconds(10)),
                    "process \(pid) outlived the cancelled run")
            }
            for pid in started where HelperProcesses.alive(pid) { kill(pid, SIGKILL) }
        }

        @Test("--keep-on-failure leaves a failed run's apps up, says how to remove them, and the janitor leaves them")
        func keepOnFailure() async throws {
            let harness = try RunHarness()
            try await harness.add("broken")
            let result = try await harness.ccci(["run", "broken", "--stages", "install", "--keep-on-failure"])
            #expect(result.status == 1)
            #expect(result.output.contains("kept for inspection (--keep-on-failure)"))
            let line = try #require(
                result.output.split(separator: "\n").first { $0.contains("remove with: ccci teardown") })
            let domain = try #require(line.split(separator: " ").last.map(String.init))
            try await TestEnvironment.withEngine { engine in
                let kept = try await harness.residue(domain, engine: engine)
                #expect(!kept.services.isEmpty, "the app is still up")
            }
            let janitor = try await harness.ccci(["janitor"])
            #expect(janitor.output.contains("\(domain) is kept (--keep-on-failure)"))
            let teardown = try await harness.ccci(["teardown", domain])
            #expect(teardown.status == 0)
            #expect(teardown.output.contains("\(domain): removed, no residue"))
        }

        @Test("two runs of the same recipe for different pull requests run side by side in separate trees")
        func sameRecipeDifferentPRs() async throws {
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let head = try #require(web.head)
            async let one = harness.ccci([
                "run", "web", "--ref", head, "--pr", "1", "--stages", "install,upgrade", "--json",
            ])
            async let two = harness.ccci([
                "run", "web", "--ref", head, "--pr", "2", "--stages", "install,upgrade", "--json",
            ])
            let (a, b) = try await (one, two)
            #expect(a.status == 0 && b.status == 0, "\(a.errorOutput)\n\(b.errorOutput)")
            let first = try harness.results(a)
            let second = try harness.results(b)
            #expect(first.appDomain != second.appDomain, "different PRs, different apps")
            #expect(first.runID != second.runID)
            #expect(!(a.output.contains("waiting for another run")) && !(b.output.contains("waiting for another run")))
            try await expectNoResidue(harness, [first.appDomain, second.appDomain])
        }
    }
}
