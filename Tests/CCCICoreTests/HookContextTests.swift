import CCCICore
import Foundation
import Testing

@Suite struct HookContexts {
    func context(caCertificate: String? = nil, resolve: String? = nil) -> HookContext {
        HookContext(
            recipe: "web", domain: "web-29bfd8.ci.ccci.test", stack: "web-29bfd8_ci_ccci_test", op: "backup",
            baseURL: "https://web-29bfd8.ci.ccci.test", meta: ["deploy_timeout": "10m"],
            deps: [
                "keycloak": DependencyInfo(
                    recipe: "keycloak", domain: "keyc-000000.ci.ccci.test", baseURL: "https://keyc-000000.ci.ccci.test",
                    ready: true, credentials: ["admin_password": "pw"])
            ],
            opStateFile: "/runs/1/op-state.json", depsFile: "/runs/1/deps.json", runID: "run-1",
            runDirectory: "/runs/1", caCertificate: caCertificate, resolve: resolve, headCommit: "abc1234")
    }

    @Test("the JSON context carries recipe, domain, stack, op, base URL, meta, deps with credentials and op state")
    func json() throws {
        let data = try JSONCoding.compactEncoder.encode(context())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["recipe"] as? String == "web")
        #expect(object["domain"] as? String == "web-29bfd8.ci.ccci.test")
        #expect(object["stack"] as? String == "web-29bfd8_ci_ccci_test")
        #expect(object["op"] as? String == "backup")
        #expect(object["base_url"] as? String == "https://web-29bfd8.ci.ccci.test")
        #expect(object["op_state_file"] as? String == "/runs/1/op-state.json")
        #expect((object["meta"] as? [String: Any])?["deploy_timeout"] as? String == "10m")
        let deps = try #require(object["deps"] as? [String: [String: Any]])
        #expect((deps["keycloak"]?["credentials"] as? [String: String])?["admin_password"] == "pw")
        #expect(deps["keycloak"]?["base_url"] as? String == "https://keyc-000000.ci.ccci.test")
        let decoded = try JSONCoding.decoder.decode(HookContext.self, from: data)
        #expect(decoded == context())
    }

    @Test("the same context is offered as CCCI_* environment variables")
    func environment() {
        let environment = context().environment
        #expect(environment["CCCI_RECIPE"] == "web")
        #expect(environment["CCCI_DOMAIN"] == "web-29bfd8.ci.ccci.test")
        #expect(environment["CCCI_STACK"] == "web-29bfd8_ci_ccci_test")
        #expect(environment["CCCI_OP"] == "backup")
        #expect(environment["CCCI_BASE_URL"] == "https://web-29bfd8.ci.ccci.test")
        #expect(environment["CCCI_OP_STATE_FILE"] == "/runs/1/op-state.json")
        #expect(environment["CCCI_DEPS_FILE"] == "/runs/1/deps.json")
        #expect(environment.keys.allSatisfy { $0.hasPrefix("CCCI_") })
        #expect(environment["CCCI_CA_CERT"] == nil)
        #expect(environment["CCCI_CURL_RESOLVE"] == nil)
        let lab = context(caCertificate: "/lab/ca.pem", resolve: "web:443:127.0.0.1").environment
        #expect(lab["CCCI_CA_CERT"] == "/lab/ca.pem")
        #expect(lab["CCCI_CURL_RESOLVE"] == "web:443:127.0.0.1")
    }
}
