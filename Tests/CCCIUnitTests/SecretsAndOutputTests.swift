import CCCIGit
import CCCISystem
import Foundation
import Testing

/// Secrets are masked whatever their length; credentials never stay in a URL; a failed command
/// says why before it says what; a flood of output is cut, and says so.
@Suite struct SecretsAndOutput {
    @Test("every registered secret is redacted: long ones anywhere, short ones as whole words")
    func redaction() {
        let registry = SecretRegistry()
        registry.register("Zq7x")
        registry.register("averylongsecretvalue")
        #expect(registry.redact("pw=Zq7x.") == "pw=<redacted>.")
        #expect(registry.redact("Zq7x") == "<redacted>")
        #expect(registry.redact("secret: Zq7x\n") == "secret: <redacted>\n")
        #expect(registry.redact("xZq7xy") == "xZq7xy", "a short value inside a longer word is left")
        #expect(registry.redact("in-averylongsecretvalue-x") == "in-<redacted>-x")
        registry.register("a")
        #expect(registry.redact("a cat") == "<redacted> cat", "even one character, as a word")
    }

    @Test("credentials are split out of an HTTP(S) git URL and never left in it")
    func gitCredentials() {
        let (url, credentials) = GitCredentials.split("https://ci-bot:s3cr%40t@git.example.org/recipes/web.git")
        #expect(url == "https://git.example.org/recipes/web.git")
        #expect(credentials?.user == "ci-bot")
        #expect(credentials?.secret == "s3cr@t")
        #expect(credentials?.header.hasPrefix("Authorization: Basic ") == true)
        #expect(credentials?.secrets.contains("s3cr@t") == true)
        let (tokenURL, token) = GitCredentials.split("https://ghp_abc@github.com/x/y.git")
        #expect(tokenURL == "https://github.com/x/y.git")
        #expect(token?.secret == "ghp_abc")
        #expect(GitCredentials.split("git@forge:x/y.git").credentials == nil)
        #expect(GitCredentials.split("file:///srv/web").credentials == nil)
        #expect(GitCredentials.masked("https://u:p@h/x") == "https://***@h/x")
        #expect(GitCredentials.masked("/srv/a@b/web") == "/srv/a@b/web")
    }

    @Test("a failed command puts its reason first and its argv last, secrets masked")
    func commandErrors() {
        let command = Command(
            "git", ["-c", "http.extraHeader=Authorization: Basic c2VjcmV0", "-C", "/tmp/x", "clone", "u"],
            secrets: ["Authorization: Basic c2VjcmV0"])
        let result = CommandResult(
            command: command, status: 128, signaled: false, output: "", errorOutput: "fatal: repository not found\n",
            duration: .zero)
        let error = CommandError(result: result)
        #expect(error.description.hasPrefix("`git clone` exited 128: fatal: repository not found"))
        #expect(!error.description.contains("c2VjcmV0"))
    }

    @Test("a log keeps the first and last of a flood and says how much was cut")
    func logTrim() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-trim-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: file) }
        let prefix = Data("before\n".utf8)
        var body = Data("HEAD".utf8)
        body.append(Data(repeating: UInt8(ascii: "x"), count: Int(LogLimits.head + LogLimits.tail) + 1000))
        body.append(Data("TAIL".utf8))
        try (prefix + body).write(to: file)
        let cut = LogLimits.trim(file, from: Int64(prefix.count))
        #expect(cut == 1008)
        let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
        #expect(text.hasPrefix("before\nHEAD"))
        #expect(text.hasSuffix("TAIL"))
        #expect(text.contains("[cc-ci: 1008 bytes of output cut here"))
        let small = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-trim-small.log")
        defer { try? FileManager.default.removeItem(at: small) }
        try Data("short".utf8).write(to: small)
        #expect(LogLimits.trim(small, from: 0) == 0)
        #expect(try String(contentsOf: small, encoding: .utf8) == "short")
    }
}
