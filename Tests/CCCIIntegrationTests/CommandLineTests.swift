import CCCICore
import CCCIGit
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `ccci` commands that need no swarm, run as a user runs them.
@Suite struct CLICommands {
    func ccci(_ arguments: [String], environment: [String: String?] = [:]) async throws -> CommandResult {
        try await ProcessRunner().run(Command(TestEnvironment.ccciExecutable.path, arguments, environment: environment))
    }

    func pack(_ toml: String, files: [String: String] = [:]) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("ccci-pack")
        try toml.write(to: directory.appending("ccci.toml"), atomically: true, encoding: .utf8)
        for (name, content) in files {
            try FileManager.default.createDirectory(
                at: directory.appending(name).deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: directory.appending(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test("meta check: a misspelt key exits 2 and suggests the right one")
    func misspeltKey() async throws {
        let directory = try pack("deploy_timout = \"10m\"\n")
        let result = try await ccci(["meta", "check", directory.url.path])
        #expect(result.status == 2)
        #expect(result.errorOutput.contains("unknown key `deploy_timout`"))
        #expect(result.errorOutput.contains("did you mean `deploy_timeout`?"))
        #expect(result.errorOutput.contains("ccci.toml:1"))
    }

    @Test("meta check: a wrong type names the key, the expected type and the type found; every problem is listed")
    func wrongTypeAndAllProblems() async throws {
        let directory = try pack("deploy_timeout = true\nhealth_statuses = \"200\"\n")
        let result = try await ccci(["meta", "check", directory.url.path])
        #expect(result.status == 2)
        #expect(result.errorOutput.contains("`deploy_timeout` expects a duration"))
        #expect(result.errorOutput.contains("found a boolean"))
        #expect(result.errorOutput.contains("`health_statuses` expects an array of integers"))
        #expect(result.errorOutput.contains("2 problems found"))
    }

    @Test("meta check: a hook that does not exist names its path; one that is not executable says chmod +x")
    func hooks() async throws {
        let missing = try pack("pre_install = \"hooks/setup.sh\"\n")
        let result = try await ccci(["meta", "check", missing.url.path])
        #expect(result.status == 2)
        #expect(result.errorOutput.contains("hooks/setup.sh"))
        #expect(result.errorOutput.contains(missing.appending("hooks/setup.sh").standardizedFileURL.path))
        let notExecutable = try pack("pre_install = \"hooks/setup.sh\"\n", files: ["hooks/setup.sh": "#!/bin/sh\n"])
        let second = try await ccci(["meta", "check", notExecutable.url.path])
        #expect(second.status == 2)
        #expect(second.errorOutput.contains("chmod +x"))
    }

    @Test("meta check: a valid pack exits 0 and prints its customization")
    func validPack() async throws {
        let result = try await ccci(["meta", "check", TestEnvironment.packsRoot.appendingPathComponent("appdb").path])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.output.contains("hook  backup_verify → hooks/check-key"))
    }

    @Test("recipe versions: annotated tags oldest → newest by version; a lightweight tag is reported as not a release")
    func recipeVersions() async throws {
        let repository = try TemporaryDirectory("ccci-versions")
        let git = Git()
        let identity = [
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
        ]
        try await git.run(["init", "--quiet", "--initial-branch=main"], in: repository.url)
        for (index, tag) in ["1.0.0+1.2", "1.10.0+1.3", "1.9.0+2.0", "2.0.0+1.4"].enumerated() {
            try "\(index)\n".write(to: repository.appending("file"), atomically: true, encoding: .utf8)
            try await git.run(["add", "file"], in: repository.url)
            try await git.run(["commit", "--quiet", "-m", "c\(index)"], in: repository.url, environment: identity)
            if tag == "2.0.0+1.4" {
                try await git.run(["tag", tag], in: repository.url)
            } else {
                try await git.run(
                    ["tag", "-a", tag, "-m", "release \(tag)"], in: repository.url, environment: identity)
            }
        }
        let result = try await ccci(["recipe", "versions", repository.url.path])
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(
            lines.map { $0.split(separator: " ").first.map(String.init) ?? "" } == [
                "1.0.0+1.2", "1.9.0+2.0", "1.10.0+1.3", "2.0.0+1.4",
            ])
        #expect(lines[2].contains("(latest)"))
        #expect(lines[3].contains("lightweight — not a release"))
        let json = try await ccci(["recipe", "versions", "--json", repository.url.path])
        let document = try JSONCoding.decoder.decode(JSONValue.self, from: Data(json.output.utf8))
        #expect(document["latest"] == "1.10.0+1.3")
        #expect(
            document["releases"]?.arrayValue?.compactMap { $0["version"]?.stringValue } == [
                "1.0.0+1.2", "1.9.0+2.0", "1.10.0+1.3",
            ])
    }

    @Test("recipe env: compose files, secrets with versions and lengths (never values), routes and the backup service")
    func recipeEnv() async throws {
        let root = TestEnvironment.realRecipesRoot.appendingPathComponent("foodsharing-cms")
        let result = try await ccci(["recipe", "env", root.path, "--domain", "cms.example.org", "--json"])
        #expect(result.status == 0, "\(result.errorOutput)")
        let document = try JSONCoding.decoder.decode(JSONValue.self, from: Data(result.output.utf8))
        #expect(document["stack"] == "cms_example_org")
        #expect(document["compose_files"] == ["compose.yml"])
        #expect(document["secrets"]?.arrayValue?.first?["docker_name"] == "cms_example_org_cms_token_v1")
        #expect(document["backup_services"] == ["app"])
        #expect(!result.output.contains("\"value\""), "secret values are never shown")
    }

    @Test("ccci --help lists the subcommands; --version prints the version")
    func helpAndVersion() async throws {
        let help = try await ccci(["--help"])
        for command in ["run", "results", "janitor", "teardown", "recipe", "meta", "lab", "serve", "gc"] {
            #expect(help.output.contains("  \(command) "), "missing \(command)")
        }
        let version = try await ccci(["--version"])
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == CCCIVersion.current)
    }

