import CCCICore
import CCCIGit
import CCCISwarm
import CCCISystem
import Foundation

/// The lab's stand-ins for upstream images (`docs/lab-images.md`): images built from Debian
/// packages that honour the official images' conventions, pushed to the lab's Docker Hub mirror
/// under every tag a recipe names, so a real recipe's `nginx:1.19.2` is pulled as on a
/// production node. They are look-alikes, not the upstream images: the lab has no internet.
public enum LookAlikes {
    /// One row of the table: which references a lab image stands in for.
    public struct Entry: Sendable {
        /// How the table row reads (`nginx:*`, `php:*fpm*`).
        public let pattern: String
        public let source: Source
        let matches: @Sendable (ImageReference) -> Bool

        /// The local image pushed for the references the row matches.
        public var localReference: String {
            switch source {
            case .layout(let name): return LookAlikeBuilder.reference(name)
            case .lab(let spec): return spec.reference
            }
        }
    }

    /// Where a row's image comes from.
    public enum Source: Sendable {
        /// A look-alike layout (`Fixtures/lab-images/<name>`).
        case layout(String)
        /// One of the lab's own images (the fixtures' `ccci-lab/*`), so fixtures pull too.
        case lab(LabImages.Spec)
    }

    /// The table: first match wins.
    public static let table: [Entry] = [
        Entry(pattern: "nginx:*", source: .layout("nginx")) { $0.isDockerHub("library/nginx") },
        Entry(pattern: "mariadb:*", source: .layout("mariadb")) { $0.isDockerHub("library/mariadb") },
        Entry(pattern: "postgres:*", source: .layout("postgres")) { $0.isDockerHub("library/postgres") },
        Entry(pattern: "php:*fpm*", source: .layout("php-fpm")) {
            $0.isDockerHub("library/php") && ($0.tag ?? "").contains("fpm")
        },
        Entry(pattern: "ccci-lab/busybox:*", source: .lab(LabImages.busybox)) { $0.isDockerHub("ccci-lab/busybox") },
        Entry(pattern: "ccci-lab/noshell:*", source: .lab(LabImages.noShell)) { $0.isDockerHub("ccci-lab/noshell") },
    ]

    /// The look-alike for `reference`, if the table covers it.
    public static func entry(for reference: ImageReference) -> Entry? {
        table.first { $0.matches(reference) }
    }
}

extension ImageReference {
    /// Whether this names Docker Hub's `repository` (any tag).
    func isDockerHub(_ repository: String) -> Bool {
        registry == ImageReference.dockerHub && self.repository == repository
    }
}

/// Every image a recipe names: in each compose file of every release tag and of the head (a git
/// repository), or of the directory as it is, interpolated with that version's `.env.sample`.
public struct RecipeImageScan: Sendable {
    public struct Found: Sendable {
        /// Image reference → where it is named (`<ref>:<file>`).
        public var images: [String: [String]] = [:]
        /// References that could not be read (an unset variable, a malformed file), with why.
        public var unreadable: [String] = []
    }

    public let git: Git

    public init(git: Git) { self.git = git }

    public func scan(_ recipe: URL) async throws -> Found {
        var found = Found()
        let exists = { (name: String) in
            FileManager.default.fileExists(atPath: recipe.appendingPathComponent(name).path)
        }
        let isRepository = exists(".git") || (exists("HEAD") && exists("objects"))  // a work tree, or bare
        guard isRepository else {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: recipe.path)) ?? []
            let sample = try? String(contentsOf: recipe.appendingPathComponent(".env.sample"), encoding: .utf8)
            for name in names.filter(Self.isComposeFile).sorted() {
                let text = try String(contentsOf: recipe.appendingPathComponent(name), encoding: .utf8)
                Self.collect(text, file: name, at: "files", sample: sample, into: &found)
            }
            return found
        }
        var refs = try await git.tags(in: recipe).map(\.name).sorted()
        refs.append("HEAD")
        for ref in refs {
            let listing = try await git.run(["ls-tree", "--name-only", ref], in: recipe)
            let sample = try await git.file(".env.sample", at: ref, in: recipe)
            for name in listing.split(separator: "\n").map(String.init).filter(Self.isComposeFile) {
                guard let text = try await git.file(name, at: ref, in: recipe) else { continue }
                Self.collect(text, file: name, at: ref, sample: sample, into: &found)
            }
        }
        return found
    }

    static func isComposeFile(_ name: String) -> Bool {
        name.hasPrefix("compose") && (name.hasSuffix(".yml") || name.hasSuffix(".yaml"))
            || name == "docker-compose.yml"
    }

    static func collect(_ text: String, file: String, at ref: String, sample: String?, into found: inout Found) {
        var environment: [String: String] = ["STACK_NAME": "lab", "DOMAIN": "lab.example"]
        if let sample, let env = try? EnvFile.parse(sample, source: ".env.sample") {
            for entry in env.entries { environment[entry.key] = entry.value }
        }
        let document: JSONValue
        do {
            document = try ComposeDocument.literal(yaml: text, name: file)
        } catch {
            found.unreadable.append("\(ref):\(file): \(error)")
            return
        }
        for (service, definition) in document["services"]?.objectValue ?? [:] {
            guard let raw = definition.objectValue?["image"]?.stringValue else { continue }
            do {
                let image = try Interpolation.interpolate(raw, environment: environment, location: "\(file) \(service)")
                found.images[image, default: []].append("\(ref):\(file)")
            } catch {
                found.unreadable.append("\(ref):\(file) service \(service): \(error)")
            }
        }
    }
}

