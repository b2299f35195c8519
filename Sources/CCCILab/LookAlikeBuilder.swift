import CCCICore
import CCCISystem
import Crypto
import Foundation

/// Builds a look-alike image from its declarative layout (`Fixtures/lab-images/<name>/`):
///
/// - `packages.txt`: the Debian packages that provide everything below (named when a file is missing);
/// - `binaries.txt`: host executables, copied to the same path with the libraries `ldd` lists;
/// - `trees.txt`: `SRC [DEST]` host files or directories copied whole; `-PATH` prunes a path
///   afterwards; every ELF file left in a tree brings its libraries too;
/// - `links.txt`: `LINK TARGET` symlinks made in the image;
/// - `files/`: copied over the image as they are; `modes.txt`: `PATH MODE`;
/// - `Dockerfile.tail`: the lines after `FROM scratch` / `COPY rootfs/ /`.
///
/// Like the lab's own images it is labelled with a digest of its inputs and rebuilt only when
/// they change. `#` starts a comment in every list.
public struct LookAlikeBuilder: Sendable {
    public let layouts: URL
    public let buildDirectory: URL
    public let runner: ProcessRunner

    public init(layouts: URL, buildDirectory: URL, runner: ProcessRunner = ProcessRunner()) {
        self.layouts = layouts
        self.buildDirectory = buildDirectory
        self.runner = runner
    }

    /// The image a layout builds.
    public static func reference(_ name: String) -> String { "ccci-lab/\(name):latest" }

    /// `Fixtures/lab-images` beside a `Fixtures/recipes` directory.
    public static func layouts(besideFixtures fixtures: URL) -> URL {
        fixtures.deletingLastPathComponent().appendingPathComponent("lab-images")
    }

    func lines(_ name: String, of layout: URL) -> [[String]] {
        guard let text = try? String(contentsOf: layout.appendingPathComponent(name), encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").compactMap { line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            return fields.isEmpty ? nil : fields
        }
    }

    /// Builds `name` unless an image with the same input digest exists. Returns whether it built.
    @discardableResult
    public func ensure(_ name: String) async throws -> Bool {
        let layout = layouts.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: layout.appendingPathComponent("Dockerfile.tail").path) else {
            throw LookAlikeBuildError.noLayout(name, layouts.path)
        }
        let packages = lines("packages.txt", of: layout).map { $0[0] }
        let binaries = lines("binaries.txt", of: layout).map { $0[0] }
        let trees = lines("trees.txt", of: layout).filter { !$0[0].hasPrefix("-") }
        let prunes = lines("trees.txt", of: layout).filter { $0[0].hasPrefix("-") }.map { String($0[0].dropFirst()) }
        for path in binaries + trees.map({ $0[0] }) where !FileManager.default.fileExists(atPath: path) {
            throw LabError.missingBinary(path, package: packages.joined(separator: " "))
        }
        let reference = Self.reference(name)
        let digest = try inputDigest(layout: layout, hostPaths: binaries + trees.map { $0[0] } + ["/bin/busybox"])
        let inspect = try await runner.run(
            Command(
                "docker", ["image", "inspect", "--format", "{{ index .Config.Labels \"ccci.lab.digest\" }}", reference])
        )
        if inspect.succeeded, inspect.output.trimmingCharacters(in: .whitespacesAndNewlines) == digest { return false }

