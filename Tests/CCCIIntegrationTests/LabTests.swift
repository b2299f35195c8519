import CCCICore
import CCCIDeploy
import CCCILab
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    @Suite struct LabSetup {
        let config: NodeConfig
        let home: TemporaryDirectory

        init() throws {
            home = try TemporaryDirectory("ccci-lab-test")
            config = try TestEnvironment.labConfig(home: home.url)
        }

        var probe: HTTPSProbe { HTTPSProbe(target: .lab(address: "127.0.0.1", caCertificate: config.labCACertificate)) }

        @Test(
            "every fixture deploys with docker stack deploy and the dnsrr overlay; web-facing ones answer by domain over verified HTTPS; removal leaves nothing"
        )
        func fixturesDeployAndAnswer() async throws {
            try await TestEnvironment.withEngine { engine in try await fixturesDeployAndAnswer(engine: engine) }
        }

        func fixturesDeployAndAnswer(engine: DockerEngine) async throws {
            let work = try TemporaryDirectory("ccci-lab-fixtures")
            let tag = TestEnvironment.randomHex()
            TestSession.register(ciDomain: "lab\(tag).ccci.test")
            let names = ["web", "appdb", "oneshot", "provider", "consumer", "broken"]
            var fixtures: [String: StackFixture] = [:]
            for name in names {
                // consumer needs its provider, as cc-ci's dependency wiring would give it.
                let overrides =
                    name == "consumer"
                    ? ["OIDC_PROVIDER": "https://provider.lab\(tag).ccci.test", "OIDC_CLIENT_ID": "lab-client"] : [:]
                fixtures[name] = try await StackFixture.prepare(
                    name, domain: "\(name).lab\(tag).ccci.test", in: work.url, overrides: overrides)
            }
            let janitor = StackJanitor(engine: engine, ownership: .stackNamespace)
            do {
                for name in names { try await fixtures[name]!.deploy(engine: engine) }
                let waiter = ConvergenceWaiter(engine: engine, logger: TestEnvironment.logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for name in names where name != "broken" {
                        let stack = fixtures[name]!.stack
                        group.addTask { try await waiter.wait(stack: stack, timeout: .seconds(90)) }
                    }
                    try await group.waitForAll()
                }
                // broken never becomes healthy.
                await #expect(throws: ConvergenceTimeout.self) {
                    try await waiter.wait(stack: fixtures["broken"]!.stack, timeout: .seconds(8))
                }
                let routes = try await LabIngress(
                    engine: engine, adminSocket: config.ingressAdminSocket,
                    lockFile: config.labDirectory.appendingPathComponent("ingress/sync.lock")
                ).syncRoutes()
                for name in names {
                    #expect(routes.contains { $0.host == fixtures[name]!.domain }, "no ingress route for \(name)")
                }
                try await probe.withClient(domains: names.map { fixtures[$0]!.domain }) { client in
                    let web = try await client.get(domain: fixtures["web"]!.domain, path: "/")
                    #expect(web.status == 200)
                    #expect(web.body.contains("web fixture"))
                    // appdb's app answers only when it reaches its database by the service name `db`.
                    let appdb = try await client.get(domain: fixtures["appdb"]!.domain, path: "/cgi-bin/health")
                    #expect(appdb.status == 200)
                    #expect(appdb.body.contains("db ok"))
                    let stored = try await client.get(
                        domain: fixtures["appdb"]!.domain, path: "/cgi-bin/kv?key=greeting&value=hello")
                    #expect(stored.body.contains("stored"))
                    let read = try await client.get(domain: fixtures["appdb"]!.domain, path: "/cgi-bin/kv?key=greeting")
                    #expect(read.body.contains("hello"))
                    let oneshot = try await client.get(domain: fixtures["oneshot"]!.domain, path: "/")
                    #expect(oneshot.status == 200)
                    let discovery = try await client.get(
                        domain: fixtures["provider"]!.domain, path: "/.well-known/openid-configuration")
                    #expect(discovery.status == 200)
                    #expect(discovery.body.contains("\"issuer\": \"https://\(fixtures["provider"]!.domain)\""))
                    let consumer = try await client.get(domain: fixtures["consumer"]!.domain, path: "/")
                    #expect(consumer.status == 200)
                }
            } catch {
                for name in names { _ = try? await janitor.remove(stack: fixtures[name]!.stack) }
                throw error
            }
            for name in names {
                let left = try await janitor.remove(stack: fixtures[name]!.stack)
                #expect(left.isEmpty, "\(name) left \(left.summary)")
            }
            try await LabIngress(
                engine: engine, adminSocket: config.ingressAdminSocket,
                lockFile: config.labDirectory.appendingPathComponent("ingress/sync.lock")
            ).syncRoutes()
        }

        @Test("a wrong loadbalancer.server.port label is not reachable through the ingress")
        func wrongPortLabelIsNotReachable() async throws {
            try await TestEnvironment.withEngine { engine in try await wrongPortLabelIsNotReachable(engine: engine) }
        }

        func wrongPortLabelIsNotReachable(engine: DockerEngine) async throws {
            let work = try TemporaryDirectory("ccci-lab-wrongport")
            let ciDomain = "lab\(TestEnvironment.randomHex()).ccci.test"
            TestSession.register(ciDomain: ciDomain)
            let domain = "webport.\(ciDomain)"
            let stack = AppNaming.stackName(forDomain: domain)
            let override = work.appending("compose.wrong-port.yml")
            try """
            version: "3.8"
            services:
              app:
                deploy:
                  labels:
                    traefik.http.services.\(stack).loadbalancer.server.port: "9999"

            """.write(to: override, atomically: true, encoding: .utf8)
            let fixture = try await StackFixture.prepare(
                "web", domain: domain, in: work.url, extraComposeFiles: [override])
            let left = try await TestEnvironment.withStack(stack, engine: engine) {
                try await fixture.deploy(engine: engine)
                try await ConvergenceWaiter(engine: engine, logger: TestEnvironment.logger).wait(
                    stack: stack, timeout: .seconds(90))
                let ingress = LabIngress(
                    engine: engine, adminSocket: config.ingressAdminSocket,
                    lockFile: config.labDirectory.appendingPathComponent("ingress/sync.lock"))
                let routes = try await ingress.syncRoutes()
                #expect(routes.first { $0.host == domain }?.upstream == "tasks.\(stack)_app:9999")
                let response = try await probe.get(domain: domain, path: "/")
                #expect(response.status == 502, "the app must not be reachable through a wrong port label")
                #expect(!response.body.contains("web fixture"))
            }
            #expect(left.isEmpty, "\(left.summary)")
        }

        @Test("docker stack deploy merges the dnsrr overlay's host-mode ports over a recipe's published ports")
        func publishedPortsBecomeHostMode() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-lab-ports")
                let stack = TestSession.stackName("ports")
                let inline = try InlineStack(
                    stack,
                    compose: """
                        version: "3.8"
                        services:
                          app:
                            image: ccci-lab/busybox:latest
                            init: true
                            command: ["httpd", "-f", "-p", "8080", "-h", "/"]
                            ports:
                              - "18089:8080"

                        """, in: work.url)
                let project = try ComposeProject.load(
                    recipeRoot: work.url, files: ["compose.yml"], environment: [:], recipe: "ports")
                let overlay = work.appending(NetworkMode.overlayFileName)
                try #require(NetworkMode.dnsrr.overlay(for: project)).write(
                    to: overlay, atomically: true, encoding: .utf8)
                let left = try await TestEnvironment.withStack(stack, engine: engine) {
                    try await inline.deploy(extraComposeFiles: [overlay])
                    try await inline.waitConverged(engine: engine)
                    let runner = ProcessRunner()
                    let ports = try await runner.checked(
                        Command(
                            "docker", ["service", "inspect", "--format", "{{json .Spec.EndpointSpec}}", "\(stack)_app"])
                    ).output
                    #expect(ports.contains("\"Mode\":\"dnsrr\""), "\(ports)")
                    #expect(ports.contains("\"PublishMode\":\"host\""), "\(ports)")
                    #expect(!ports.contains("\"PublishMode\":\"ingress\""), "no routing-mesh port left: \(ports)")
                    let answer = try await runner.run(
                        Command(
                            "curl",
                            [
                                "-fsS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://127.0.0.1:18089/",
                            ]))
                    #expect(
                        answer.output == "404" || answer.output == "200" || answer.status == 22,
                        "the host-mode port answers: \(answer.output)")
                }
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test("lab up is idempotent; status is 0 after up and non-zero after down")
        func labLifecycle() async throws {
            let ccci = TestEnvironment.ccciExecutable
            let runner = ProcessRunner()
            let environment: [String: String?] = ["CCCI_LAB_DIR": config.labDirectory.path]
            func ccciLab(_ arguments: [String]) async throws -> CommandResult {
                try await runner.run(
                    Command(
                        ccci.path, ["lab"] + arguments, environment: environment,
                        workingDirectory: TestEnvironment.repositoryRoot))
            }
            let fixtures = ["--fixtures", TestEnvironment.fixturesRoot.path]
            do {
                let first = try await ccciLab(["up"] + fixtures)
                #expect(first.succeeded, "lab up failed: \(first.tail())")
                let second = try await ccciLab(["up"] + fixtures)
                #expect(second.succeeded, "second lab up failed: \(second.tail())")
                #expect(second.output.contains("image ccci-lab/busybox:latest: up to date"))
                let up = try await ccciLab(["status"])
                #expect(up.status == 0, "status after up: \(up.output)")
                let down = try await ccciLab(["down"])
                #expect(down.succeeded, "lab down failed: \(down.tail())")
                let after = try await ccciLab(["status"])
                #expect(after.status != 0, "status must fail after down")
                #expect(after.output.contains("MISSING ingress"))
            } catch {
                _ = try? await ccciLab(["up"] + fixtures)
                throw error
            }
            // Leave the lab as the rest of the suite expects it.
            let restored = try await ccciLab(["up"] + fixtures)
            #expect(restored.succeeded, "restoring the lab failed: \(restored.tail())")
        }
    }
}
