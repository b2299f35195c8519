import CCCICore
import CCCILab
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    /// The production image path against the lab's real registries (SPEC F-PREPULL): every image
    /// pulled before the deploy, pinned to the digest pulled, a private one with the node's login;
    /// a failure says whose it is — the recipe's or the node's — in the registry's own words.
    @Suite struct Registry {
        /// The lab's registries, as `scripts/lab up` left them.
        static func lab() throws -> LabRegistry {
            let config = try NodeConfig.load()
            return LabRegistry(labDirectory: config.labDirectory, caCertificate: config.labCACertificate)
        }

        /// Points the head of catalogue recipe `recipe` at `image` (a PR that changes the tag).
        func retag(_ harness: RunHarness, _ recipe: String, image: String) async throws {
            let repository = harness.catalogue.appendingPathComponent(recipe)
            let compose = repository.appendingPathComponent("compose.yml")
            let text = try String(contentsOf: compose, encoding: .utf8)
            try text.replacingOccurrences(of: "image: ccci-lab/busybox:latest", with: "image: \(image)")
                .write(to: compose, atomically: true, encoding: .utf8)
            let runner = ProcessRunner()
            for arguments in [["add", "-A"], ["commit", "-q", "-m", "PR: use \(image)"]] {
                try await runner.checked(
                    Command(
                        "git", ["-C", repository.path] + arguments,
                        environment: [
                            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t",
                        ]))
            }
        }

        func run(_ harness: RunHarness, extra: [String: String?]) async throws -> (CommandResult, RunResults) {
            let result = try await harness.ccci(
                ["run", "web", "--stages", "install", "--json"],
                extra: extra.merging(["CCCI_IMAGE_POLICY": "pull"]) { a, _ in a })
            return (result, try harness.results(result))
        }

        @Test(
            "a PR naming a tag the registry lacks fails install at the deploy step, naming the tag: the recipe's failure"
        )
        func missingTagIsTheRecipes() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            try await retag(harness, "web", image: "ccci-lab/busybox:no-such-tag")
            let (result, results) = try await run(harness, extra: [:])
            #expect(result.status == 1)
            let install = try #require(results.tiers["install"])
            #expect(install.status == .fail)
            let reason = install.reason ?? ""
            #expect(reason.contains("image ccci-lab/busybox:no-such-tag (service app)"), "\(reason)")
            #expect(reason.contains("the recipe's failure"), "\(reason)")
            #expect(reason.contains("\(LabRegistry.mirrorHost) answered MANIFEST_UNKNOWN"), "\(reason)")
            #expect(install.checks.first { $0.name == "deploy" }?.status == .fail)
            #expect(results.deployCount == 0 || results.manifest.images.isEmpty)
            let left = try await harness.leftovers([results.appDomain])
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
        }

        @Test("a registry that does not answer is the node's failure, not the recipe's")
        func registryDownIsTheNodes() async throws {
            let harness = try RunHarness()
            try await harness.add("web")
            try await retag(harness, "web", image: "127.0.0.1:5999/ccci/nothing:1.0")
            let (result, results) = try await run(harness, extra: [:])
            #expect(result.status == 1)
            let reason = results.tiers["install"]?.reason ?? ""
            #expect(reason.contains("the node's failure, not the recipe's"), "\(reason)")
            #expect(reason.contains("127.0.0.1:5999 answered unreachable (connection refused)"), "\(reason)")
        }

        @Test(
            "a private image pulls with the node's login and fails without it; the digest recorded is the one pulled; no log holds the password"
        )
        func privateImage() async throws {
            let lab = try Self.lab()
            let password = try String(
                contentsOf: lab.directory.appendingPathComponent("private/password"), encoding: .utf8
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            let image = "\(LabRegistry.privateHost)/ccci/private-busybox:\(TestEnvironment.randomHex(6))"
            // Pushed with the lab's login, then untagged here: the run must pull it.
            let configDirectory = try TemporaryDirectory("ccci-docker-config")
            try FileManager.default.copyItem(at: lab.authFile, to: configDirectory.appending("config.json"))
            let runner = ProcessRunner()
            try await runner.checked(Command("docker", ["tag", "ccci-lab/busybox:latest", image]))
            try await runner.checked(
                Command("docker", ["push", "--quiet", image], environment: ["DOCKER_CONFIG": configDirectory.url.path]))
            try await runner.checked(Command("docker", ["image", "rm", image]))

            let harness = try RunHarness()
            try await harness.add("web")
            try await retag(harness, "web", image: image)

            let (refused, refusedResults) = try await run(harness, extra: ["CCCI_REGISTRY_AUTH": nil])
            #expect(refused.status == 1)
            let reason = refusedResults.tiers["install"]?.reason ?? ""
            #expect(reason.contains("the node's failure, not the recipe's"), "\(reason)")
            #expect(
                reason.contains("\(LabRegistry.privateHost) asks for credentials the node does not have"), "\(reason)")

            let (pulled, results) = try await run(harness, extra: ["CCCI_REGISTRY_AUTH": lab.authFile.path])
            #expect(pulled.status == 0, "\(results.tiers["install"]?.reason ?? pulled.errorOutput)")
            let recorded = try #require(results.manifest.images.first { $0.service == "app" })
            #expect(recorded.app == "head")
            #expect(recorded.image == image)
            #expect(recorded.source == "pulled from \(LabRegistry.privateHost)")
            let inspect = try await runner.checked(
                Command("docker", ["image", "inspect", "--format", "{{json .RepoDigests}} {{.Id}}", image]))
            let familiar = String(image[..<image.lastIndex(of: ":")!])
            #expect(inspect.output.contains("\(familiar)@\(try #require(recorded.digest))"), "\(inspect.output)")
            #expect(inspect.output.contains(recorded.id))

            // The password is in no file either run wrote.
            let runs = harness.home.appending("runs")
            let enumerator = FileManager.default.enumerator(atPath: runs.path)
            var files = 0
            while let relative = enumerator?.nextObject() as? String {
                guard let data = FileManager.default.contents(atPath: runs.appendingPathComponent(relative).path)
                else { continue }
                files += 1
                #expect(!String(decoding: data, as: UTF8.self).contains(password), "\(relative) holds the password")
            }
            #expect(files > 4)
            #expect(!pulled.output.contains(password) && !pulled.errorOutput.contains(password))
            _ = try? await runner.run(Command("docker", ["image", "rm", image]))
            let left = try await harness.leftovers([results.appDomain])
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
        }

        @Test(
            "lemp, a real recipe, runs unmodified on look-alikes pulled through the mirror: nginx → php-fpm → mariadb")
        func realRecipeLemp() async throws {
            let harness = try RunHarness()
            // The catalogue copy `scripts/lab up` cloned from Fixtures/upstream/lemp/repo.bundle.
            try await ProcessRunner().checked(
                Command(
                    "git",
                    [
                        "clone", "--quiet", "--branch", "main",
                        TestEnvironment.fixturesRoot.deletingLastPathComponent()
                            .appendingPathComponent("upstream/lemp/repo.bundle").path,
                        harness.catalogue.appendingPathComponent("lemp").path,
                    ]))
            let result = try await harness.ccci(
                ["run", "lemp", "--json"], extra: ["CCCI_IMAGE_POLICY": "pull"])
            let results = try harness.results(result)
            #expect(result.status == 0, "\(results.tiers.mapValues { $0.reason ?? "" })")
            #expect(results.tiers["install"]?.status == .pass)
            #expect(results.tiers["upgrade"]?.status == .na)
            #expect(results.tiers["backup"]?.status == .na)
            #expect(
                Set(results.manifest.images.map(\.image))
                    == ["nginx:1.19.2", "php:8.0-fpm-alpine3.13", "mariadb:10.6"])
            #expect(
                results.manifest.images.allSatisfy { $0.digest != nil && $0.source.contains(LabRegistry.mirrorHost) })
            let left = try await harness.leftovers([results.appDomain])
            #expect(left.isEmpty, "\(left.mapValues(\.summary))")
        }
    }
}

