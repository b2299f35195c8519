import CCCICore
import CCCIDeploy
import CCCILab
import CCCISwarm
import Foundation
import Testing

@Suite struct GeneratedOverlays {
    static let project: ComposeProject = {
        let document = try! ComposeDocument.load(
            yaml: """
                services:
                  app:
                    image: busybox
                    ports: ["8080:80", "53:53/udp"]
                  worker:
                    image: busybox
                """, name: "compose.yml", environment: [:])
        return try! ComposeProject(document: document, files: ["compose.yml"])
    }()

    @Test("without IPVS every service gets endpoint_mode dnsrr and published ports become host mode")
    func dnsrrOverlay() throws {
        let text = try #require(NetworkMode.dnsrr.overlay(for: Self.project))
        let overlay = try ComposeDocument.load(yaml: text, name: "overlay", environment: [:])
        for service in ["app", "worker"] {
            #expect(overlay["services"]?[service]?["deploy"]?["endpoint_mode"] == "dnsrr")
        }
        let merged = try ComposeProject(document: ComposeDocument.merge(Self.project.document, overlay), files: [])
        let ports = merged.services["app"]!.ports
        #expect(ports.count == 2, "host-mode entries replace the recipe's, not duplicate them: \(ports)")
        #expect(ports.allSatisfy { $0.mode == "host" })
        #expect(Set(ports.map(\.protocolName)) == ["tcp", "udp"])
    }

    @Test("with IPVS nothing is added")
    func vipAddsNothing() {
        #expect(NetworkMode.vip.overlay(for: Self.project) == nil)
    }

    @Test("the IPVS probe looks for the kernel's ip_vs table")
    func detection() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ipvs-\(UUID().uuidString)")
        #expect(NetworkMode.detect(procPath: directory.path) == .dnsrr)
        try "".write(to: directory, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(NetworkMode.detect(procPath: directory.path) == .vip)
    }

    @Test("the lab ingress routes every host to tasks.<service>:<port>, most specific first, with its own 404 last")
    func ingressConfiguration() throws {
        let routes = [
            LabIngress.Route(
                host: "a.test", pathPrefix: nil, service: "a_app", router: "a", upstream: "tasks.a_app:80", priority: 0),
            LabIngress.Route(
                host: "a.test", pathPrefix: "/cms", service: "b_app", router: "b", upstream: "tasks.b_app:8787",
                priority: 100),
            LabIngress.Route(
                host: "c.test", pathPrefix: nil, service: "c_app", router: "c", upstream: nil, priority: 0),
        ]
        let config = LabIngress.configuration(routes: routes)
        let caddyRoutes = try #require(config["apps"]?["http"]?["servers"]?["ingress"]?["routes"]?.arrayValue)
        #expect(caddyRoutes.count == 4)
        #expect(
            caddyRoutes[0]["handle"]?.arrayValue?.first?["upstreams"]?.arrayValue?.first?["dial"] == "tasks.a_app:80")
        #expect(caddyRoutes[1]["match"]?.arrayValue?.first?["path"] == ["/cms", "/cms/*"])
        #expect(
            caddyRoutes[2]["handle"]?.arrayValue?.first?["status_code"] == 502, "no port label: the ingress says so")
        let fallback = try #require(caddyRoutes.last?["handle"]?.arrayValue?.first)
        #expect(fallback["status_code"] == 404)
        #expect(fallback["headers"]?[LabIngress.noRouteHeader] == ["no-route"])
        #expect(config["admin"]?["listen"] == "unix//admin/caddy.sock", "the admin API stays on its socket")
    }

    @Test("the label overlay stamps the version label and cc-ci's ownership on everything the deploy creates")
    func labelOverlay() throws {
        let project = try ComposeProject(
            document: [
                "services": [
                    "app": ["image": "x", "networks": ["proxy"]], "db": ["image": "y"],
                ],
                "volumes": ["data": [:], "shared": ["external": true]],
                "networks": ["proxy": ["external": true], "internal": [:]],
                "configs": ["conf": ["file": "c.conf"], "outside": ["external": true]],
                "secrets": ["pw": ["external": true], "local": ["file": "s.txt"]],
            ], files: ["compose.yml"])
        let text = NativeDriver.labelOverlay(
            project: project, version: ("coop-cloud.st.chaos-version", "abcd1234+U"),
            ownership: ["ccci.managed": "true", "ccci.app": "x.test"])
        let overlay = try ComposeDocument.load(yaml: text, name: "labels", environment: [:])
        for service in ["app", "db"] {
            #expect(overlay["services"]?[service]?["deploy"]?["labels"]?["coop-cloud.st.chaos-version"] == "abcd1234+U")
            #expect(overlay["services"]?[service]?["deploy"]?["labels"]?["ccci.app"] == "x.test")
            #expect(overlay["services"]?[service]?["labels"]?["ccci.managed"] == "true", "containers are labelled too")
            #expect(overlay["services"]?[service]?["labels"]?["coop-cloud.st.chaos-version"] == nil)
        }
        #expect(overlay["volumes"]?["data"]?["labels"]?["ccci.managed"] == "true")
        #expect(overlay["volumes"]?["shared"] == nil, "external volumes are not ours (and compose forbids labels)")
        #expect(overlay["networks"]?["internal"]?["labels"]?["ccci.app"] == "x.test")
        #expect(overlay["networks"]?["default"]?["labels"]?["ccci.app"] == "x.test", "db joins the default network")
        #expect(overlay["networks"]?["proxy"] == nil)
        #expect(overlay["configs"]?["conf"]?["labels"]?["ccci.managed"] == "true")
        #expect(overlay["configs"]?["outside"] == nil)
        #expect(overlay["secrets"]?["local"]?["labels"]?["ccci.managed"] == "true")
        #expect(overlay["secrets"]?["pw"] == nil)
    }
}
