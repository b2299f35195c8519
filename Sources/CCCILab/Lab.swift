import CCCICore
import CCCIDeploy
import CCCIGit
import CCCISwarm
import CCCISystem
import Foundation
import Logging

/// The local lab (SPEC §3): a single-node swarm with the `proxy` network, the lab images, the
/// caddy ingress and the fixture recipes, on a machine with no registry and no internet.
///
/// `up` is idempotent: every part is checked and only created when missing. `down` removes only
/// what the lab creates (the ingress, its watcher, the lab images, the generated fixture
/// repositories, and the `proxy` network when the lab created it); the engine and the swarm stay.
/// The engine itself is installed and started by `scripts/lab`, before this code can run.
public struct Lab: Sendable {
    /// The stack name of the lab's own services.
    public static let stack = "ccci-lab"
    public static let network = "proxy"
    public static let labLabel = "ccci.lab"

    public let config: NodeConfig
    public let engine: DockerEngine
    public let runner: ProcessRunner
    public let logger: Logger

    public init(config: NodeConfig, engine: DockerEngine, runner: ProcessRunner = ProcessRunner(), logger: Logger) {
        self.config = config
        self.engine = engine
        self.runner = runner
        self.logger = logger
    }

    var directory: URL { config.labDirectory }
    var ingressDirectory: URL { directory.appendingPathComponent("ingress") }
    var watcherPIDFile: URL { directory.appendingPathComponent("ingress-watch.pid") }
    public var watcherLog: URL { directory.appendingPathComponent("ingress-watch.log") }

    /// The lab's mirror and private registries.
    public var registry: LabRegistry {
        LabRegistry(labDirectory: directory, caCertificate: config.labCACertificate, runner: runner)
    }

    /// The lab ingress client.
    public var ingress: LabIngress {
        LabIngress(
            engine: engine, adminSocket: config.ingressAdminSocket,
            lockFile: ingressDirectory.appendingPathComponent("sync.lock"))
    }

    // MARK: - up

