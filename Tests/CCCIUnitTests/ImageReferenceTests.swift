import CCCICore
import CCCIDeploy
import CCCILab
import CCCISwarm
import Foundation
import Testing

@Suite struct ImageReferenceTests {
    @Test("references normalise as the engine reads them")
    func normalisation() throws {
        let nginx = try ImageReference("nginx:1.19.2")
        #expect(nginx.registry == "docker.io" && nginx.repository == "library/nginx" && nginx.tag == "1.19.2")
        #expect(nginx.familiarName == "nginx")
        #expect(try ImageReference("nginx") == ImageReference("docker.io/library/nginx:latest"))
        let owned = try ImageReference("ccci-lab/busybox")
        #expect(owned.repository == "ccci-lab/busybox" && owned.tag == "latest")
        let privateImage = try ImageReference("127.0.0.1:5444/team/app:1.0")
        #expect(privateImage.registry == "127.0.0.1:5444" && privateImage.repository == "team/app")
        #expect(privateImage.familiarName == "127.0.0.1:5444/team/app")
        let local = try ImageReference("localhost/app")
        #expect(local.registry == "localhost")
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let pinned = try ImageReference("nginx:1.19@\(digest)")
        #expect(pinned.tag == "1.19" && pinned.digest == digest && pinned.manifestReference == digest)
        #expect(nginx.pinned(to: digest) == "nginx:1.19.2@\(digest)")
        // The grammar's separators inside a part: one `.`, one or two `_`, any dashes.
        for valid in ["a.b/c__d", "my-org/my--app", "x_y/z", "0/1"] {
            #expect(throws: Never.self) { try ImageReference(valid) }
        }
    }

    @Test(
        "what docker would refuse is refused, saying why",
        arguments: [
            ("", "empty"), ("nginx:${TAG}", "uninterpolated"), ("Nginx:1", "lower-case"), ("nginx@sha256:12", "digest"),
            ("nginx:a b", "whitespace"), ("team/../app", "separated inside a part"), ("team/.app", "lower-case"),
            ("team/app-", "lower-case"), ("team/a___b", "lower-case"), ("caf\u{E9}/app", "lower-case"),
            ("nginx:-1", "not starting with . or -"), ("nginx:.x", "not starting with"),
        ])
    func invalid(text: String, why: String) {
        #expect {
            try ImageReference(text)
        } throws: { error in
            "\(error)".contains(why)
        }
    }

    @Test("a docker login file reads as logins per registry, and never prints a password")
    func credentials() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("auth-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let auth = Data("robot:s3cret-pass".utf8).base64EncodedString()
        try """
        {"auths": {"https://index.docker.io/v1/": {"auth": "\(auth)"}, "127.0.0.1:5444": {"username": "u", "password": "p"}}}
        """.write(to: file, atomically: true, encoding: .utf8)
        let credentials = try RegistryCredentials.load(file)
        #expect(credentials.login(for: "docker.io") == .init(username: "robot", password: "s3cret-pass"))
        #expect(credentials.login(for: "127.0.0.1:5444")?.username == "u")
        #expect(!credentials.description.contains("s3cret"))
        let header = try #require(credentials.engineHeader(for: "docker.io"))
        let padded = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let decoded = try #require(
            Data(base64Encoded: padded + String(repeating: "=", count: (4 - padded.count % 4) % 4)))
        #expect(
            String(decoding: decoded, as: UTF8.self).contains(
                "\"serveraddress\":\"https:\\/\\/index.docker.io\\/v1\\/\""))

        try "{\"auths\": {\"x\": {\"auth\": \"bm9jb2xvbg==\"}}}".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: RegistryCredentialsError.malformed(file.path, "auths.x.auth is not base64 of user:password")) {
            try RegistryCredentials.load(file)
        }
    }

    @Test("whose failure an unavailable image is follows the registries' answers")
    func fault() {
        let client = RegistryClient(credentials: .none, mirrors: ["https://127.0.0.1:5443"])
        func verdict(_ answers: [RegistryClient.Answer]) -> ImageUnavailable {
            ImagePreparation.unavailable(
                image: "nginx:9", services: ["app"],
                attempts: zip(["127.0.0.1:5443", "registry-1.docker.io"], answers).map {
                    RegistryClient.Attempt(registry: $0.0, answer: $0.1)
                }, registry: client)
        }
        let absent = verdict([
            .absent(code: "MANIFEST_UNKNOWN", message: "manifest unknown"), .unreachable("timed out"),
        ])
        #expect(absent.fault == .recipe)
        #expect(absent.description.contains("127.0.0.1:5443 answered MANIFEST_UNKNOWN \"manifest unknown\""))
        let locked = verdict([
            .unauthorized(code: "UNAUTHORIZED", message: "authentication required", hadCredentials: false)
        ])
        #expect(locked.fault == .node && locked.description.contains("asks for credentials the node does not have"))
        let refused = verdict([.unauthorized(code: "UNAUTHORIZED", message: "", hadCredentials: true)])
        #expect(refused.fault == .node && refused.description.contains("refused the node's credentials"))
        let down = verdict([.unreachable("connection refused"), .unreachable("the name does not resolve")])
        #expect(down.fault == .node && down.description.contains("the node's failure, not the recipe's"))
        #expect(client.endpoints(for: try! ImageReference("nginx")) == ["127.0.0.1:5443", "registry-1.docker.io"])
        #expect(client.endpoints(for: try! ImageReference("127.0.0.1:5444/a/b")) == ["127.0.0.1:5444"])
    }

    @Test("the look-alike table covers the images real recipes use most, and names nothing else")
    func lookAlikes() throws {
        #expect(LookAlikes.entry(for: try ImageReference("nginx:1.19.2"))?.localReference == "ccci-lab/nginx:latest")
        #expect(LookAlikes.entry(for: try ImageReference("mariadb:10.6"))?.localReference == "ccci-lab/mariadb:latest")
        #expect(LookAlikes.entry(for: try ImageReference("postgres:15-alpine"))?.pattern == "postgres:*")
        #expect(
            LookAlikes.entry(for: try ImageReference("php:8.0-fpm-alpine3.13"))?.localReference
                == "ccci-lab/php-fpm:latest")
        #expect(LookAlikes.entry(for: try ImageReference("php:8.2-apache")) == nil)
        #expect(LookAlikes.entry(for: try ImageReference("ghcr.io/library/nginx:1")) == nil)
        #expect(LookAlikes.entry(for: try ImageReference("adminer:4")) == nil)
    }
}
