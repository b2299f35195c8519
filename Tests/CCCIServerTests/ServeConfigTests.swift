import CCCICore
import CCCIServer
import CCCITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `[serve]` and `[retention]` in the node configuration, and the secret files.
@Suite struct ServeConfigTests {
    func load(_ text: String) throws -> NodeConfig {
        let home = try TemporaryDirectory("ccci-config")
        let file = home.appending("config.toml")
        try Data(text.utf8).write(to: file)
        return try NodeConfig.load(environment: ["CCCI_HOME": home.url.path, "CCCI_CONFIG": file.path])
    }

    func error(_ text: String) -> String {
        do {
            _ = try load(text)
            return "(loaded)"
        } catch {
            return "\(error)"
        }
    }

    @Test("node_lease is a duration from 10s to 1d; a shared store's URL and password file are read together")
    func leaseAndStore() throws {
        #expect(try load("[serve]\nnode_lease = \"5m\"\n").serve.nodeLease == .seconds(300))
        #expect(try load("").serve.nodeLease == .seconds(600))
        #expect(error("[serve]\nnode_lease = \"5s\"\n").contains("outside 10s to 1d"))
        #expect(error("[serve]\nnode_lease = \"soon\"\n").contains("serve.node_lease"))
        let config = try load(
            "store = \"postgres://ccci@db.example.org/ccci\"\nstore_password_file = \"/etc/ccci/store-password\"\n")
        guard case .postgres(let location) = config.storeLocation else {
            Issue.record("not a PostgreSQL store: \(config.storeLocation)")
            return
        }
        #expect(location.passwordFile == "/etc/ccci/store-password" && location.host == "db.example.org")
        #expect(config.storePath == nil)
        #expect(error("store = \"postgres://ccci:secret@db/ccci\"\n").contains("store_password_file"))
    }

