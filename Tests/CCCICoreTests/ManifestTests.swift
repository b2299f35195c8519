import CCCICore
import CCCITestSupport
import Foundation
import Testing

@Suite struct SecretRedaction {
    @Test(
        "names containing SECRET, PASSWORD, TOKEN or CREDENTIAL (any case) are sensitive",
        arguments: [
            "SECRET", "db_password", "DB_PASSWORD_FILE", "MYSQL_ROOT_PASSWORD", "cms_token", "GITHUB_TOKEN",
            "accessToken", "credentials", "AWS_CREDENTIAL_FILE", "clientSecret", "SECRET_KEY_BASE", "password",
            "PASSWORDLESS", "tokenizer",
        ])
    func substringRule(name: String) {
        #expect(Redaction.isSensitive(name))
    }

    @Test(
        "names with KEY as a word segment (split at _ - . and camelCase) are sensitive",
        arguments: [
            "key", "KEY", "API_KEY", "apiKey", "api-key", "api.key", "KEY_ID", "keyId", "s3Key", "PRIVATE_KEY_PEM",
            "Key", "APIKey", "SSHKey",
        ])
    func keySegmentRule(name: String) {
        // An acronym followed by a word splits before the word (`APIKey` → API|Key).
        #expect(Redaction.isSensitive(name))
    }

    @Test(
        "KEY inside a longer word is not a KEY segment",
        arguments: [
            "KEYCLOAK_URL", "keycloakUrl", "MONKEY", "monkey", "KEYBOARD_LAYOUT", "keyboardLayout", "TURNKEY",
            "HOTKEYS", "DOMAIN", "SITE", "PORT", "STACK_NAME", "COMPOSE_FILE",
        ])
    func notSensitive(name: String) {
        #expect(!Redaction.isSensitive(name))
    }

    @Test("sensitive scalars are masked and their names kept; other values are untouched")
    func flatObject() {
        let redacted = Redaction.redact(["API_KEY": "abc123", "SITE": "example.org", "PORT": 80, "debug": true])
        #expect(
            redacted == ["API_KEY": .string(Redaction.mask), "SITE": "example.org", "PORT": 80, "debug": true])
    }

    @Test("redaction walks nested objects and arrays")
    func nested() {
        let value: JSONValue = [
            "extra_env": ["SECRET_KEY_BASE": "s3cr3t", "SITE": "y"],
            "deps": [["recipe": "keycloak", "adminPassword": "pw", "url": "https://kc"]],
            "plain": ["a", "b"],
        ]
        let expected: JSONValue = [
            "extra_env": ["SECRET_KEY_BASE": .string(Redaction.mask), "SITE": "y"],
            "deps": [["recipe": "keycloak", "adminPassword": .string(Redaction.mask), "url": "https://kc"]],
            "plain": ["a", "b"],
        ]
        #expect(Redaction.redact(value) == expected)
    }

    @Test("a container under a sensitive name keeps its shape and member names, with every scalar masked")
    func sensitiveContainer() {
        let value: JSONValue = [
            "credentials": ["user": "admin", "pass": "pw", "nested": ["x": 1], "none": nil],
            "tokens": ["t1", "t2"],
            "password": nil,
        ]
        let mask = JSONValue.string(Redaction.mask)
        let expected: JSONValue = [
            "credentials": ["user": mask, "pass": mask, "nested": ["x": mask], "none": nil],
            "tokens": [mask, mask],
            "password": nil,
        ]
        #expect(Redaction.redact(value) == expected)
    }

    @Test("string maps are redacted by key")
    func stringMap() {
        let redacted = Redaction.redact(["DB_PASSWORD": "pw", "apiKey": "k", "KEYCLOAK_URL": "https://kc"])
        #expect(redacted == ["DB_PASSWORD": Redaction.mask, "apiKey": Redaction.mask, "KEYCLOAK_URL": "https://kc"])
    }
}

@Suite struct CustomizationManifest {
    @Test("a run without customization has an empty manifest that says so")
    func empty() throws {
        let manifest = Manifest(meta: RecipeMeta(), overlays: [], customTests: [], envOverrides: [:])
        #expect(manifest.isEmpty)
        #expect(manifest.renderLines().count == 1)
        #expect(manifest.renderLines().first?.contains("none") == true)
    }

    @Test("extra_env values are redacted by name inside the meta entry; names and safe values stay")
    func redactsExtraEnv() throws {
        let pack = try Pack(
            """
            extra_env = { SECRET_KEY_BASE = "very-secret-value", SITE = "public-site" }
            health_path = "/"
            deploy_timeout = "15m"
            """)
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        let manifest = Manifest(
            meta: meta, overlays: ["compose.ccci.yml"], customTests: ["tests/b.sh", "tests/a.sh"],
            envOverrides: ["SECRET_KEY_BASE": "very-secret-value", "SITE": "public-site"])
        let extraEnv = try #require(manifest.meta["extra_env"])
        #expect(extraEnv.value == ["SECRET_KEY_BASE": .string(Redaction.mask), "SITE": "public-site"])
        #expect(extraEnv.source == pack.file)
        #expect(manifest.meta["deploy_timeout"]?.value == "15m")
        #expect(manifest.meta["health_path"] == nil, "a key set to its default is not a customization")
        #expect(manifest.envOverrides == ["SECRET_KEY_BASE": Redaction.mask, "SITE": "public-site"])
        #expect(manifest.customTests == ["tests/a.sh", "tests/b.sh"])
        #expect(!manifest.isEmpty)

        let encoded = String(decoding: try JSONCoding.compactEncoder.encode(manifest), as: UTF8.self)
        #expect(!encoded.contains("very-secret-value"))
        #expect(encoded.contains("SECRET_KEY_BASE"))
        #expect(encoded.contains("public-site"))
        #expect(encoded.contains("\"env_overrides\""))
        #expect(encoded.contains("\"custom_tests\""))
    }

    @Test("the rendered lines list meta with sources, hooks, overlays, env and tests, with no secret value")
    func renderLines() throws {
        let pack = try Pack(
            """
            extra_env = { API_TOKEN = "tok-123456", SITE = "public-site" }
            pre_install = "seed.sh"
            health_ok = [200]
            """, executables: ["seed.sh"])
        let meta = try MetaLoader.load(packDirectories: [pack.url])
        let manifest = Manifest(
            meta: meta, overlays: ["compose.ccci.yml"], customTests: ["tests/login.sh"],
            envOverrides: ["API_TOKEN": "tok-123456"])
        #expect(manifest.hooks == ["pre_install": "seed.sh"])
        let lines = manifest.renderLines()
        let text = lines.joined(separator: "\n")
        #expect(lines.first == "customization:")
        #expect(!text.contains("tok-123456"))
        #expect(lines.contains { $0.contains("meta") && $0.contains("extra_env") && $0.contains(pack.file) })
        #expect(lines.contains { $0.contains("hook") && $0.contains("pre_install") && $0.contains("seed.sh") })
        #expect(lines.contains { $0.contains("overlay") && $0.contains("compose.ccci.yml") })
        #expect(lines.contains { $0.contains("env") && $0.contains("API_TOKEN=\(Redaction.mask)") })
        #expect(lines.contains { $0.contains("test") && $0.contains("tests/login.sh") })
        #expect(lines.contains { $0.contains("warning") && $0.contains("health_ok") })
        #expect(text.contains("public-site"))
    }
}
