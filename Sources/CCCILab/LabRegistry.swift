import CCCICore
import CCCISwarm
import CCCISystem
import Foundation

/// The lab's registries (Debian's `docker-registry`, the CNCF distribution registry), so that
/// the production image path — pull, digest, credentials — runs for real on a machine with no
/// internet:
///
/// - the **mirror** (`127.0.0.1:5443`, no auth) is the engine's Docker Hub mirror
///   (`registry-mirrors` in `/etc/docker/daemon.json`): a reference written as in a real recipe
///   (`nginx:1.19.2`) is pulled through it;
/// - the **private** registry (`127.0.0.1:5444`) wants a login (htpasswd, bcrypt); the lab writes
///   it to a docker-config-style file a node names as `registry_auth`.
///
/// Both serve TLS with a certificate signed by the lab CA (the ingress's root), which the engine
/// trusts through `/etc/docker/certs.d/<host>/ca.crt`. Each runs as a detached host process with
/// a pid file; `ensure` starts only what is not running and rewrites only what changed.
public struct LabRegistry: Sendable {
    public static let mirrorHost = "127.0.0.1:5443"
    public static let privateHost = "127.0.0.1:5444"
    public static let privateUser = "ccci-lab"
    public static let executable = "/usr/bin/docker-registry"

    public let directory: URL
    public let caCertificate: URL
    public let caKey: URL
    public let daemonConfig: URL
    public let certificatesDirectory: URL
    public let runner: ProcessRunner

    public init(
        labDirectory: URL, caCertificate: URL, runner: ProcessRunner = ProcessRunner(),
        daemonConfig: URL = URL(fileURLWithPath: "/etc/docker/daemon.json"),
        certificatesDirectory: URL = URL(fileURLWithPath: "/etc/docker/certs.d")
    ) {
        self.directory = labDirectory.appendingPathComponent("registry")
        self.caCertificate = caCertificate
        self.caKey = caCertificate.deletingPathExtension().appendingPathExtension("key")
        self.daemonConfig = daemonConfig
        self.certificatesDirectory = certificatesDirectory
        self.runner = runner
    }

    /// The docker-config-style file with the private registry's login (mode 0600).
    public var authFile: URL { directory.appendingPathComponent("auth.json") }
    var certificate: URL { directory.appendingPathComponent("tls/registry.crt") }
    var key: URL { directory.appendingPathComponent("tls/registry.key") }

    /// One of the two registries.
    public struct Instance: Sendable {
        public let name: String
        public let host: String
        public let authenticated: Bool
    }

    public static let instances = [
        Instance(name: "mirror", host: mirrorHost, authenticated: false),
        Instance(name: "private", host: privateHost, authenticated: true),
    ]

    func path(_ instance: Instance, _ file: String) -> URL {
        directory.appendingPathComponent(instance.name).appendingPathComponent(file)
    }

    // MARK: - up