extension Integration.Registry {
    @Test(
        "ccci lab images pushes a look-alike for each image a recipe names and names the ones it cannot; the postgres look-alike keeps the official conventions"
    )
    func labImagesAndPostgres() async throws {
        let tag = "15-ccci-\(TestEnvironment.randomHex(6))"
        let recipe = try TemporaryDirectory("ccci-lab-images")
        try """
        version: "3.8"
        services:
          db:
            image: postgres:${PG_TAG}
          admin:
            image: adminer:4.8.1
        """.write(to: recipe.appending("compose.yml"), atomically: true, encoding: .utf8)
        try "PG_TAG=\(tag)\n".write(to: recipe.appending(".env.sample"), atomically: true, encoding: .utf8)
        let runner = ProcessRunner()
        let images = try await runner.run(
            Command(
                TestEnvironment.ccciExecutable.path, ["lab", "images", recipe.url.path],
                workingDirectory: TestEnvironment.repositoryRoot))
        #expect(images.status == 1, "\(images.output)\(images.errorOutput)")
        #expect(
            images.output.contains("pushed      postgres:\(tag) → \(LabRegistry.mirrorHost)/library/postgres:\(tag)"),
            "\(images.output)")
        #expect(
            images.output.contains("no look-alike for adminer:4.8.1 (named in files:compose.yml)"), "\(images.output)")

        // Pulled as a recipe names it, and run the way the official image is: a password from a
        // file, a database created on first start, password logins over TCP.
        let name = "ccci-test-pg-\(TestEnvironment.randomHex(6))"
        let secrets = try TemporaryDirectory("ccci-pg-secret")
        try "s3cret-\(tag)\n".write(to: secrets.appending("password"), atomically: true, encoding: .utf8)
        func cleanUp() async {
            _ = try? await runner.run(Command("docker", ["rm", "--force", "--volumes", name]))
            _ = try? await runner.run(Command("docker", ["network", "rm", name]))
            _ = try? await runner.run(Command("docker", ["image", "rm", "postgres:\(tag)"]))
        }
        do {
            try await provePostgres(runner: runner, name: name, tag: tag, secrets: secrets.url)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    func provePostgres(runner: ProcessRunner, name: String, tag: String, secrets: URL) async throws {
        try await runner.checked(Command("docker", ["pull", "--quiet", "postgres:\(tag)"]))
        try await runner.checked(Command("docker", ["network", "create", "--label", "ccci.test=true", name]))
        try await runner.checked(
            Command(
                "docker",
                [
                    "run", "--detach", "--name", name, "--network", name, "--label", "ccci.test=true",
                    "--volume", "\(secrets.path):/run/secrets:ro",
                    "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/password", "--env", "POSTGRES_DB=app",
                    "postgres:\(tag)",
                ]))
        // From another container, as an app would connect (inside its own container the official
        // image trusts loopback connections, and so does the look-alike).
        func psql(_ password: String) async throws -> CommandResult {
            try await runner.run(
                Command(
                    "docker",
                    [
                        "run", "--rm", "--network", name, "--label", "ccci.test=true", "--env",
                        "PGPASSWORD=\(password)", "postgres:\(tag)", "psql", "--host", name,
                        "--username", "postgres", "--dbname", "app", "--tuples-only", "--command", "SELECT 40 + 2",
                    ]))
        }
        let ready = try await poll(
            until: { try await psql("s3cret-\(tag)").output.contains("42") }, timeout: .seconds(60))
        #expect(ready, "the postgres look-alike never answered a password login")
        let wrong = try await psql("wrong")
        #expect(!wrong.succeeded && wrong.errorOutput.contains("password authentication failed"))
    }
}