    /// Brings every part up. `fixtures` is the `Fixtures/recipes` directory to materialise into
    /// the catalogue (skipped when `nil`); `watcher` is the ccci executable that runs the ingress
    /// watcher (not started when `nil`). `report` receives one line per part.
    /// `registries`: the mirror and private registries, the real recipes and the look-alikes
    /// (an extra node of `scripts/nodes` runs without them, on the lab's local images).
    public func up(
        fixtures: URL?, watcher: URL?, registries: Bool = true, report: @Sendable (String) -> Void
    ) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await ensureSwarm(report: report)
        try await ensureNetwork(report: report)
        let images = LabImages(buildDirectory: directory.appendingPathComponent("images"), runner: runner)
        for spec in LabImages.all {
            let built = try await images.ensure(spec)
            report("image \(spec.reference): \(built ? "built" : "up to date")")
        }
        try await ensureIngress(report: report)
        if registries { try await registry.ensure(engine: engine, report: report) }
        let restic = ResticStore(directory: config.resticDirectory, runner: runner, secrets: SecretRegistry())
        let initialised = try await restic.ensureRepository()
        report("restic: node repository \(initialised ? "initialised" : "present") at \(restic.repository.path)")
        if let fixtures {
            let recipes = FixtureRecipes(root: fixtures)
            for name in try recipes.names() {
                let repository = try await recipes.materialize(
                    name, at: config.catalogueDirectory.appendingPathComponent(name))
                report("fixture \(name): \(repository.releases.count) releases + PR head at \(repository.path.path)")
            }
            let packs = fixtures.deletingLastPathComponent().appendingPathComponent("packs")
            if FileManager.default.fileExists(atPath: packs.path) {
                try? FileManager.default.removeItem(at: config.packsDirectory)
                try FileManager.default.createDirectory(
                    at: config.packsDirectory.deletingLastPathComponent(), withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: packs, to: config.packsDirectory)
                report("packs: \(config.packsDirectory.path)")
            }
        }
        if let fixtures, registries {
            try await ensureUpstreamRecipes(
                fixtures.deletingLastPathComponent().appendingPathComponent("upstream"), report: report)
            try await publishCatalogueImages(
                layouts: LookAlikeBuilder.layouts(besideFixtures: fixtures), report: report)
        }
        if let watcher {
            try await ensureWatcher(executable: watcher, report: report)
        }
    }

    /// Clones each real recipe (`Fixtures/upstream/<name>/repo.bundle`) into the catalogue,
    /// unless the catalogue already holds it at the pinned commit.
    func ensureUpstreamRecipes(_ upstream: URL, report: (String) -> Void) async throws {
        let git = Git(runner: runner)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: upstream.path)) ?? []
        for name in names.sorted() {
            let bundle = upstream.appendingPathComponent("\(name)/repo.bundle")
            guard FileManager.default.fileExists(atPath: bundle.path) else { continue }
            let pinned =
                try await git.run(["bundle", "list-heads", bundle.path], in: nil)
                .split(separator: " ").first.map(String.init) ?? ""
            let destination = config.catalogueDirectory.appendingPathComponent(name)
            if (try? await git.commit(of: "HEAD", in: destination)) == pinned {
                report("recipe \(name): at \(pinned.prefix(12)) (upstream, unmodified)")
                continue
            }
            try? FileManager.default.removeItem(at: destination)
            try await git.run(["clone", "--quiet", "--branch", "main", bundle.path, destination.path], in: nil)
            report("recipe \(name): cloned at \(pinned.prefix(12)) from \(bundle.path)")
        }
    }

    /// The publisher of look-alikes to the lab mirror.
    public func publisher(layouts: URL) -> LookAlikePublisher {
        let build = directory.appendingPathComponent("images")
        return LookAlikePublisher(
            images: LabImages(buildDirectory: build, runner: runner),
            builder: LookAlikeBuilder(layouts: layouts, buildDirectory: build, runner: runner), runner: runner,
            stateFile: registry.directory.appendingPathComponent("pushed.json"))
    }

    /// Pushes a look-alike to the mirror for every image any catalogue recipe names, at any of
    /// its releases or its head, so every recipe of the catalogue can run with image_policy = pull.
    func publishCatalogueImages(layouts: URL, report: @Sendable (String) -> Void) async throws {
        let scan = RecipeImageScan(git: Git(runner: runner))
        var references = Set<ImageReference>()
        let recipes = (try? FileManager.default.contentsOfDirectory(atPath: config.catalogueDirectory.path)) ?? []
        for recipe in recipes.sorted() {
            let found = try await scan.scan(config.catalogueDirectory.appendingPathComponent(recipe))
            for image in found.images.keys {
                if let reference = try? ImageReference(image) { references.insert(reference) }
            }
        }
        let outcomes = try await publisher(layouts: layouts).publish(
            Array(references), to: LabRegistry.mirrorHost, report: report)
        let pushed = outcomes.values.filter { if case .pushed = $0 { return true } else { return false } }.count
        let current = outcomes.values.filter { if case .upToDate = $0 { return true } else { return false } }.count
        let uncovered = outcomes.filter { $0.value == .notCovered }.keys.map(\.description).sorted()
        report(
            "mirror: \(pushed) image tags pushed, \(current) up to date"
                + (uncovered.isEmpty ? "" : "; no look-alike for \(uncovered.joined(separator: ", "))"))
    }

    func ensureSwarm(report: (String) -> Void) async throws {
        let info = try await engine.info()
        switch info.Swarm?.LocalNodeState {
        case "active":
            guard info.Swarm?.ControlAvailable == true else { throw LabError.notManager }
            report("swarm: active (manager)")
        case "inactive", nil:
            try await engine.swarmInit(advertiseAddress: "127.0.0.1")
            try markCreated("swarm")
            report("swarm: initialised (advertise 127.0.0.1)")
        case let state?:
            throw LabError.swarmState(state)
        }
    }

    func ensureNetwork(report: (String) -> Void) async throws {
        if let network = try await engine.networks(names: [Self.network]).first(where: { $0.Name == Self.network }) {
            guard network.Driver == "overlay" else { throw LabError.networkNotOverlay(network.Driver ?? "?") }
            report("network \(Self.network): present")
            return
        }
        try await engine.createNetwork(
            name: Self.network, driver: "overlay", attachable: true, labels: [Self.labLabel: "true"])
        report("network \(Self.network): created (overlay, attachable)")
    }

    func ensureIngress(report: (String) -> Void) async throws {
        let fileManager = FileManager.default
        for part in ["data", "config", "admin"] {
            try fileManager.createDirectory(
                at: ingressDirectory.appendingPathComponent(part), withIntermediateDirectories: true)
        }
        let configFile = ingressDirectory.appendingPathComponent("config/caddy.json")
        try AtomicFile.write(
            try JSONCoding.prettyEncoder.encode(LabIngress.configuration(routes: [])), to: configFile)
        let compose = """
            # The cc-ci lab ingress: caddy honouring traefik labels (configured by `ccci lab`).
            version: "3.8"
            services:
              caddy:
                image: \(LabImages.ingress.reference)
                ports:
                  - {target: 80, published: 80, protocol: tcp, mode: host}
                  - {target: 443, published: 443, protocol: tcp, mode: host}
                volumes:
                  - \(ingressDirectory.path)/data:/data
                  - \(ingressDirectory.path)/config:/config
                  - \(ingressDirectory.path)/admin:/admin
                networks: [\(Self.network)]
                deploy:
                  endpoint_mode: dnsrr
                  labels:
                    - "\(Self.labLabel)=true"
            networks:
              \(Self.network):
                external: true

            """
        let composeFile = ingressDirectory.appendingPathComponent("compose.yml")
        try AtomicFile.write(compose, to: composeFile)
        let deployer = StackDeployer(runner: runner, resolveImage: .never)
        try await deployer.deploy(
            stack: Self.stack, composeFiles: [composeFile], environment: [:], workingDirectory: ingressDirectory)
        try await ConvergenceWaiter(engine: engine, logger: logger).wait(stack: Self.stack, timeout: .seconds(60))
        guard try await poll(until: { await ingress.isReady() }, timeout: .seconds(30)) else {
            throw LabError.ingressNotReady(config.ingressAdminSocket.path)
        }
        let routes = try await ingress.syncRoutes()
        report("ingress: caddy up on :80/:443, \(routes.count) routes, CA \(config.labCACertificate.path)")
    }

    func ensureWatcher(executable: URL, report: (String) -> Void) async throws {
        if let pid = watcherPID() {
            report("ingress watcher: running (pid \(pid))")
            return
        }
        try? FileManager.default.removeItem(at: watcherPIDFile)
        // Detached from this process (new session), logging to the lab directory.
        let script = "setsid -f \"$0\" lab ingress --watch --pid-file \"$1\" >>\"$2\" 2>&1 </dev/null"
        try await runner.checked(
            Command("/bin/sh", ["-c", script, executable.path, watcherPIDFile.path, watcherLog.path]))
        guard let pid = try await poll(until: { watcherPID() }, timeout: .seconds(10)) else {
            throw LabError.watcherDidNotStart(watcherLog.path)
        }
        report("ingress watcher: started (pid \(pid), log \(watcherLog.path))")
    }

    /// The watcher's pid when it is alive and is a ccci process.
    func watcherPID() -> Int32? {
        guard let text = try? String(contentsOf: watcherPIDFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let commandLine = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
            commandLine.contains("ingress")
        else { return nil }
        return pid
    }

    func markCreated(_ part: String) throws {
        let file = directory.appendingPathComponent("created-\(part)")
        try AtomicFile.write("created by ccci lab up\n", to: file)
    }

    // MARK: - status

    /// One line per part, and whether every part is present.
    public func status() async -> (lines: [String], healthy: Bool) {
        var lines: [String] = []
        var healthy = true
        func part(_ name: String, _ ok: Bool, _ detail: String) {
            lines.append("\(ok ? "ok  " : "MISSING") \(name): \(detail)")
            if !ok { healthy = false }
        }
        part("engine", true, "Docker \(engine.engineVersion), API \(engine.apiVersion)")
        let info = try? await engine.info()
        let swarmState = info?.Swarm?.LocalNodeState ?? "unknown"
        part("swarm", swarmState == "active" && info?.Swarm?.ControlAvailable == true, swarmState)
        let network = (try? await engine.networks(names: [Self.network]))?.first { $0.Name == Self.network }
        part(
            "network \(Self.network)", network?.Driver == "overlay",
            network.map { "\($0.Driver ?? "?"), attachable \($0.Attachable ?? false)" } ?? "absent")
        for spec in LabImages.all {
            let exists = (try? await engine.imageExists(spec.reference)) ?? false
            part("image \(spec.reference)", exists, exists ? "present" : "absent")
        }
        let ingressService = (try? await engine.services(stack: Self.stack))?.first
        let converged =
            (try? await ConvergenceWaiter(engine: engine, logger: logger).snapshot(stack: Self.stack))?.converged
            ?? false
        let ready = await ingress.isReady()
        part(
            "ingress", ingressService != nil && converged && ready,
            ingressService == nil
                ? "absent" : "\(converged ? "running" : "not running"), admin API \(ready ? "answers" : "silent")")
        let ca = FileManager.default.fileExists(atPath: config.labCACertificate.path)
        part("ingress CA", ca, config.labCACertificate.path)
        let pid = watcherPID()
        part("ingress watcher", pid != nil, pid.map { "pid \($0)" } ?? "not running")
        for registryPart in await registry.status() { part(registryPart.name, registryPart.ok, registryPart.detail) }
        return (lines, healthy)
    }

    // MARK: - down

    /// Removes what the lab created. `report` receives one line per part.
    public func down(report: @Sendable (String) -> Void) async throws {
        if let pid = watcherPID() {
            kill(pid, SIGTERM)
            report("ingress watcher: stopped (pid \(pid))")
        }
        try? FileManager.default.removeItem(at: watcherPIDFile)
        let residue = try await StackJanitor(engine: engine, ownership: .stackNamespace).remove(stack: Self.stack)
        report("ingress: removed\(residue.isEmpty ? "" : " (left: \(residue.summary))")")
        try await registry.down(report: report)
        for spec in LabImages.all {
            _ = try await runner.run(Command("docker", ["image", "rm", "--force", spec.reference]))
            report("image \(spec.reference): removed")
        }
        if let network = try await engine.networks(names: [Self.network]).first(where: { $0.Name == Self.network }),
            network.labels[Self.labLabel] == "true"
        {
            do {
                try await engine.removeNetwork(network.Id)
                report("network \(Self.network): removed")
            } catch {
                report("network \(Self.network): kept (\(error))")
            }
        }
        if FileManager.default.fileExists(atPath: config.catalogueDirectory.path) {
            try FileManager.default.removeItem(at: config.catalogueDirectory)
            report("fixtures: removed \(config.catalogueDirectory.path)")
        }
    }
}

/// The lab cannot be brought up.
public enum LabError: Error, Sendable, CustomStringConvertible {
    case missingBinary(String, package: String)
    case notManager
    case swarmState(String)
    case networkNotOverlay(String)
    case ingressNotReady(String)
    case watcherDidNotStart(String)

    public var description: String {
        switch self {
        case .missingBinary(let path, let package):
            return "\(path) is missing — install Debian's \(package) package (`scripts/lab up` does)"
        case .notManager:
            return "this node is in a swarm but not a manager — run the lab on a manager node"
        case .swarmState(let state):
            return "the swarm is '\(state)' — fix it with `docker swarm leave --force` and run `lab up` again"
        case .networkNotOverlay(let driver):
            return "a network named proxy exists with driver \(driver); the lab needs an overlay network — remove it"
        case .ingressNotReady(let socket):
            return
                "the ingress started but its admin API never answered on \(socket) — see `docker service logs ccci-lab_caddy`"
        case .watcherDidNotStart(let log):
            return "the ingress watcher did not start — see \(log)"
        }
    }
}