    /// Brings both registries up and points the engine at the mirror. `reloadEngine` is called
    /// when daemon.json changed (the engine rereads `registry-mirrors` on SIGHUP).
    public func ensure(
        engine: DockerEngine, report: (String) -> Void
    ) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw LabError.missingBinary(Self.executable, package: "docker-registry")
        }
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("tls"), withIntermediateDirectories: true)
        let issued = try await ensureCertificate()
        try await ensureLogin()
        for instance in Self.instances {
            try FileManager.default.createDirectory(
                at: path(instance, "data"), withIntermediateDirectories: true)
            let changed = try writeConfig(instance)
            if let pid = pid(of: instance), issued || changed {
                kill(pid, SIGTERM)
                if try await poll(until: { self.pid(of: instance) == nil ? true : nil }, timeout: .seconds(10)) == nil {
                    kill(pid, SIGKILL)
                    _ = try await poll(until: { self.pid(of: instance) == nil ? true : nil }, timeout: .seconds(5))
                }
            }
            if let pid = pid(of: instance) {
                report("registry \(instance.name): running on \(instance.host) (pid \(pid))")
            } else {
                try await start(instance)
                report(
                    "registry \(instance.name): started on \(instance.host) (log \(path(instance, "registry.log").path))"
                )
            }
        }
        try trustCertificates()
        if try updateDaemonConfig(adding: true) {
            try reloadEngine()
            report("engine: registry-mirrors now https://\(Self.mirrorHost) (daemon.json; engine reloaded)")
        }
        let mirror = "https://\(Self.mirrorHost)"
        guard
            try await poll(
                until: { () async -> Bool in
                    let mirrors = (try? await engine.info().RegistryConfig?.Mirrors) ?? []
                    return mirrors.contains { $0.hasPrefix(mirror) }
                }, timeout: .seconds(20))
        else { throw LabRegistryError.mirrorNotConfigured(daemonConfig.path) }
        report("engine: pulls Docker Hub images through \(mirror)")
    }

    /// A certificate for `127.0.0.1`/`localhost` signed by the lab CA, reissued when missing,
    /// signed by another CA, or expiring within 30 days. Returns whether it issued one.
    func ensureCertificate() async throws -> Bool {
        guard FileManager.default.fileExists(atPath: caKey.path) else {
            throw LabRegistryError.noCA(caCertificate.path)
        }
        if FileManager.default.fileExists(atPath: certificate.path) {
            let verify = try await runner.run(
                Command("openssl", ["verify", "-CAfile", caCertificate.path, certificate.path]))
            let fresh = try await runner.run(
                Command("openssl", ["x509", "-checkend", "2592000", "-noout", "-in", certificate.path]))
            if verify.succeeded && fresh.succeeded { return false }
        }
        let request = directory.appendingPathComponent("tls/registry.csr")
        let extensions = directory.appendingPathComponent("tls/extensions.cnf")
        try AtomicFile.write(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                + "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            to: extensions)
        try await runner.checked(
            Command(
                "openssl",
                [
                    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key.path, "-subj", "/CN=ccci lab registry", "-out", request.path,
                ]))
        try await runner.checked(
            Command(
                "openssl",
                [
                    "x509", "-req", "-in", request.path, "-CA", caCertificate.path, "-CAkey", caKey.path,
                    "-set_serial", String(UInt32.random(in: 1...UInt32.max)), "-days", "365",
                    "-extfile", extensions.path, "-out", certificate.path,
                ]))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        return true
    }

    /// The private registry's login: a password generated once, its bcrypt htpasswd line, and
    /// the docker-config file naming it.
    func ensureLogin() async throws {
        let passwordFile = directory.appendingPathComponent("private/password")
        try FileManager.default.createDirectory(
            at: passwordFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        var password =
            (try? String(contentsOf: passwordFile, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if password.isEmpty {
            password = (0..<24).map { _ in "abcdefghijkmnpqrstuvwxyz23456789".randomElement()! }.map(String.init)
                .joined()
            try AtomicFile.write(password + "\n", to: passwordFile, permissions: 0o600)
        }
        let htpasswd = directory.appendingPathComponent("private/htpasswd")
        let verified = try await runner.run(
            Command("htpasswd", ["-vbB", htpasswd.path, Self.privateUser, password]))
        if !verified.succeeded {
            let line = try await runner.checked(Command("htpasswd", ["-nbB", Self.privateUser, password])).output
            try AtomicFile.write(
                line.trimmingCharacters(in: .whitespacesAndNewlines) + "\n", to: htpasswd, permissions: 0o600)
        }
        let auth = Data("\(Self.privateUser):\(password)".utf8).base64EncodedString()
        try AtomicFile.write(
            "{\n  \"auths\": {\n    \"\(Self.privateHost)\": {\"auth\": \"\(auth)\"}\n  }\n}\n", to: authFile,
            permissions: 0o600)
    }

    /// Writes an instance's config; returns whether it changed.
    func writeConfig(_ instance: Instance) throws -> Bool {
        var lines = [
            "# Written by ccci lab up: the lab's \(instance.name) registry.", "version: 0.1", "log:",
            "  level: warn", "  accesslog:", "    disabled: true", "storage:", "  filesystem:",
            "    rootdirectory: \(path(instance, "data").path)", "  delete:", "    enabled: true", "http:",
            "  addr: \(instance.host)", "  secret: \(instance.name)-ccci-lab", "  tls:",
            "    certificate: \(certificate.path)", "    key: \(key.path)",
        ]
        if instance.authenticated {
            lines += [
                "auth:", "  htpasswd:", "    realm: ccci-lab",
                "    path: \(directory.appendingPathComponent("private/htpasswd").path)",
            ]
        }
        let text = lines.joined(separator: "\n") + "\n"
        let file = path(instance, "config.yml")
        if (try? String(contentsOf: file, encoding: .utf8)) == text { return false }
        try AtomicFile.write(text, to: file)
        return true
    }

    func start(_ instance: Instance) async throws {
        let pidFile = path(instance, "registry.pid")
        try? FileManager.default.removeItem(at: pidFile)
        // Detached (a new session), so the registry outlives `lab up`; its pid is kept for `down`.
        let script = "setsid \"$0\" serve \"$1\" >>\"$2\" 2>&1 </dev/null & echo $! > \"$3\""
        try await runner.checked(
            Command(
                "/bin/sh",
                [
                    "-c", script, Self.executable, path(instance, "config.yml").path,
                    path(instance, "registry.log").path, pidFile.path,
                ]))
        let client = RegistryClient(
            credentials: .none, mirrors: [], certificatesDirectory: directory.appendingPathComponent("trust"))
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("trust/\(instance.host)"), withIntermediateDirectories: true)
        let trusted = directory.appendingPathComponent("trust/\(instance.host)/ca.crt")
        try? FileManager.default.removeItem(at: trusted)
        try FileManager.default.copyItem(at: caCertificate, to: trusted)
        let probe = try ImageReference("\(instance.host)/ccci/probe:none")
        let answered = try await poll(
            until: { () async -> Bool in
                if case .unreachable = await client.manifest(of: probe, at: instance.host, login: nil) { return false }
                return true
            }, timeout: .seconds(15))
        guard answered, pid(of: instance) != nil else {
            throw LabRegistryError.didNotStart(instance.name, log: path(instance, "registry.log").path)
        }
    }

    /// The instance's pid when it runs (a docker-registry process serving its config).
    func pid(of instance: Instance) -> Int32? {
        guard let text = try? String(contentsOf: path(instance, "registry.pid"), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let commandLine = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
            commandLine.contains("docker-registry"), commandLine.contains(path(instance, "config.yml").path)
        else { return nil }
        return pid
    }

    /// `/etc/docker/certs.d/<host>/ca.crt` = the lab CA, for both registries.
    func trustCertificates() throws {
        for instance in Self.instances {
            let target = certificatesDirectory.appendingPathComponent(instance.host)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            let file = target.appendingPathComponent("ca.crt")
            let ca = try Data(contentsOf: caCertificate)
            if FileManager.default.contents(atPath: file.path) != ca { try AtomicFile.write(ca, to: file) }
        }
    }

    /// Adds (or removes) the mirror in daemon.json, keeping every other setting. Returns whether
    /// the file changed.
    func updateDaemonConfig(adding: Bool) throws -> Bool {
        var object: [String: JSONValue] = [:]
        if let data = FileManager.default.contents(atPath: daemonConfig.path), !data.isEmpty {
            guard let parsed = try? JSONDecoder().decode(JSONValue.self, from: data).objectValue else {
                throw LabRegistryError.daemonConfigUnreadable(daemonConfig.path)
            }
            object = parsed
        }
        let mirror = "https://\(Self.mirrorHost)"
        var mirrors = (object["registry-mirrors"]?.arrayValue ?? []).compactMap(\.stringValue)
        let present = mirrors.contains(mirror)
        if adding == present { return false }
        if adding { mirrors.insert(mirror, at: 0) } else { mirrors.removeAll { $0 == mirror } }
        object["registry-mirrors"] = mirrors.isEmpty ? nil : .array(mirrors.map(JSONValue.string))
        try FileManager.default.createDirectory(
            at: daemonConfig.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(try JSONCoding.prettyEncoder.encode(JSONValue.object(object)), to: daemonConfig)
        return true
    }

    /// SIGHUP to the engine (its pid from `/var/run/docker.pid`): it rereads `registry-mirrors`
    /// without restarting a container.
    func reloadEngine() throws {
        guard let text = try? String(contentsOfFile: "/var/run/docker.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, SIGHUP) == 0
        else { throw LabRegistryError.cannotReload(daemonConfig.path) }
    }

    // MARK: - status, down

    public func status() async -> [(name: String, ok: Bool, detail: String)] {
        var parts: [(String, Bool, String)] = []
        for instance in Self.instances {
            let pid = pid(of: instance)
            parts.append(
                ("registry \(instance.name)", pid != nil, pid.map { "\(instance.host), pid \($0)" } ?? "not running"))
        }
        return parts
    }

    public func down(report: (String) -> Void) async throws {
        for instance in Self.instances {
            if let pid = pid(of: instance) {
                kill(pid, SIGTERM)
                if try await poll(until: { self.pid(of: instance) == nil ? true : nil }, timeout: .seconds(10)) == nil {
                    kill(pid, SIGKILL)
                }
                report("registry \(instance.name): stopped (pid \(pid))")
            }
        }
        if try updateDaemonConfig(adding: false) {
            try? reloadEngine()
            report("engine: mirror https://\(Self.mirrorHost) removed from \(daemonConfig.path)")
        }
        for instance in Self.instances {
            try? FileManager.default.removeItem(at: certificatesDirectory.appendingPathComponent(instance.host))
        }
        try? FileManager.default.removeItem(at: directory)
        report("registries: removed \(directory.path)")
    }
}

public enum LabRegistryError: Error, Sendable, CustomStringConvertible {
    case noCA(String)
    case didNotStart(String, log: String)
    case daemonConfigUnreadable(String)
    case cannotReload(String)
    case mirrorNotConfigured(String)

    public var description: String {
        switch self {
        case .noCA(let path):
            return "the lab CA (\(path) and its key) does not exist yet — the ingress creates it; run `lab up` again"
        case .didNotStart(let name, let log):
            return "the lab's \(name) registry did not answer within 15 s — see \(log)"
        case .daemonConfigUnreadable(let path):
            return "\(path) is not a JSON object — fix it by hand; the lab only adds registry-mirrors to it"
        case .cannotReload(let path):
            return "changed \(path) but could not signal the engine (no /var/run/docker.pid) — restart docker"
        case .mirrorNotConfigured(let path):
            return
                "the engine does not report the lab mirror after reloading \(path) — restart docker and run `lab up` again"
        }
    }
}
