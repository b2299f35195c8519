import CCCICore
import CCCIGit
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    /// `upgrade_from` (SPEC F-UPGRADE): every supported release upgraded to the head, each on an
    /// upgrade app of its own, side by side, through the running app.
    @Suite struct UpgradeChain {
        /// The chain fixture's releases: 1.0 writes schema v1, 1.1 and 1.2 migrate it to v2, and the
        /// head's migration to v3 assumes v2 — so the upgrade from 1.0 cannot work.
        static let oldest = "1.0.0+1.0"
        static let middle = "1.1.0+1.1"
        static let previous = "1.2.0+1.2"

        func packs(_ toml: String) throws -> TestPacks {
            let packs = try TestPacks()
            try packs.pack("chain", toml: "deploy_timeout = \"90s\"\nstable_for = \"2s\"\n" + toml)
            return packs
        }

        func run(
            _ harness: RunHarness, _ arguments: [String], packs: TestPacks, capacity: Int = 3
        ) async throws -> (
            CommandResult, RunResults
        ) {
            let result = try await harness.ccci(
                ["run", "chain", "--stages", "install,upgrade", "--json"] + arguments,
                extra: ["CCCI_PACKS_DIR": packs.url.path, "CCCI_CAPACITY": String(capacity)])
            return (result, try harness.results(result))
        }

        /// Every app of a run — the head's and each base's — left nothing.
        func expectNothingLeft(_ harness: RunHarness, _ domains: [String]) async throws {
            let left = try await harness.leftovers(domains)
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
        }

        @Test(
            "all-supported upgrades every release of the supported lines to the head on its own app, side by side: the oldest, whose schema the head's migration cannot read, fails the tier naming it while the others pass; previous alone passes"
        )
        func allSupportedNamesTheBaseThatFails() async throws {
            let harness = try RunHarness()
            try await harness.add("chain")

            let (failed, chain) = try await run(harness, [], packs: try packs("upgrade_from = \"all-supported\"\n"))
            #expect(failed.status == 1, "\(failed.errorOutput)")
            let upgrade = try #require(chain.tiers["upgrade"])
            #expect(upgrade.status == .fail)
            let from = try #require(upgrade.from)
            #expect(Set(from.keys) == [Self.oldest, Self.middle, Self.previous])
            #expect(from[Self.oldest]?.status == .fail)
            // The head's task exited and swarm put 1.0 back: the reason says so.
            #expect(from[Self.oldest]?.reason?.contains("swarm rolled the update back") == true, "\(from)")
            #expect(from[Self.middle]?.status == .pass && from[Self.previous]?.status == .pass, "\(from)")
            let reason = try #require(upgrade.reason)
            #expect(reason.hasPrefix("the upgrade to the head failed from \(Self.oldest) — "), "\(reason)")
            #expect(!reason.contains("failed from \(Self.middle)") && !reason.contains("failed from \(Self.previous)"))
            // Each base had an app of its own, deployed once; the newest base's is the run's upgrade app.
            let apps = Set(from.values.map(\.app))
            #expect(apps.count == 3 && !apps.contains(chain.appDomain))
            #expect(from[Self.previous]?.app == chain.upgradeAppDomain)
            #expect(chain.deployCount == 4, "the head app and three upgrade apps, each deployed fresh once")
            #expect(upgrade.checks.contains { $0.name == "from \(Self.oldest): deploy \(Self.oldest)" })
            #expect(
                upgrade.proofs.contains { $0.hasPrefix("from \(Self.middle): read through the app") },
                "\(upgrade.proofs)")
            // Side by side: the three together took far less than one after another.
            let serial = from.values.map(\.durationSeconds).reduce(0, +)
            #expect(upgrade.durationSeconds < serial * 0.8, "\(upgrade.durationSeconds) s for \(serial) s of bases")
            #expect(failed.output.contains("from \(Self.oldest)"))
            let errors = try await SchemaValidation.errors(
                ofFile: URL(fileURLWithPath: chain.artifacts.runDirectory).appendingPathComponent("results.json"))
            #expect(errors.isEmpty, "\(errors)")
            try await expectNothingLeft(harness, [chain.appDomain] + Array(apps))

            let (passed, previous) = try await run(harness, [], packs: try packs(""))
            #expect(passed.status == 0, "\(String(describing: previous.tiers["upgrade"]))")
            #expect(previous.tiers["upgrade"]?.status == .pass)
            #expect(previous.tiers["upgrade"]?.from?.keys.sorted() == [Self.previous])
            #expect(previous.tiers["upgrade"]?.checks.contains { $0.name == "marker intact" } == true)
            #expect(previous.level == 2)
            try await expectNothingLeft(harness, [previous.appDomain, previous.upgradeAppDomain].compactMap(\.self))
        }

        @Test(
            "a base release that cannot itself be deployed (its image is gone) is reported as such — the upgrade from it untested, the tier skipped, not failed — beside a base that passes"
        )
        func unavailableBase() async throws {
            let harness = try RunHarness()
            let chain = try await harness.add("chain")
            let head = try #require(chain.head)
            // A release 1.2.1 whose image no registry has any more.
            let git = Git(runner: ProcessRunner())
            let identity = [
                "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@ccci.test", "GIT_COMMITTER_NAME": "test",
                "GIT_COMMITTER_EMAIL": "test@ccci.test",
            ]
            try await git.run(["checkout", "--quiet", "-b", "gone", Self.previous], in: chain.path)
            let compose = chain.path.appendingPathComponent("compose.yml")
            try String(contentsOf: compose, encoding: .utf8)
                .replacingOccurrences(of: "ccci-lab/busybox:latest", with: "ccci-lab/gone:1.2.1")
                .replacingOccurrences(of: "version=1.2.0+1.2", with: "version=1.2.1+1.2")
                .write(to: compose, atomically: true, encoding: .utf8)
            try await git.run(
                ["commit", "--quiet", "--no-gpg-sign", "-am", "1.2.1: an image since deleted"], in: chain.path,
                environment: identity)
            try await git.run(
                ["tag", "-a", "1.2.1+1.2", "-m", "Release 1.2.1+1.2"], in: chain.path, environment: identity)
            try await git.run(["checkout", "--quiet", "main"], in: chain.path)

            let (result, unavailable) = try await run(
                harness, ["--ref", head, "--deploy-timeout", "40s"],
                packs: try packs("upgrade_from = [\"1.2.1+1.2\", \"\(Self.middle)\"]\n"))
            let upgrade = try #require(unavailable.tiers["upgrade"])
            #expect(upgrade.status == .skip, "\(upgrade)")
            #expect(upgrade.from?["1.2.1+1.2"]?.status == .unavailable, "\(String(describing: upgrade.from))")
            #expect(upgrade.from?[Self.middle]?.status == .pass)
            let reason = try #require(upgrade.reason)
            #expect(reason.contains("the base release 1.2.1+1.2 could not be deployed"), "\(reason)")
            #expect(reason.contains("not the head's failure"))
            #expect(unavailable.level == 1, "an untested upgrade earns no L2")
            #expect(result.status == 0, "no requested tier failed: \(result.errorOutput)")
            try await expectNothingLeft(
                harness, [unavailable.appDomain] + (upgrade.from?.values.map(\.app) ?? []))
        }

        @Test(
            "kill -9 while three bases are deployed: the janitor reaps every base's app and the head's, leaving nothing"
        )
        func killedRunReapsEveryBase() async throws {
            let harness = try RunHarness()
            let chain = try await harness.add("chain")
            let head = try #require(chain.head)
            let packs = try packs("upgrade_from = \"all-supported\"\n")
            let run = try await harness.start(
                ["run", "chain", "--stages", "install,upgrade"], output: harness.home.appending("out.txt"),
                extra: ["CCCI_PACKS_DIR": packs.url.path, "CCCI_CAPACITY": "3"])
            defer { if run.isRunning { kill(run.processIdentifier, SIGKILL) } }
            for base in [Self.oldest, Self.middle, Self.previous] {
                #expect(
                    await harness.waitForLog(containing: "[from \(base)] write marker: passed", timeout: .seconds(120)),
                    "base \(base) deployed")
            }
            kill(run.processIdentifier, SIGKILL)
            try await run.exit(within: .seconds(60))
            let naming = try AppNaming(ciDomain: harness.ciDomain)
            let domains =
                [naming.runAppDomain(recipe: "chain", pr: 0, ref: head)]
                + [Self.oldest, Self.middle].map {
                    naming.runAppDomain(recipe: "chain", pr: 0, ref: head, role: .upgrade, base: $0)
                } + [naming.runAppDomain(recipe: "chain", pr: 0, ref: head, role: .upgrade)]
            let deployed = try await harness.leftovers(domains.map(\.name))
            #expect(deployed.count == 4, "every app was up when the run was killed: \(deployed.keys.sorted())")
            let janitor = try await harness.ccci(["janitor"])
            #expect(janitor.status == 0, "\(janitor.output)")
            for domain in domains { #expect(janitor.output.contains("reaped \(domain.name)"), "\(janitor.output)") }
            try await expectNothingLeft(harness, domains.map(\.name))
            let interrupted = try #require(try harness.allResults().first)
            #expect(interrupted.outcome == .interrupted)
        }
    }
}