    @Test(
        "ccci serve refuses to start without its [serve] keys or with a loose secret file: exit 2 naming key and file")
    func serveSetupErrors() async throws {
        let home = try TemporaryDirectory("ccci-serve-cli")
        let config = home.appending("config.toml")
        try "[serve]\nlisten = \"127.0.0.1:0\"\n".write(to: config, atomically: true, encoding: .utf8)
        let environment: [String: String?] = ["CCCI_HOME": home.url.path, "CCCI_CONFIG": config.path]
        let missing = try await ccci(["serve"], environment: environment)
        #expect(missing.status == 2)
        #expect(missing.errorOutput.contains("`serve.forge_url` is not set in \(config.path)"))
        let secret = home.appending("secret")
        try "hunter2-secret\n".write(to: secret, atomically: true, encoding: .utf8)
        chmod(secret.path, 0o644)
        try """
        [serve]
        listen = "127.0.0.1:0"
        forge_url = "http://127.0.0.1:9"
        webhook_secret_file = "\(secret.path)"
        forge_token_file = "\(secret.path)"

        """.write(to: config, atomically: true, encoding: .utf8)
        let loose = try await ccci(["serve"], environment: environment)
        #expect(loose.status == 2)
        #expect(loose.errorOutput.contains("\(secret.path) (`serve.webhook_secret_file`) may be read by any user"))
        #expect(!loose.errorOutput.contains("hunter2"), "the secret is never printed")
    }

    @Test("ccci gc --dry-run lists what the retention rule would remove and removes nothing")
    func gcDryRun() async throws {
        let home = try TemporaryDirectory("ccci-gc-cli")
        let config = home.appending("config.toml")
        try "[retention]\nkeep_runs = 1\nkeep_days = 0\n".write(to: config, atomically: true, encoding: .utf8)
        for id in ["20250101T000000Z-web-aaaaaa", "20250102T000000Z-web-bbbbbb"] {
            try FileManager.default.createDirectory(at: home.appending("runs/\(id)"), withIntermediateDirectories: true)
            try "log\n".write(to: home.appending("runs/\(id)/run.log"), atomically: true, encoding: .utf8)
        }
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)],
            ofItemAtPath: home.appending("runs/20250101T000000Z-web-aaaaaa").path)
        let environment: [String: String?] = ["CCCI_HOME": home.url.path, "CCCI_CONFIG": config.path]
        let dry = try await ccci(["gc", "--dry-run"], environment: environment)
        #expect(dry.status == 0)
        #expect(dry.output.contains("would remove 20250101T000000Z-web-aaaaaa (web"))
        #expect(dry.output.contains("1 run directory to remove"))
        #expect(FileManager.default.fileExists(atPath: home.appending("runs/20250101T000000Z-web-aaaaaa").path))
        let real = try await ccci(["gc"], environment: environment)
        #expect(real.status == 0 && real.output.contains("removed 20250101T000000Z-web-aaaaaa"))
        #expect(!FileManager.default.fileExists(atPath: home.appending("runs/20250101T000000Z-web-aaaaaa").path))
        #expect(FileManager.default.fileExists(atPath: home.appending("runs/20250102T000000Z-web-bbbbbb").path))
    }
}
