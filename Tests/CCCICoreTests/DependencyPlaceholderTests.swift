import CCCICore
import Testing

/// `{{deps.<recipe>.<fact>}}` in `extra_env`, `upgrade_extra_env` and `extra_secrets` values.
@Suite struct DependencyPlaceholderTests {
    static let facts = [
        "provider": DependencyInfo(
            recipe: "provider", domain: "prov-1a2b3c.ci.test", baseURL: "https://prov-1a2b3c.ci.test", ready: true,
            credentials: ["client_id": "ccci-42", "client_secret": "s3cr3t"])
    ]

    @Test("domain, url and credentials fill in, with text around them and spaces inside the braces")
    func resolves() throws {
        let (url, used) = try DependencyPlaceholders.resolve(
            "{{deps.provider.url}}/.well-known", key: "extra_env.OIDC", facts: Self.facts)
        #expect(url == "https://prov-1a2b3c.ci.test/.well-known" && used == ["deps.provider.url"])
        let (pair, both) = try DependencyPlaceholders.resolve(
            "{{ deps.provider.creds.client_id }}:{{deps.provider.creds.client_secret}}@{{deps.provider.domain}}",
            key: "extra_env.X", facts: Self.facts)
        #expect(pair == "ccci-42:s3cr3t@prov-1a2b3c.ci.test")
        #expect(both == ["deps.provider.creds.client_id", "deps.provider.creds.client_secret", "deps.provider.domain"])
        let plain = try DependencyPlaceholders.resolve("no placeholder {here}", key: "extra_env.Y", facts: [:])
        #expect(plain.value == "no placeholder {here}" && plain.used.isEmpty)
    }

    @Test("a fact no dependency provides names the key and every known fact")
    func unknownFact() {
        #expect(throws: DependencyPlaceholders.Problem.self) {
            try DependencyPlaceholders.resolve("{{deps.provider.creds.nope}}", key: "extra_env.A", facts: Self.facts)
        }
        do {
            _ = try DependencyPlaceholders.resolve(
                "{{deps.provider.creds.nope}}", key: "extra_env.A", facts: Self.facts)
        } catch {
            #expect(error.description.contains("`extra_env.A` uses `{{deps.provider.creds.nope}}`"))
            #expect(error.description.contains("{{deps.provider.creds.client_secret}}"))
            #expect(error.description.contains("{{deps.provider.url}}"))
        }
    }

    @Test("before any deploy: malformed placeholders and undeclared dependencies are problems naming the key")
    func staticCheck() {
        func problem(_ value: String, dependencies: [String] = ["provider"]) -> String? {
            do {
                try DependencyPlaceholders.check(["KEY": value], key: "extra_env", dependencies: dependencies)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(problem("{{deps.provider.url}}") == nil)
        #expect(problem("{{deps.provider.creds.client-id_2}}") == nil)
        #expect(
            problem("{{deps.keycloak.url}}")?.contains("`keycloak` is not in `dependencies` (declared: provider)")
                == true)
        #expect(problem("{{deps.provider.url}}", dependencies: [])?.contains("declared: none") == true)
        for bad in [
            "{{deps.provider.port}}", "{{ deps.provider }}", "{{deps.provider.creds.}}", "{{deps.Provider!.url}}",
        ] {
            #expect(problem(bad)?.contains("is not a dependency fact") == true, "\(bad)")
        }
        // Braces that do not start with `deps.` are the value's own (a Go template, say).
        #expect(problem("{{ .Values.name }} and {{env.HOME}}") == nil)
        #expect(problem("{{deps.provider.url")?.contains("without a closing `}}`") == true)
    }
}