/// Pushes look-alikes to a lab registry under the references recipes name.
public struct LookAlikePublisher: Sendable {
    public let images: LabImages
    public let builder: LookAlikeBuilder
    public let runner: ProcessRunner
    /// Remembers what was pushed (`<host>/<repository>:<tag>` → image id), so an unchanged lab
    /// pushes nothing.
    public let stateFile: URL

    public init(images: LabImages, builder: LookAlikeBuilder, runner: ProcessRunner, stateFile: URL) {
        self.images = images
        self.builder = builder
        self.runner = runner
        self.stateFile = stateFile
    }

    /// What became of one reference.
    public enum Outcome: Sendable, Hashable {
        case pushed(String)
        case upToDate(String)
        case notCovered
    }

    /// Pushes each covered reference to `host` (a login from `dockerConfig` when given).
    public func publish(
        _ references: [ImageReference], to host: String, dockerConfig: URL? = nil, report: (String) -> Void
    ) async throws -> [ImageReference: Outcome] {
        var state = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: stateFile))) ?? [:]
        var outcomes: [ImageReference: Outcome] = [:]
        var ids: [String: String] = [:]
        let client = RegistryClient(credentials: .none, mirrors: [])
        for reference in references.sorted(by: { $0.description < $1.description }) {
            guard let entry = LookAlikes.entry(for: reference) else {
                outcomes[reference] = .notCovered
                continue
            }
            let local = entry.localReference
            if ids[local] == nil {
                let built: Bool
                switch entry.source {
                case .layout(let name): built = try await builder.ensure(name)
                case .lab(let spec): built = try await images.ensure(spec)
                }
                if built { report("image \(local): built") }
                ids[local] = try await runner.checked(
                    Command("docker", ["image", "inspect", "--format", "{{.Id}}", local])
                ).output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let id = ids[local]!
            let target = "\(host)/\(reference.repository):\(reference.tag ?? "latest")"
            if state[target] == id, dockerConfig == nil,
                case .found = await client.manifest(of: try ImageReference(target), at: host, login: nil)
            {
                outcomes[reference] = .upToDate(target)
                continue
            }
            var environment: [String: String?] = [:]
            if let dockerConfig { environment["DOCKER_CONFIG"] = dockerConfig.path }
            try await runner.checked(Command("docker", ["tag", local, target]))
            let push = try await runner.run(Command("docker", ["push", "--quiet", target], environment: environment))
            // The local tag goes again: a node gets the image by pulling it, as in production.
            _ = try await runner.run(Command("docker", ["image", "rm", target]))
            guard push.succeeded else { throw LookAlikeError.pushFailed(target, CommandError(result: push)) }
            state[target] = id
            try AtomicFile.write(try JSONCoding.prettyEncoder.encode(state), to: stateFile)
            outcomes[reference] = .pushed(target)
            report("pushed \(local) as \(target) (\(entry.pattern))")
        }
        return outcomes
    }
}

public enum LookAlikeError: Error, Sendable, CustomStringConvertible {
    case pushFailed(String, CommandError)

    public var description: String {
        switch self {
        case .pushFailed(let target, let error): return "docker push \(target) failed: \(error)"
        }
    }
}