        let context = buildDirectory.appendingPathComponent("lookalike-\(name)")
        let rootfs = context.appendingPathComponent("rootfs")
        let fileManager = FileManager.default
        try? fileManager.removeItem(at: context)
        for directory in ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "root", "run"] {
            try fileManager.createDirectory(
                at: rootfs.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        for directory in ["tmp", "var/tmp"] {
            let url = rootfs.appendingPathComponent(directory)
            try fileManager.createDirectory(at: url, withIntermediateDirectories: true)
            try fileManager.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: url.path)
        }
        try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
            .write(to: rootfs.appendingPathComponent("etc/passwd"), atomically: true, encoding: .utf8)
        try "root:x:0:\nnogroup:x:65534:\n".write(
            to: rootfs.appendingPathComponent("etc/group"), atomically: true, encoding: .utf8)
        try "hosts: files dns\npasswd: files\ngroup: files\n".write(
            to: rootfs.appendingPathComponent("etc/nsswitch.conf"), atomically: true, encoding: .utf8)

        func copyHostFile(_ path: String) throws {
            let target = rootfs.appendingPathComponent(String(path.dropFirst()))
            if (try? fileManager.destinationOfSymbolicLink(atPath: target.path)) != nil {
                try fileManager.removeItem(at: target)  // a busybox applet the real binary replaces
            } else if fileManager.fileExists(atPath: target.path) {
                return
            }
            try fileManager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fileManager.copyItem(at: URL(fileURLWithPath: path).resolvingSymlinksInPath(), to: target)
        }
        try copyHostFile("/bin/busybox")
        for applet in try await runner.checked(Command("/bin/busybox", ["--list-full"])).output.split(separator: "\n") {
            let link = rootfs.appendingPathComponent(String(applet))
            guard link.lastPathComponent != "busybox", !fileManager.fileExists(atPath: link.path) else { continue }
            try fileManager.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fileManager.createSymbolicLink(atPath: link.path, withDestinationPath: "/bin/busybox")
        }
        var elves = binaries
        for binary in binaries {
            let target = rootfs.appendingPathComponent(String(binary.dropFirst()))
            if (try? fileManager.destinationOfSymbolicLink(atPath: target.path)) != nil {
                try fileManager.removeItem(at: target)
            }
            try copyHostFile(binary)
        }
        for tree in trees {
            let destination = rootfs.appendingPathComponent(String((tree.count > 1 ? tree[1] : tree[0]).dropFirst()))
            try fileManager.createDirectory(
                at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await runner.checked(Command("cp", ["-a", "--no-target-directory", tree[0], destination.path]))
        }
        for prune in prunes {
            try? fileManager.removeItem(at: rootfs.appendingPathComponent(String(prune.dropFirst())))
        }
        // The libraries of every ELF file the (pruned) trees hold, as copied.
        for tree in trees {
            let inImage = (tree.count > 1 ? tree[1] : tree[0])
            for file in Self.regularFiles(under: rootfs.appendingPathComponent(String(inImage.dropFirst())).path)
            where Self.isELF(file) {
                elves.append(file)
            }
        }
        for library in try await libraries(of: elves) { try copyHostFile(library) }
        for link in lines("links.txt", of: layout) where link.count == 2 {
            let url = rootfs.appendingPathComponent(String(link[0].dropFirst()))
            try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fileManager.removeItem(at: url)
            try fileManager.createSymbolicLink(atPath: url.path, withDestinationPath: link[1])
        }
        let files = layout.appendingPathComponent("files")
        if fileManager.fileExists(atPath: files.path) {
            try await runner.checked(Command("cp", ["-a", files.path + "/.", rootfs.path + "/"]))
        }
        for mode in lines("modes.txt", of: layout) where mode.count == 2 {
            let path = rootfs.appendingPathComponent(String(mode[0].dropFirst())).path
            guard let bits = Int(mode[1], radix: 8), fileManager.fileExists(atPath: path) else {
                throw LookAlikeBuildError.badMode(name, mode.joined(separator: " "))
            }
            try fileManager.setAttributes([.posixPermissions: bits], ofItemAtPath: path)
        }
        let tail =
            lines("Dockerfile.tail", of: layout).isEmpty
            ? "" : try String(contentsOf: layout.appendingPathComponent("Dockerfile.tail"), encoding: .utf8)
        let dockerfile =
            "FROM scratch\nCOPY rootfs/ /\nLABEL ccci.lab=true ccci.lookalike=\(name) ccci.lab.digest=\(digest)\n"
            + tail
        try dockerfile.write(to: context.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try await runner.checked(
            Command(
                "docker", ["build", "--quiet", "--tag", reference, context.path],
                environment: ["DOCKER_BUILDKIT": "0"]))
        try? fileManager.removeItem(at: context)
        return true
    }

    /// Every shared library the ELF files load (`ldd`; a static file lists none).
    func libraries(of files: [String]) async throws -> [String] {
        var libraries = Set<String>()
        for file in Set(files).sorted() {
            let listing = try await runner.run(Command("/usr/bin/ldd", [file])).output
            for line in listing.split(separator: "\n") {
                for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) where token.hasPrefix("/") {
                    libraries.insert(String(token))
                }
            }
        }
        return libraries.sorted()
    }

    static func regularFiles(under path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let relative = enumerator?.nextObject() as? String {
            if enumerator?.fileAttributes?[.type] as? FileAttributeType == .typeRegular {
                files.append("\(path)/\(relative)")
            }
        }
        return files.sorted()
    }

    static func isELF(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x7F, 0x45, 0x4C, 0x46])
    }

    /// A digest of the layout's own files (content) and the host files it takes (path, size,
    /// modification time: trees can be large).
    func inputDigest(layout: URL, hostPaths: [String]) throws -> String {
        var hasher = SHA256()
        for file in Self.regularFiles(under: layout.path) {
            hasher.update(data: Data(file.dropFirst(layout.path.count).utf8))
            hasher.update(data: try Data(contentsOf: URL(fileURLWithPath: file)))
        }
        for root in hostPaths.sorted() {
            for file in Self.regularFiles(under: root) {
                let attributes = try? FileManager.default.attributesOfItem(atPath: file)
                let size = (attributes?[.size] as? Int) ?? 0
                let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                hasher.update(data: Data("\(file):\(size):\(modified)".utf8))
            }
        }
        hasher.update(data: Data("lookalike-1".utf8))
        return hasher.finalize().map { String(format: "%02x", $0) }.joined().prefix(16).description
    }
}

public enum LookAlikeBuildError: Error, Sendable, CustomStringConvertible {
    case noLayout(String, String)
    case badMode(String, String)

    public var description: String {
        switch self {
        case .noLayout(let name, let directory): return "no look-alike layout \(name) in \(directory)"
        case .badMode(let name, let line):
            return "lab-images/\(name)/modes.txt: '\(line)' is not PATH OCTAL-MODE of a file the image has "
                + "(git keeps no empty directory: make one in Dockerfile.tail's RUN line)"
        }
    }
}