    @Test("[dispatch] names an engine, its address and what it needs; each mistake names its key")
    func dispatch() throws {
        #expect(try load("").dispatch.engine == .local)
        let buildbot = try load("[dispatch]\nengine = \"buildbot\"\nurl = \"http://127.0.0.1:8010\"\n").dispatch
        #expect(buildbot.engine == .buildbot && buildbot.scheduler == "ccci" && buildbot.builder == "ccci")
        let forgejo = try load(
            "[dispatch]\nengine = \"forgejo-actions\"\nurl = \"https://git.example.org\"\nrepository = \"ccci/ops\"\n"
        ).dispatch
        #expect(forgejo.engine == .forgejoActions && forgejo.workflow == "ccci.yml" && forgejo.ref == "main")
        #expect(
            error("[dispatch]\nengine = \"jenkins\"\n").contains("not one of local, buildbot, forgejo-actions, drone"))
        #expect(error("[dispatch]\nengine = \"buildbot\"\n").contains("dispatch.url"))
        #expect(error("[dispatch]\nengine = \"drone\"\nurl = \"http://drone\"\n").contains("dispatch.repository"))
        #expect(
            error("[dispatch]\nengine = \"drone\"\nurl = \"http://drone\"\nrepository = \"ops\"\n")
                .contains("'ops' is not owner/name"))
        let credentials = error("[dispatch]\nengine = \"buildbot\"\nurl = \"http://bot:pw@127.0.0.1:8010\"\n")
        #expect(credentials.contains("dispatch.token_file") && !credentials.contains("pw@"))
        #expect(error("[dispatch]\nengine = \"buildbot\"\nurl = \"http://x\"\nsecret = 1\n").contains("secret"))
    }

    @Test("a [serve] table and a [retention] table are read")
    func reads() throws {
        let config = try load(
            """
            [serve]
            listen = "[::1]:9000"
            public_url = "https://ci.example.org"
            forge = "forgejo"
            forge_url = "https://git.example.org/"
            webhook_secret_file = "/etc/ccci/webhook-secret"
            forge_token_file = "/etc/ccci/forge-token"
            allowlist = ["alice", "bob"]
            owners = ["coop-cloud"]

            [retention]
            keep_runs = 5
            keep_days = 7
            """)
        #expect(config.serve.listenHost == "::1" && config.serve.listenPort == 9000)
        #expect(config.serve.listen == "[::1]:9000")
        #expect(config.serve.forge == .forgejo && config.serve.forgeURL == "https://git.example.org/")
        #expect(config.serve.allowlist == ["alice", "bob"] && config.serve.owners == ["coop-cloud"])
        #expect(config.retention == RetentionPolicy(keepRuns: 5, keepDays: 7))
    }

    @Test("bad [serve] values are errors that name the key")
    func errors() {
        #expect(error("[serve]\nlisten = \"localhost\"").contains("`serve.listen`"))
        #expect(error("[serve]\nlisten = \"127.0.0.1:99999\"").contains("is not host:port"))
        #expect(error("[serve]\nforge = \"gitlab\"").contains("not one of gitea, forgejo"))
        #expect(error("[serve]\nforge_url = \"ftp://x\"").contains("is not an http(s) URL"))
        #expect(error("[serve]\nforge_url = \"https://bot:pw@git.example\"").contains("must not carry credentials"))
        #expect(error("[serve]\nwebhook_secret = \"hunter2\"").contains("did you mean `serve.webhook_secret_file`?"))
        #expect(!error("[serve]\nwebhook_secret = \"hunter2\"").contains("hunter2"), "a misplaced secret is not echoed")
        #expect(error("[serve]\nallowlist = \"alice\"").contains("expects an array of strings"))
        #expect(error("[retention]\nkeep_runs = -1").contains("`retention.keep_runs`"))
        #expect(error("[retention]\nkeep = 1").contains("did you mean `retention.keep_runs`?"))
    }

    @Test(
        "ccci serve needs forge_url and both secret files; a secret file (or a symlink's target) must exist, hold one line of 16+ characters and be readable by its owner only"
    )
    func serveSetup() throws {
        let home = try TemporaryDirectory("ccci-secrets")
        var config = try TestEnvironment.labConfig(home: home.url)
        func setupError() -> String {
            do {
                _ = try ServerArguments.load(
                    config: config, file: "/x/config.toml", executable: URL(fileURLWithPath: "/bin/true"),
                    logger: LogCapture().logger())
                return "(loaded)"
            } catch {
                return error.description
            }
        }
        #expect(setupError().contains("`serve.forge_url` is not set in /x/config.toml"))
        config.serve.forgeURL = "http://127.0.0.1:1"
        #expect(setupError().contains("`serve.webhook_secret_file` is not set"))
        let secret = home.appending("secret")
        let token = home.appending("token")
        config.serve.webhookSecretFile = secret.path
        config.serve.forgeTokenFile = token.path
        #expect(setupError().contains("\(secret.path) (`serve.webhook_secret_file`) does not exist"))
        try Data("s3cr3t-value-0123456789\n".utf8).write(to: secret)
        chmod(secret.path, 0o644)
        #expect(setupError().contains("may be read by any user (mode 644)"))
        chmod(secret.path, 0o640)
        #expect(setupError().contains("may be read by its group (mode 640) — `chmod 600 \(secret.path)`"))
        chmod(secret.path, 0o660)
        #expect(setupError().contains("may be read by its group (mode 660)"))
        chmod(secret.path, 0o600)
        try Data("".utf8).write(to: token)
        chmod(token.path, 0o600)
        #expect(setupError().contains("is empty"))
        try Data("t0ken\n".utf8).write(to: token)
        #expect(
            setupError().contains("(`serve.forge_token_file`) holds a secret of 5 characters; it needs at least 16"))
        #expect(!setupError().contains("t0ken"), "a short secret is never printed either")
        try Data("t0ken-0123456789abcdef\n".utf8).write(to: token)
        #expect(setupError() == "(loaded)")
        // A symlink to a file of mode 0400 or 0600 (systemd credentials, Docker secrets) is read;
        // the target's mode is what counts, and a missing target is said as such.
        let credentials = home.appending("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        let target = credentials.appendingPathComponent("webhook-secret")
        try Data("s3cr3t-value-0123456789\n".utf8).write(to: target)
        chmod(target.path, 0o400)
        let link = home.appending("secret-link")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target.path)
        config.serve.webhookSecretFile = link.path
        #expect(setupError() == "(loaded)")
        chmod(target.path, 0o644)
        #expect(setupError().contains("may be read by any user (its target) (mode 644)"), "\(setupError())")
        try FileManager.default.removeItem(at: target)
        #expect(setupError().contains("is a symlink to a file that does not exist"))
        config.serve.webhookSecretFile = credentials.path
        #expect(setupError().contains("is not a regular file"))
        config.serve.webhookSecretFile = secret.path
        let arguments = try ServerArguments.load(
            config: config, file: "/x/config.toml", executable: URL(fileURLWithPath: "/bin/true"),
            logger: LogCapture().logger())
        #expect(arguments.webhookSecret.reveal() == "s3cr3t-value-0123456789")
        #expect("\(arguments.webhookSecret)" == "<redacted>" && "\(arguments.forgeToken)" == "<redacted>")
        #expect(!"\(arguments)".contains("s3cr3t-value") && !"\(arguments)".contains("t0ken"))
    }
}
