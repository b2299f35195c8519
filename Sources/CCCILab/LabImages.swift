import CCCICore
import CCCISystem
import Crypto
import Foundation

/// The lab's images, built `FROM scratch` out of this machine's Debian binaries (nothing is
/// pulled): `ccci-lab/busybox` (static busybox: sh, httpd, wget, tar, …), `ccci-lab/noshell`
/// (only busybox's httpd and wget — an image with no shell, like a distroless one) and
/// `ccci-lab/ingress` (caddy with the shared libraries `ldd` lists). restic runs on the host, so
/// it needs no image.
///
/// Each image is labelled with a digest of its inputs; an image whose digest matches is not
/// rebuilt, so `lab up` on a built lab costs a few `stat`s.
public struct LabImages: Sendable {
    public struct Spec: Sendable, Hashable {
        public let reference: String
        /// Host binaries copied in (with their libraries when dynamically linked).
        public let binaries: [String]
        /// Lines after `FROM scratch` / `COPY rootfs/ /`.
        public let dockerfileTail: [String]
        /// The busybox applets linked into the image (`nil`: every one).
        public var applets: Set<String>? = nil
        /// Files baked into the image (path in the image → content).
        public var files: [String: String] = [:]
    }

    public static let busybox = Spec(
        reference: "ccci-lab/busybox:latest", binaries: ["/bin/busybox"],
        dockerfileTail: ["ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "CMD [\"/bin/sh\"]"])

    public static let ingress = Spec(
        reference: "ccci-lab/ingress:latest", binaries: ["/usr/bin/caddy", "/bin/busybox"],
        dockerfileTail: [
            "ENV PATH=/usr/bin:/bin XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config HOME=/tmp",
            "ENTRYPOINT [\"/usr/bin/caddy\"]", "CMD [\"run\", \"--config\", \"/config/caddy.json\"]",
        ])

    public static let noShell = Spec(
        reference: "ccci-lab/noshell:latest", binaries: ["/bin/busybox"],
        dockerfileTail: [
            "ENV PATH=/usr/bin:/bin", "CMD [\"/usr/sbin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]",
        ],
        applets: ["httpd", "wget"],
        files: ["www/health": "ok\n", "www/index.html": "noshell\n", "data/app.db": "noshell fixture data\n"])

    public static let all = [busybox, noShell, ingress]

    public let buildDirectory: URL
    public let runner: ProcessRunner

    public init(buildDirectory: URL, runner: ProcessRunner = ProcessRunner()) {
        self.buildDirectory = buildDirectory
        self.runner = runner
    }

    /// Builds `spec` unless an image with the same input digest exists. Returns whether it built.
    @discardableResult
    public func ensure(_ spec: Spec) async throws -> Bool {
        for binary in spec.binaries where !FileManager.default.isExecutableFile(atPath: binary) {
            throw LabError.missingBinary(binary, package: binary.hasSuffix("caddy") ? "caddy" : "busybox-static")
        }
        let digest = try await inputDigest(spec)
        let inspect = try await runner.run(
            Command(
                "docker",
                ["image", "inspect", "--format", "{{ index .Config.Labels \"ccci.lab.digest\" }}", spec.reference]))
        if inspect.succeeded, inspect.output.trimmingCharacters(in: .whitespacesAndNewlines) == digest { return false }
        let context = buildDirectory.appendingPathComponent(
            spec.reference.split(separator: ":")[0].replacingOccurrences(of: "/", with: "-"))
        try? FileManager.default.removeItem(at: context)
        let rootfs = context.appendingPathComponent("rootfs")
        try await populate(rootfs, with: spec)
        let dockerfile =
            (["FROM scratch", "COPY rootfs/ /", "LABEL ccci.lab=true ccci.lab.digest=\(digest)"] + spec.dockerfileTail)
            .joined(separator: "\n") + "\n"
        try dockerfile.write(to: context.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try await runner.checked(
            Command(
                "docker", ["build", "--quiet", "--tag", spec.reference, context.path],
                environment: ["DOCKER_BUILDKIT": "0"]))
        return true
    }

    /// A digest of everything that goes into the image.
    func inputDigest(_ spec: Spec) async throws -> String {
        var hasher = SHA256()
        for path in try await closure(of: spec.binaries) {
            hasher.update(data: Data(path.utf8))
            hasher.update(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        hasher.update(data: Data(spec.dockerfileTail.joined(separator: "\n").utf8))
        hasher.update(data: Data((spec.applets?.sorted() ?? ["*"]).joined(separator: ",").utf8))
        for path in spec.files.keys.sorted() { hasher.update(data: Data("\(path)=\(spec.files[path]!)".utf8)) }
        hasher.update(data: Data("layout-2".utf8))
        return hasher.finalize().map { String(format: "%02x", $0) }.joined().prefix(16).description
    }

    /// The binaries plus every shared library they load (from `ldd`).
    func closure(of binaries: [String]) async throws -> [String] {
        var files = Set(binaries)
        for binary in binaries {
            // `ldd` of a static binary exits 1 ("not a dynamic executable"): its output is still right.
            let listing = try await runner.run(Command("/usr/bin/ldd", [binary])).output
            for line in listing.split(separator: "\n") {
                for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) where token.hasPrefix("/") {
                    files.insert(String(token))
                }
            }
        }
        return files.sorted()
    }

    func populate(_ rootfs: URL, with spec: Spec) async throws {
        let fileManager = FileManager.default
        for directory in [
            "bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "root", "var/tmp", "var/www", "srv", "data",
            "config", "admin",
        ] {
            try fileManager.createDirectory(
                at: rootfs.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        let tmp = rootfs.appendingPathComponent("tmp")
        try fileManager.createDirectory(at: tmp, withIntermediateDirectories: true)
        try fileManager.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: tmp.path)
        try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
            .write(to: rootfs.appendingPathComponent("etc/passwd"), atomically: true, encoding: .utf8)
        try "root:x:0:\nnogroup:x:65534:\n".write(
            to: rootfs.appendingPathComponent("etc/group"), atomically: true, encoding: .utf8)
        for file in try await closure(of: spec.binaries) {
            let target = rootfs.appendingPathComponent(String(file.dropFirst()))
            try fileManager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fileManager.removeItem(at: target)
            try fileManager.copyItem(at: URL(fileURLWithPath: file).resolvingSymlinksInPath(), to: target)
        }
        for (path, content) in spec.files {
            let file = rootfs.appendingPathComponent(path)
            try fileManager.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: file, atomically: true, encoding: .utf8)
        }
        if spec.binaries.contains("/bin/busybox") {
            // One symlink per applet, at the path busybox itself reports (`--list-full`).
            let applets = try await runner.checked(Command("/bin/busybox", ["--list-full"])).output
            for applet in applets.split(separator: "\n") {
                let link = rootfs.appendingPathComponent(String(applet))
                guard !fileManager.fileExists(atPath: link.path), link.lastPathComponent != "busybox" else { continue }
                if let applets = spec.applets, !applets.contains(link.lastPathComponent) { continue }
                try fileManager.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
                try fileManager.createSymbolicLink(atPath: link.path, withDestinationPath: "/bin/busybox")
            }
        }
    }
}