extension Integration {
    /// The resource profile (SPEC F-RESOURCES): the head app's memory and CPU, from the engine's
    /// stats stream, through the running app.
    @Suite struct ResourceProfiles {
        @Test(
            "a service that holds 64 MiB is reported within 10% of it, with its image size; a head that holds twice as much is flagged against the release that passed"
        )
        func peakMemory() async throws {
            let harness = try RunHarness()
            let chain = try await harness.add("chain")
            let release = try #require(chain.releases[Integration.UpgradeChain.previous])
            let head = try #require(chain.head)
            func run(_ ref: String) async throws -> RunResults {
                let result = try await harness.ccci([
                    "run", "chain", "--ref", ref, "--stages", "install,upgrade", "--json",
                ])
                #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
                let results = try harness.results(result)
                let log = try String(
                    contentsOf: URL(fileURLWithPath: results.artifacts.runDirectory).appendingPathComponent("run.log"),
                    encoding: .utf8)
                #expect(log.contains("resources of the head app: app: "))
                return results
            }
            let mebibyte = 1_048_576.0
            let released = try await run(release)
            let app = try #require(released.resources?.services["app"], "\(String(describing: released.resources))")
            #expect(abs(Double(app.peakRSSBytes) / mebibyte - 64) <= 6.4, "\(Double(app.peakRSSBytes) / mebibyte) MiB")
            #expect(app.samples >= 2)
            #expect((app.imageBytes ?? 0) > 0)
            #expect(released.resources?.app == released.appDomain)
            let errors = try await SchemaValidation.errors(
                ofFile: URL(fileURLWithPath: released.artifacts.runDirectory).appendingPathComponent("results.json"))
            #expect(errors.isEmpty, "\(errors)")

            let grown = try await run(head)
            let doubled = try #require(grown.resources?.services["app"])
            #expect(abs(Double(doubled.peakRSSBytes) / mebibyte - 128) <= 12.8, "\(doubled.peakRSSBytes)")
            let flagged = MemoryTrend.growth(in: [grown, released])
            #expect(flagged.map(\.service) == ["app"])
            #expect(flagged.first.map { $0.growth > 0.8 && $0.baselineRun == released.runID } == true, "\(flagged)")
            // The release against itself grew nothing.
            #expect(MemoryTrend.growth(in: [released]).isEmpty)
        }
    }
}
