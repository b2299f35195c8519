import CCCICore
import CCCIStore
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

extension Integration {
    /// `ccci run` end to end on the real lab (SPEC F-RUN and its tiers).
    @Suite struct Run {
        @Test(
            "web, every stage: exit 0, level 5 with lint and a screenshot of the app, schema-valid results, junit.xml, zero residue, in `ccci results`"
        )
        func webFullRun() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let result = try await harness.ccci(["run", "web"])
            #expect(result.status == 0, "ccci run web failed:\n\(result.output)\n\(result.errorOutput)")
            // The human report: a table with every tier and the level.
            for tier in Tier.allCases.map(\.rawValue) {
                #expect(
                    result.output.contains("  \(tier.padding(toLength: 10, withPad: " ", startingAt: 0)) pass"),
                    "\(tier) row")
            }
            #expect(result.output.contains("level 5 (ladder/2)"))
            let line = try #require(result.output.split(separator: "\n").first { $0.contains("artifacts: ") })
            let runDirectory = URL(fileURLWithPath: String(line.split(separator: " ")[1].dropLast()))
            let resultsFile = runDirectory.appendingPathComponent("results.json")
            let errors = try await SchemaValidation.errors(ofFile: resultsFile)
            #expect(errors.isEmpty, "\(errors)")
            let results = try JSONCoding.decoder.decode(RunResults.self, from: Data(contentsOf: resultsFile))
            #expect(results.level == 5)
            #expect(results.outcome == .pass && results.exitCode == 0)
            #expect(results.deployCount == 2)
            // L5: lint ran over the head (its warnings reported, one check per rule) and the
            // screenshot is a picture of the app.
            let lint = try #require(results.tiers["lint"])
            #expect(lint.checks.first { $0.name == "lint" }?.message == "0 errors, 2 warnings")
            #expect(lint.checks.contains { $0.name.hasPrefix("R004 ") && $0.message?.contains("latest") == true })
            #expect(FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent("lint.json").path))
            #expect(results.artifacts.screenshot == "screenshot.png")
            let picture = try Data(contentsOf: runDirectory.appendingPathComponent("screenshot.png"))
            #expect(picture.starts(with: [0x89, 0x50, 0x4E, 0x47]) && picture.count > 5000, "a PNG of the page")
            #expect(
                FileManager.default.contents(atPath: runDirectory.appendingPathComponent("tiers/screenshot.log").path)
                    != nil)
            #expect(result.output.contains("title \"web fixture\""), "the page the browser saw is the app's")
            // The browsers' homes (their certificate databases, profiles) went with them.
            let state = try FileManager.default.contentsOfDirectory(
                atPath: runDirectory.appendingPathComponent("state").path)
            #expect(!state.contains { $0.hasPrefix("browser-") || $0.hasPrefix("screenshot-browser") }, "\(state)")
            // The data proofs went through the running apps, and the report says so.
            #expect(results.tiers["upgrade"]?.proofs.contains("read through the app (service app at /var/www)") == true)
            #expect(results.tiers["restore"]?.proofs.contains("read through the app (service app at /var/www)") == true)
            #expect(result.output.contains("  upgrade    data: read through the app (service app at /var/www)"))
            #expect(results.baseVersion == "1.2.0+1.36.1")
            #expect(results.headVersion == "1.3.0+1.36.1")
            #expect(
                results.tiers["custom"]?.checks.contains { $0.name.contains("homepage.sh") && $0.status == .pass }
                    == true)
            #expect(
                results.tiers["custom"]?.checks.contains { $0.name.contains("test_site.py") && $0.status == .pass }
                    == true)
            let junit = try Data(contentsOf: runDirectory.appendingPathComponent("junit.xml"))
            #expect(XMLParser(data: junit).parse(), "junit.xml is well-formed")
            #expect(String(decoding: junit, as: UTF8.self).contains("<testsuite name=\"install\""))
            #expect(
                String(decoding: junit, as: UTF8.self).contains(
                    "[[ATTACHMENT|\(runDirectory.path)/screenshot.png]]"))
            for log in ["run.log", "tiers/install.log", "tiers/upgrade.log", "tiers/backup.log", "tiers/restore.log"] {
                #expect(FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent(log).path), "\(log)")
            }
            try await TestEnvironment.withEngine { engine in
                for domain in [results.appDomain, results.upgradeAppDomain!] {
                    let left = try await harness.residue(domain, engine: engine)
                    #expect(left.isEmpty, "\(domain) left \(left.summary)")
                }
            }
            let history = try await harness.ccci(["results", "--json", "--recipe", "web"])
            let runs = try JSONCoding.decoder.decode([JSONValue].self, from: Data(history.output.utf8))
            #expect(runs.first?["run_id"]?.stringValue == results.runID)
            #expect(runs.first?["level"] == 5)
        }

        @Test(
            "L5 fails for its reasons: lint errors name their rules (the deploy still runs); a blank page, an error page and a selector that never shows fail the screenshot; exit 1, nothing left"
        )
        func levelFiveFailures() async throws {
            // The CI packs, with web's screenshot pointed at a page that does not exist.
            let packs = try TestEnvironment.copyOfPacks()
            let webPack = packs.appending("web/ccci.toml")
            let original = try String(contentsOf: webPack, encoding: .utf8)
            try (original + "\nscreenshot = { path = \"/no-such-page\" }\n").write(
                to: webPack, atomically: true, encoding: .utf8)
            let harness = try RunHarness(packs: packs.url)
            for name in ["lintbad", "blank", "web"] { try await harness.add(name) }

            let lintbad = try await harness.ccci(["run", "lintbad", "--stages", "lint,install", "--json"])
            #expect(lintbad.status == 1, "\(lintbad.errorOutput)")
            let linted = try harness.results(lintbad)
            let lint = try #require(linted.tiers["lint"])
            #expect(lint.status == .fail)
            #expect(
                lint.reason?.contains("C004") == true && lint.reason?.contains("R014") == true, "\(lint.reason ?? "")")
            #expect(lint.checks.contains { $0.name.hasPrefix("R014 ") && $0.status == .fail })
            #expect(linted.tiers["install"]?.status == .pass, "lint errors do not stop the deploy")
            #expect(linted.level == 1)

            let blank = try await harness.ccci(["run", "blank", "--stages", "install,screenshot", "--json"])
            #expect(blank.status == 1, "\(blank.errorOutput)")
            let blankResults = try harness.results(blank)
            let blankShot = try #require(blankResults.tiers["screenshot"])
            #expect(blankShot.status == .fail)
            #expect(blankShot.reason?.contains("the page is blank") == true, "\(blankShot.reason ?? "")")
            #expect(blankShot.reason?.contains("#ffffff") == true)
            #expect(blankResults.tiers["install"]?.status == .pass && blankResults.level == 1)

            let missing = try await harness.ccci(["run", "web", "--stages", "install,screenshot", "--json"])
            #expect(missing.status == 1, "\(missing.errorOutput)")
            let missingResults = try harness.results(missing)
            let missingShot = try #require(missingResults.tiers["screenshot"])
            #expect(missingShot.status == .fail)
            // The script's own report, read as such (not its text in a failure to read one).
            #expect(
                missingShot.reason == "screenshot of /no-such-page: the page is an error: HTTP 404",
                "\(missingShot.reason ?? "")")

            try (original + "\nscreenshot = { selector = \"#never-there\" }\n").write(
                to: webPack, atomically: true, encoding: .utf8)
            let unseen = try await harness.ccci(["run", "web", "--stages", "install,screenshot", "--json"])
            #expect(unseen.status == 1, "\(unseen.errorOutput)")
            let unseenResults = try harness.results(unseen)
            let unseenShot = try #require(unseenResults.tiers["screenshot"])
            #expect(
                unseenShot.reason == "screenshot of /: the page never showed selector `#never-there` within 20 s",
                "\(unseenShot.reason ?? "")")

            // Text is waited for as the page renders it (whitespace folded, case ignored): the
            // heading's text passes, text the page never shows fails, though the selector shows.
            try (original + "\nscreenshot = { selector = \"h1\", text = \"WEB   fixture\" }\n").write(
                to: webPack, atomically: true, encoding: .utf8)
            let shown = try await harness.ccci(["run", "web", "--stages", "install,screenshot", "--json"])
            #expect(shown.status == 0, "\(shown.errorOutput)")
            let shownResults = try harness.results(shown)
            #expect(
                shownResults.tiers["screenshot"]?.status == .pass, "\(shownResults.tiers["screenshot"]?.reason ?? "")")
            try (original + "\nscreenshot = { selector = \"h1\", text = \"not on the page\" }\n").write(
                to: webPack, atomically: true, encoding: .utf8)
            let unread = try await harness.ccci(["run", "web", "--stages", "install,screenshot", "--json"])
            let unreadResults = try harness.results(unread)
            #expect(
                unreadResults.tiers["screenshot"]?.reason
                    == "screenshot of /: the page never showed selector `h1` and text `not on the page` within 20 s",
                "\(unreadResults.tiers["screenshot"]?.reason ?? "")")

            try await TestEnvironment.withEngine { engine in
                for domain in [
                    linted.appDomain, blankResults.appDomain, missingResults.appDomain, unseenResults.appDomain,
                    shownResults.appDomain, unreadResults.appDomain,
                ] {
                    let left = try await harness.residue(domain, engine: engine)
                    #expect(left.isEmpty, "\(domain) left \(left.summary)")
                }
            }
        }

        @Test(
            "a run on a node whose store is PostgreSQL records its results there and keeps its files for every node's pages"
        )
        func sharedStore() async throws {
            let cluster = try await PostgresCluster.shared()
            let location = cluster.location(database: try await cluster.createDatabase())
            let harness = try RunHarness()
            try await harness.add("web")
            let url =
                "postgres://\(location.user)@\(location.host):\(location.port)/\(location.database)?sslmode=disable"
            let shared: [String: String?] = ["CCCI_STORE": url, "CCCI_STORE_PASSWORD_FILE": location.passwordFile]
            let result = try await harness.ccci(["run", "web", "--stages", "install", "--json"], extra: shared)
            #expect(result.status == 0, "\(result.errorOutput)")
            let results = try harness.results(result)
            // Another node of the same store: it has none of the run's directories.
            var other = try harness.config()
            other.store = .postgres(location)
            other.node = "node-b"
            let otherHome = try TemporaryDirectory("ccci-other-node")
            other.home = otherHome.url
            let store = try await Store.open(other)
            #expect(try await store.results(runID: results.runID)?.outcome == .pass)
            #expect(try await store.recipeStatus("web")?.latest.runID == results.runID)
            let pages = Store.artifacts(other, store: store)
            #expect(await pages.read("results.json", of: results.runID) != nil)
            #expect(await pages.read("junit.xml", of: results.runID) != nil)
            let log = String(decoding: await pages.log(of: results.runID, from: 0) ?? Data(), as: UTF8.self)
            #expect(log.contains("run \(results.runID) finished: pass"), "\(log.suffix(400))")
            let listed = try await harness.ccci(["results", "--recipe", "web"], extra: shared)
            #expect(listed.status == 0 && listed.output.contains(results.runID), "\(listed.errorOutput)")
        }

        @Test(
            "a node that cannot take screenshots skips the tier, saying why — not the recipe's failure, and no L5; a chromium that does not start fails it"
        )
        func screenshotUnavailable() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let result = try await harness.ccci(
                ["run", "web", "--stages", "install,lint,screenshot", "--json"],
                extra: ["CCCI_CHROMIUM": "/nonexistent/chromium"])
            #expect(result.status == 0, "\(result.errorOutput)")
            let results = try harness.results(result)
            let screenshot = try #require(results.tiers["screenshot"])
            #expect(screenshot.status == .skip)
            #expect(
                screenshot.reason == "this node cannot take screenshots: no chromium at /nonexistent/chromium "
                    + "(apt-get install chromium, or set CCCI_CHROMIUM)")
            #expect(results.artifacts.screenshot == nil && results.level == 1)

            // A chromium that is there but does not start fails the tier, saying so.
            let broken = try await harness.ccci(
                ["run", "web", "--stages", "install,screenshot", "--json"], extra: ["CCCI_CHROMIUM": "/bin/false"])
            let brokenShot = try #require(try harness.results(broken).tiers["screenshot"])
            #expect(brokenShot.status == .fail)
            #expect(
                brokenShot.reason?.hasPrefix("screenshot of /: chromium does not start: chromium exited") == true,
                "\(brokenShot.reason ?? "")")
        }

        @Test(
            "a chromium whose process dies under the picture gets one more try, and the tier says so; one that dies every time fails, saying it had two"
        )
        func screenshotBrowserGone() async throws {
            // The picture waits 3 s after the page is there; the browser is killed 1.5 s in.
            let packs = try TestEnvironment.copyOfPacks()
            let webPack = packs.appending("web/ccci.toml")
            try (try String(contentsOf: webPack, encoding: .utf8) + "\nscreenshot = { wait = \"3s\" }\n").write(
                to: webPack, atomically: true, encoding: .utf8)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("web")
            let bin = try TemporaryDirectory("ccci-dying-chromium")
            /// A chromium that is SIGKILLed 1.5 s after it starts: the first time only, or always.
            func dying(once: Bool) throws -> String {
                let path = bin.url.appendingPathComponent(once ? "dies-once" : "dies-always").path
                try """
                #!/bin/sh
                \(once ? "[ -e \"$0.died\" ] && exec /usr/bin/chromium \"$@\"\n: > \"$0.died\"" : "")
                /usr/bin/chromium "$@" &
                sleep 1.5
                kill -9 $!
                wait $!
                """.write(toFile: path, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
                return path
            }
            let once = try await harness.ccci(
                ["run", "web", "--stages", "install,screenshot", "--json"],
                extra: ["CCCI_CHROMIUM": try dying(once: true)])
            #expect(once.status == 0, "\(once.errorOutput)")
            let onceResults = try harness.results(once)
            #expect(onceResults.tiers["screenshot"]?.status == .pass)
            let log = try String(
                contentsOf: URL(fileURLWithPath: onceResults.artifacts.runDirectory).appendingPathComponent(
                    "tiers/screenshot.log"), encoding: .utf8)
            #expect(log.contains("screenshot: the browser went away under it ("), "\(log)")
            #expect(log.contains("— on a second try: the browser went away under the first (chromium exited (status "))

            let always = try await harness.ccci(
                ["run", "web", "--stages", "install,screenshot", "--json"],
                extra: ["CCCI_CHROMIUM": try dying(once: false)])
            #expect(always.status == 1)
            let alwaysResults = try harness.results(always)
            let shot = try #require(alwaysResults.tiers["screenshot"])
            #expect(shot.status == .fail)
            #expect(
                shot.reason?.contains(
                    "chromium exited (status 137) — on a second try: the browser went away under the first (chromium exited (status 137))"
                ) == true, "\(shot.reason ?? "")")
            try await TestEnvironment.withEngine { engine in
                for domain in [onceResults.appDomain, alwaysResults.appDomain] {
                    let left = try await harness.residue(domain, engine: engine)
                    #expect(left.isEmpty, "\(domain) left \(left.summary)")
                }
            }
        }

        @Test("a recipe given as a git URL runs like a catalogue name; --ref picks the commit under test")
        func recipeByURLAndRef() async throws {
            let harness = try RunHarness()
            let web = try await harness.add("web")
            let release = try #require(web.releases["1.1.0+1.35.0"])
            let result = try await harness.ccci([
                "run", "file://\(web.path.path)", "--ref", release, "--stages", "install,upgrade", "--json",
            ])
            #expect(result.status == 0, "\(result.errorOutput)")
            let results = try harness.results(result)
            #expect(results.recipe == "web")
            #expect(results.headCommit == release)
            #expect(results.headVersion == "1.1.0+1.35.0")
            #expect(results.baseVersion == "1.0.0+1.35.0", "the head is a release: the upgrade starts one step back")
        }

        @Test("usage errors exit 2 and deploy nothing: an unknown recipe, an unknown ref, a bad stage")
        func usageErrors() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            let unknown = try await harness.ccci(["run", "no-such-recipe"])
            #expect(unknown.status == 2)
            #expect(unknown.errorOutput.contains("no recipe 'no-such-recipe'"))
            let ref = try await harness.ccci(["run", "web", "--ref", "0123456789abcdef0123456789abcdef01234567"])
            #expect(ref.status == 2)
            #expect(ref.errorOutput.contains("is not a commit of recipe web"))
            let stage = try await harness.ccci(["run", "web", "--stages", "install,upgrde"])
            #expect(stage.status != 0)
            #expect(stage.errorOutput.contains("did you mean `upgrade`?"))
            let config = try harness.config()
            #expect(!FileManager.default.fileExists(atPath: config.envDirectory.path), "no app was created")
        }

        @Test("broken: exit 1, install fails with the convergence explanation, service logs kept, zero residue")
        func brokenRun() async throws {
            let harness = try RunHarness()
            try await harness.add("broken")
            let result = try await harness.ccci(["run", "broken", "--json"])
            #expect(result.status == 1)
            let results = try harness.results(result)
            #expect(results.outcome == .fail)
            let install = try #require(results.tiers["install"])
            #expect(install.status == .fail)
            #expect(install.reason?.contains("did not converge within 20s") == true, "\(install.reason ?? "")")
            #expect(install.reason?.contains("_app") == true, "names the service")
            #expect(results.tiers["backup"]?.status == .skip)
            #expect(!results.artifacts.serviceLogs.isEmpty)
            for log in results.artifacts.serviceLogs {
                let text = try String(contentsOfFile: "\(results.artifacts.runDirectory)/\(log)", encoding: .utf8)
                #expect(text.contains("## tasks"), "task states are kept")
                #expect(text.contains("unhealthy container"), "with the error that failed them: \(text)")
            }
            let schemaErrors = try await SchemaValidation.errors(of: try results.encoded())
            #expect(schemaErrors.isEmpty, "\(schemaErrors)")
            try await TestEnvironment.withEngine { engine in
                let left = try await harness.residue(results.appDomain, engine: engine)
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test("consumer: provider deployed first and torn down after; its test uses the handed-over credentials")
        func consumerWithProvider() async throws {
            // The CI packs, plus a test that prints the handed-over secret (as a careless test might).
            let packs = try TestEnvironment.copyOfPacks()
            let leak = packs.appending("consumer/functional/leak.sh")
            try FileManager.default.createDirectory(
                at: leak.deletingLastPathComponent(), withIntermediateDirectories: true)
            try """
            #!/bin/sh
            # ccci-requires: provider
            secret=$(python3 -c 'import json,os; print(json.load(open(os.environ["CCCI_DEPS_FILE"]))["provider"]["credentials"]["client_secret"])')
            echo "1..1"
            echo "# the secret is $secret"
            echo "ok 1 - printed the secret"
            """.write(to: leak, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: leak.path)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("consumer")
            try await harness.add("provider")
            let result = try await harness.ccci(["run", "consumer", "--json"])
            #expect(result.status == 0, "\(result.errorOutput)")
            let results = try harness.results(result)
            let custom = try #require(results.tiers["custom"])
            #expect(custom.status == .pass, "\(custom.reason ?? "")")
            for check in [
                "consumer fetched the provider's discovery document", "consumer holds the provisioned client id",
                "token granted with the client secret",
            ] {
                #expect(custom.checks.contains { $0.name.contains(check) && $0.status == .pass }, "\(check)")
            }
            #expect(results.level == 5, "consumer declares backup/restore n/a, so the ladder continues")
            #expect(results.tiers["upgrade"]?.status == .pass, "the upgrade app is wired the same way")
            // The manifest says where each wired value came from, never the values.
            #expect(
                results.manifest.inputs == [
                    "env.OIDC_PROVIDER": "deps.provider.url", "env.OIDC_CLIENT_ID": "deps.provider.creds.client_id",
                    "secret.client_secret": "deps.provider.creds.client_secret", "env.OIDC_SCOPES": "pre_deploy",
                    "secret.session_key": "pre_deploy",
                ])
            #expect(results.manifest.meta["extra_secrets"]?.value["client_secret"] == .string(Redaction.mask))
            let log = try String(contentsOfFile: "\(results.artifacts.runDirectory)/run.log", encoding: .utf8)
            let lines = log.split(separator: "\n").map(String.init)
            let providerReady = try #require(lines.firstIndex { $0.contains("dependency provider ready") })
            let headCreated = try #require(lines.firstIndex { $0.contains("[install] create app: started") })
            let headRemoved = try #require(lines.firstIndex { $0.contains("teardown: head app") })
            let providerRemoved = try #require(lines.firstIndex { $0.contains("teardown: dependency provider") })
            #expect(providerReady < headCreated, "the provider is ready before the consumer is created")
            #expect(headRemoved < providerRemoved, "the provider is torn down after the consumer")
            // Secrets never stay in the run directory: the deps file and the test's log are masked.
            let state = "\(results.artifacts.runDirectory)/state"
            let depsFile = try #require(
                try FileManager.default.contentsOfDirectory(atPath: state).first { $0.hasPrefix("deps-") })
            let deps = try JSONCoding.decoder.decode(
                JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: "\(state)/\(depsFile)")))
            #expect(deps["provider"]?["credentials"]?["client_secret"] == .string(Redaction.mask))
            let leakLog = try #require(
                try FileManager.default.contentsOfDirectory(atPath: "\(results.artifacts.runDirectory)/tiers").first {
                    $0.contains("leak.sh")
                })
            let printed = try String(
                contentsOfFile: "\(results.artifacts.runDirectory)/tiers/\(leakLog)", encoding: .utf8)
            #expect(printed.contains("# the secret is \(Redaction.mask)"), "\(printed)")
            try await TestEnvironment.withEngine { engine in
                let naming = try AppNaming(ciDomain: harness.ciDomain)
                let providerDomain = naming.runAppDomain(
                    recipe: "provider", pr: 0, ref: "\(results.headCommit)|dep:consumer")
                let providerLeft = try await harness.residue(providerDomain.name, engine: engine)
                let consumerLeft = try await harness.residue(results.appDomain, engine: engine)
                #expect(
                    providerLeft.isEmpty && consumerLeft.isEmpty, "\(providerLeft.summary) / \(consumerLeft.summary)")
            }
        }

        @Test(
            "a provider that does not converge: consumer's tiers are skipped with the dependency's reason, exit 1, nothing left"
        )
        func consumerProviderUnavailable() async throws {
            // A catalogue whose "provider" never becomes healthy, with a short deploy timeout.
            let packs = try TemporaryDirectory("ccci-packs")
            try FileManager.default.createDirectory(at: packs.appending("provider"), withIntermediateDirectories: true)
            try "deploy_timeout = \"5s\"\n".write(
                to: packs.appending("provider/ccci.toml"), atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(
                at: TestEnvironment.packsRoot.appendingPathComponent("consumer"), to: packs.appending("consumer"))
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("consumer")
            try await harness.add("broken", as: "provider")
            let result = try await harness.ccci(["run", "consumer", "--json", "--stages", "install,custom"])
            #expect(result.status == 1, "\(result.errorOutput)")
            let results = try harness.results(result)
            for tier in ["install", "custom"] {
                let verdict = try #require(results.tiers[tier])
                #expect(verdict.status == .skip)
                #expect(verdict.reason?.hasPrefix("dependency provider failed: ") == true, "\(verdict.reason ?? "")")
            }
            #expect(results.outcome == .fail && results.level == 0)
            #expect(results.deployCount == 0, "consumer itself is never deployed")
            try await expectNothingLeft(results, harness: harness)
        }

        @Test(
            "a provider whose provision hook fails fails the dependency: consumer's tiers say so, exit 1, nothing left")
        func provisionFails() async throws {
            let packs = try TestEnvironment.copyOfPacks()
            let hook = packs.appending("provider/hooks/provision.sh")
            try "#!/bin/sh\necho 'the admin API said no' >&2\nexit 3\n".write(
                to: hook, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("consumer")
            try await harness.add("provider")
            let result = try await harness.ccci(["run", "consumer", "--json", "--stages", "install"])
            #expect(result.status == 1, "\(result.errorOutput)")
            let results = try harness.results(result)
            let install = try #require(results.tiers["install"])
            #expect(install.status == .skip)
            #expect(install.reason?.contains("dependency provider failed: hook hooks/provision.sh exited 3") == true)
            #expect(install.reason?.contains("the admin API said no") == true, "\(install.reason ?? "")")
            try await expectNothingLeft(results, harness: harness)
        }

        @Test(
            "a placeholder no dependency provides ends the run as a configuration error (exit 2) naming the known facts; nothing left"
        )
        func unknownFact() async throws {
            let packs = try TestEnvironment.copyOfPacks()
            let pack = packs.appending("consumer/ccci.toml")
            try
                (try String(contentsOf: pack, encoding: .utf8)
                + "upgrade_extra_env = { OIDC_AUDIENCE = \"{{deps.provider.creds.audience}}\" }\n").write(
                    to: pack, atomically: true, encoding: .utf8)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("consumer")
            try await harness.add("provider")
            let result = try await harness.ccci(["run", "consumer", "--json", "--stages", "install,upgrade"])
            #expect(result.status == 2, "\(result.errorOutput)")
            let results = try harness.results(result)
            let reason = try #require(results.tiers["install"]?.reason)
            #expect(reason.contains("`upgrade_extra_env.OIDC_AUDIENCE` uses `{{deps.provider.creds.audience}}`"))
            #expect(
                reason.contains("{{deps.provider.creds.client_secret}}") && reason.contains("{{deps.provider.url}}"))
            #expect(results.outcome == .error)
            try await expectNothingLeft(results, harness: harness)
        }

        @Test("a dependency cycle is exit 2 naming the cycle, before anything is deployed")
        func dependencyCycle() async throws {
            let packs = try TestEnvironment.copyOfPacks()
            let pack = packs.appending("provider/ccci.toml")
            try (try String(contentsOf: pack, encoding: .utf8) + "dependencies = [\"consumer\"]\n").write(
                to: pack, atomically: true, encoding: .utf8)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("consumer")
            try await harness.add("provider")
            let result = try await harness.ccci(["run", "consumer"])
            #expect(result.status == 2)
            #expect(
                (result.output + result.errorOutput).contains("dependency cycle: consumer → provider → consumer"),
                "\(result.output)\(result.errorOutput)")
        }

        @Test(
            "stopped while consumer is being wired: SIGTERM tears consumer down before its provider; after SIGKILL the janitor reaps the provider"
        )
        func dependencyTeardownOnStops() async throws {
            // consumer's pre_deploy hook says it started, then takes its time.
            let packs = try TestEnvironment.copyOfPacks()
            let marker = packs.appending("pre-deploy-started")
            let hook = packs.appending("consumer/hooks/pre_deploy.sh")
            try "#!/bin/sh\necho \"$$\" > \(marker.path)\nsleep 120\n".write(
                to: hook, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
            let harness = try RunHarness(packs: packs.url)
            try await harness.add("consumer")
            try await harness.add("provider")

            let terminated = try await harness.start(
                ["run", "consumer", "--stages", "install"], output: harness.home.appending("sigterm.out"))
            defer { if terminated.isRunning { kill(terminated.processIdentifier, SIGKILL) } }
            _ = try await HelperProcesses.waitForPIDs(in: marker)
            kill(terminated.processIdentifier, SIGTERM)
            try await terminated.exit(within: .seconds(120))
            #expect(terminated.terminationStatus == 143)
            let stopped = try #require(try harness.allResults().first)
            let log = try String(contentsOfFile: "\(stopped.artifacts.runDirectory)/run.log", encoding: .utf8)
            let lines = log.split(separator: "\n").map(String.init)
            let headRemoved = try #require(lines.firstIndex { $0.contains("teardown: head app") })
            let providerRemoved = try #require(lines.firstIndex { $0.contains("teardown: dependency provider") })
            #expect(headRemoved < providerRemoved, "the provider is torn down after its dependent")
            try await expectNothingLeft(stopped, harness: harness)

            try FileManager.default.removeItem(at: marker)
            let killed = try await harness.start(
                ["run", "consumer", "--stages", "install"], output: harness.home.appending("sigkill.out"))
            defer { if killed.isRunning { kill(killed.processIdentifier, SIGKILL) } }
            let hookPIDs = try await HelperProcesses.waitForPIDs(in: marker)
            defer { for pid in hookPIDs where HelperProcesses.alive(pid) { kill(pid, SIGKILL) } }
            kill(killed.processIdentifier, SIGKILL)
            try await killed.exit(within: .seconds(60))
            let janitor = try await harness.ccci(["janitor"])
            #expect(janitor.status == 0, "\(janitor.output)")
            let interrupted = try #require(try harness.allResults().first { $0.runID != stopped.runID })
            #expect(interrupted.outcome == .interrupted)
            try await expectNothingLeft(interrupted, harness: harness)
        }

        /// Neither the consumer's apps nor its provider left anything.
        func expectNothingLeft(_ results: RunResults, harness: RunHarness) async throws {
            try await TestEnvironment.withEngine { engine in
                let naming = try AppNaming(ciDomain: harness.ciDomain)
                let provider = naming.runAppDomain(recipe: "provider", pr: 0, ref: "\(results.headCommit)|dep:consumer")
                for domain in [results.appDomain, results.upgradeAppDomain, provider.name].compactMap(\.self) {
                    let left = try await harness.residue(domain, engine: engine)
                    #expect(left.isEmpty, "\(domain) left \(left.summary)")
                }
            }
        }
    }
}
