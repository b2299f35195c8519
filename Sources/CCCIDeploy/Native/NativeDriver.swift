import CCCICore
import CCCIGit
import CCCISwarm
import CCCISystem
import Foundation
import Logging

/// The abra-compatible driver that talks to the swarm directly (SPEC F-DRIVER).
///
/// Like abra it keeps one env file per app domain (`<env dir>/<domain>.env`, built from the
/// recipe's `.env.sample`), names secrets `<stack>_<name>_<version>` honouring `# length=N`,
/// exports `abra.sh`'s variables and `STACK_NAME` to `docker stack deploy` of every
/// `COMPOSE_FILE` file, and stamps `coop-cloud.<stack>.version` on pinned deploys and
/// `coop-cloud.<stack>.chaos-version` on chaos deploys. On a node without IPVS it adds the lab's
/// dnsrr overlay. Every object it creates carries `ccci.*` labels naming the app and run.
public struct NativeDriver: AppDriver, BackupHost {
    public let name = "native"
    public let config: NodeConfig
    public let engine: DockerEngine
    public let runner: ProcessRunner
    public let git: any GitClient
    public let networkMode: NetworkMode
    /// Told after every deploy and removal (the lab's ingress resyncs its routes; `nil` on a
    /// production node, where traefik watches the swarm itself).
    public let ingress: (any IngressSync)?
    /// Whether ``shutdown()`` closes the engine connection (the factory's own; not a shared one).
    let ownsEngine: Bool
    public let logger: Logger
    /// Every secret value this driver generates is registered here (for redaction).
    public let secrets: SecretRegistry
    /// The node's restic repository.
    public let restic: ResticStore

    public init(
        config: NodeConfig, engine: DockerEngine, runner: ProcessRunner = ProcessRunner(), logger: Logger,
        secrets: SecretRegistry = SecretRegistry(), ingress: (any IngressSync)? = nil, ownsEngine: Bool = false
    ) {
        self.ownsEngine = ownsEngine
        self.secrets = secrets
        self.config = config
        self.engine = engine
        self.runner = runner
        self.git = Git(runner: runner)
        self.networkMode = config.networkMode.flatMap(NetworkMode.init(rawValue:)) ?? NetworkMode.detect()
        self.ingress = ingress
        self.logger = logger
        self.restic = ResticStore(directory: config.resticDirectory, runner: runner, secrets: secrets)
    }

    public var generatedOverlays: [String] {
        networkMode == .dnsrr
            ? [
                "\(NetworkMode.overlayFileName) (generated: no IPVS on this node — endpoint_mode dnsrr, host-mode ports)"
            ]
            : []
    }

    public func hasApp(_ domain: AppDomain) -> Bool {
        FileManager.default.fileExists(atPath: envFile(for: domain).path)
    }

    public func existingApp(_ spec: AppSpec) -> App? {
        guard hasApp(spec.domain) else { return nil }
        return App(spec: spec, stack: spec.domain.stack, envFile: envFile(for: spec.domain), secretValues: [:])
    }

    public func model(of app: App) throws -> AppModel {
        try AppModel.load(app)
    }

    /// The env file of a domain.
    public func envFile(for domain: AppDomain) -> URL {
        config.envDirectory.appendingPathComponent("\(domain.name).env")
    }

    /// The mark `--keep-on-failure` leaves for a kept app, beside its env file (the janitor leaves
    /// it until it expires); removing the app removes its mark.
    func keepMark(for domain: AppDomain) -> URL {
        config.envDirectory.appendingPathComponent("\(domain.name).kept")
    }

    public func keep(_ domain: AppDomain, until: Date) throws {
        try AtomicFile.write(ISO8601DateFormatter().string(from: until) + "\n", to: keepMark(for: domain))
    }

    public func keptUntil(_ domain: AppDomain) -> Date? {
        let mark = keepMark(for: domain)
        guard FileManager.default.fileExists(atPath: mark.path) else { return nil }
        guard let text = try? String(contentsOf: mark, encoding: .utf8),
            let until = ISO8601DateFormatter().date(from: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return .distantPast }
        return until
    }

    /// The labels every object of an app carries.
    public static func ownershipLabels(domain: AppDomain, runID: String) -> [String: String] {
        ["ccci.managed": "true", "ccci.app": domain.name, "ccci.stack": domain.stack, "ccci.run": runID]
    }

    // MARK: - new

    public func newApp(_ spec: AppSpec) async throws -> App {
        let envFile = envFile(for: spec.domain)
        guard !FileManager.default.fileExists(atPath: envFile.path) else {
            throw DriverError.envFileExists(envFile.path)
        }
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: spec.checkout, recipe: spec.recipe, domain: spec.domain.name, overrides: spec.extraEnv,
            extraComposeFiles: spec.packComposeFiles)
        try AtomicFile.write(resolved.env.file.rendered(), to: envFile, permissions: 0o640)
        let stack = resolved.env.stackName
        var values: [String: String] = [:]
        // A given secret this checkout does not declare (one the head adds, on the base release)
        // waits for the deploy that declares it.
        for secret in resolved.secrets where secret.generate || spec.givenSecrets[secret.name] != nil {
            let value =
                spec.givenSecrets[secret.name]
                ?? SecretGenerator.value(length: secret.length ?? SecretSpec.defaultLength)
            secrets.register(value)
            try await engine.createSecret(
                name: secret.dockerName, value: value,
                labels: Self.ownershipLabels(domain: spec.domain, runID: spec.runID))
            values[secret.name] = value
        }
        logger.info(
            "app created", metadata: ["app.domain": "\(spec.domain)", "app.secrets": "\(values.keys.sorted())"])
        return App(spec: spec, stack: stack, envFile: envFile, secretValues: values)
    }

    // MARK: - deploy

    /// Deploys with extra env keys written into the app env first (meta `upgrade_extra_env`).
    public func deploy(
        _ app: App, mode: DeployMode, envOverrides: [String: String], prune: Bool
    ) async throws -> DeployRecord {
        let spec = app.spec
        var envText = try String(contentsOf: app.envFile, encoding: .utf8)
        var env = try EnvFile.parse(envText, source: app.envFile.path)
        // An operator upgrading reads the release notes and adds the keys the new version needs;
        // cc-ci takes them from the new `.env.sample`.
        var added: [String] = []
        let samplePath = try ContainedPath.resolve(".env.sample", in: spec.checkout, what: ".env.sample")
        if let sampleText = try? String(contentsOf: samplePath, encoding: .utf8) {
            let sample = AppEnv(
                sample: try EnvFile.parse(sampleText, source: samplePath.path), recipe: spec.recipe,
                domain: spec.domain.name
            )
            for entry in sample.file.entries where env[entry.key] == nil {
                env.set(entry.key, entry.value)
                added.append(entry.key)
            }
        }
        for key in envOverrides.keys.sorted() { env.set(key, envOverrides[key]!) }
        if !added.isEmpty || !envOverrides.isEmpty {
            envText = env.rendered()
            try AtomicFile.write(envText, to: app.envFile, permissions: 0o640)
        }
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: spec.checkout, recipe: spec.recipe, domain: spec.domain.name,
            extraComposeFiles: spec.packComposeFiles, existingEnv: env)
        let created = try await ensureSecrets(resolved.secrets, app: app)
        let prepared = try await prepareImages(resolved.project)

        let label: String
        let value: String
        switch mode {
        case .pinned(let version):
            label = "coop-cloud.\(app.stack).version"
            value = version.raw
        case .chaos:
            label = "coop-cloud.\(app.stack).chaos-version"
            let commit = try await git.commit(of: "HEAD", in: spec.checkout)
            value = String(commit.prefix(8)) + (try await git.isDirty(spec.checkout) ? "+U" : "")
        }
        let directory = spec.workDirectory.appendingPathComponent(spec.domain.name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var generated: [URL] = []
        let labelsFile = directory.appendingPathComponent("compose.ccci-labels.yml")
        try AtomicFile.write(
            Self.labelOverlay(
                project: resolved.project, version: (label, value),
                ownership: Self.ownershipLabels(domain: spec.domain, runID: spec.runID)),
            to: labelsFile)
        generated.append(labelsFile)
        if let overlay = networkMode.overlay(for: resolved.project) {
            let file = directory.appendingPathComponent(NetworkMode.overlayFileName)
            try AtomicFile.write(overlay, to: file)
            generated.append(file)
        }
        if let overlay = Self.imageOverlay(prepared, project: resolved.project) {
            let file = directory.appendingPathComponent("compose.ccci-images.yml")
            try AtomicFile.write(overlay, to: file)
            generated.append(file)
        }
        let files = resolved.composeFileURLs + generated
        try await StackDeployer(
            runner: runner, resolveImage: StackDeployer.ResolveImage(rawValue: config.resolveImage) ?? .never
        )
        .deploy(
            stack: app.stack, composeFiles: files, environment: resolved.deployEnvironment,
            workingDirectory: spec.checkout, logFile: directory.appendingPathComponent("deploy.log"), prune: prune,
            registryAuth: config.registryAuth.map { URL(fileURLWithPath: $0) })
        if let ingress { try await ingress.sync() }
        logger.info(
            "deployed",
            metadata: ["app.domain": "\(spec.domain)", "deploy.label": "\(label)=\(value)", "env.added": "\(added)"])
        return DeployRecord(
            label: label, value: value, composeFiles: files.map(\.path), generatedFiles: generated.map(\.path),
            addedEnvKeys: added, createdSecrets: created,
            images: prepared.keys.sorted().map { service in
                let image = prepared[service]!
                return DeployedImage(
                    app: "", service: service, image: resolved.project.services[service]?.image ?? "",
                    digest: image.digest, id: image.id, source: image.source, sizeBytes: image.sizeBytes)
            })
    }

    /// A compose overlay that stamps the version label on every service and cc-ci's ownership
    /// labels on everything the deploy creates: services (`deploy.labels`), their containers
    /// (`labels`), and the volumes, networks, configs and secrets the project defines (external
    /// ones are not ours, and compose forbids labels on them). Teardown removes only objects
    /// carrying these labels (``StackOwnership/ccci``).
    public static func labelOverlay(
        project: ComposeProject, version: (key: String, value: String), ownership: [String: String]
    ) -> String {
        func quoted(_ text: String) -> String {
            let data = try? JSONEncoder().encode(text)
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
        }
        func labelLines(_ labels: [String: String], indent: Int) -> [String] {
            let pad = String(repeating: " ", count: indent)
            return labels.keys.sorted().map { "\(pad)\(quoted($0)): \(quoted(labels[$0]!))" }
        }
        var lines = [
            "# Generated by cc-ci: the version stamp and cc-ci's ownership labels.", "version: \"3.8\"", "services:",
        ]
        for service in project.serviceNames {
            lines += ["  \(quoted(service)):", "    labels:"] + labelLines(ownership, indent: 6)
            lines += ["    deploy:", "      labels:"]
            lines += labelLines(ownership.merging([version.key: version.value]) { _, new in new }, indent: 8)
        }
        // `docker stack deploy` replaces a top-level object's whole definition with a later file's,
        // so each one is written out in full (as JSON, which YAML reads) with the labels added.
        // Its strings were interpolated already: `$` is escaped so docker leaves them as they are.
        func section(_ name: String, _ ids: [String]) {
            guard !ids.isEmpty else { return }
            lines.append("\(name):")
            for id in ids.sorted() {
                var definition = project.document[name]?[id]?.objectValue ?? [:]
                var labels = (definition["labels"]?.objectValue ?? [:])
                for (key, value) in ownership { labels[key] = .string(value) }
                definition["labels"] = .object(labels)
                lines.append("  \(quoted(id)): \(flow(escapingDollars(.object(definition))))")
            }
        }
        section("volumes", project.volumes.filter { !$0.value.external }.map(\.key))
        var networks = Set(project.networks.filter { !$0.value.external }.map(\.key))
        // Services that name no network join the stack's `default` network, which deploy creates.
        if project.services.values.contains(where: { $0.networks.isEmpty }), project.networks["default"] == nil {
            networks.insert("default")
        }
        section("networks", Array(networks))
        section("configs", project.configs.filter { !$0.value.external }.map(\.key))
        section("secrets", project.secrets.filter { !$0.value.external }.map(\.key))
        return lines.joined(separator: "\n") + "\n"
    }

    /// `value` as one line of JSON (YAML flow style), keys sorted.
    static func flow(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Every string in `value` with `$` doubled, so compose interpolation leaves it unchanged.
    static func escapingDollars(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text.replacingOccurrences(of: "$", with: "$$"))
        case .array(let items): return .array(items.map(escapingDollars))
        case .object(let object): return .object(object.mapValues(escapingDollars))
        default: return value
        }
    }

    /// Creates the secrets a deploy needs that do not exist yet (a newer version may add some).
    func ensureSecrets(_ secrets: [SecretSpec], app: App) async throws -> [String] {
        guard !secrets.isEmpty else { return [] }
        let existing = Set(try await engine.secrets(names: secrets.map(\.dockerName)).map(\.name))
        var created: [String] = []
        for secret in secrets
        where (secret.generate || app.spec.givenSecrets[secret.name] != nil) && !existing.contains(secret.dockerName) {
            let value =
                app.spec.givenSecrets[secret.name]
                ?? SecretGenerator.value(length: secret.length ?? SecretSpec.defaultLength)
            self.secrets.register(value)
            try await engine.createSecret(
                name: secret.dockerName, value: value,
                labels: Self.ownershipLabels(domain: app.domain, runID: app.spec.runID))
            created.append(secret.dockerName)
        }
        return created
    }

    public func setSecrets(_ app: App, _ values: [String: String], replace: Bool) async throws -> App {
        guard !values.isEmpty else { return app }
        let env = try EnvFile.parse(String(contentsOf: app.envFile, encoding: .utf8), source: app.envFile.path)
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: app.spec.checkout, recipe: app.recipe, domain: app.domain.name,
            extraComposeFiles: app.spec.packComposeFiles, existingEnv: env)
        let declared = Dictionary(resolved.secrets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let labels = Self.ownershipLabels(domain: app.domain, runID: app.spec.runID)
        var applied: [String: String] = [:]
        for name in values.keys.sorted() {
            let value = values[name]!
            secrets.register(value)
            // Not declared by this checkout: kept for the deploy that declares it.
            guard let secret = declared[name] else {
                applied[name] = value
                continue
            }
            // A secret is immutable: the app's own (created with it, not yet used) is replaced.
            var exists = false
            for existing in try await engine.secrets(names: [secret.dockerName])
            where existing.name == secret.dockerName {
                guard existing.labels["ccci.managed"] == "true", existing.labels["ccci.app"] == app.domain.name else {
                    throw DriverError.foreignSecret(secret.dockerName)
                }
                if replace { try await engine.removeSecret(existing.ID) } else { exists = true }
            }
            guard !exists else { continue }
            try await engine.createSecret(name: secret.dockerName, value: value, labels: labels)
            applied[name] = value
        }
        var spec = app.spec
        spec.givenSecrets.merge(applied) { _, new in new }
        return App(
            spec: spec, stack: app.stack, envFile: app.envFile,
            secretValues: app.secretValues.merging(applied) { _, new in new })
    }

    /// The node's registry credentials (none without `registry_auth`).
    func registryCredentials() throws -> RegistryCredentials {
        guard config.imagePolicy == .pull, let path = config.registryAuth else { return .none }
        return try RegistryCredentials.load(URL(fileURLWithPath: path))
    }

    /// Pulls every image (production) or checks that each exists locally (lab) — SPEC F-PREPULL.
    /// Returns what each service deploys.
    public func prepareImages(_ project: ComposeProject) async throws -> [String: ImagePreparation.Prepared] {
        let services = project.services.compactMapValues(\.image)
        let mirrors = config.imagePolicy == .pull ? (try await engine.info().RegistryConfig?.Mirrors ?? []) : []
        let preparation = ImagePreparation(
            engine: engine, policy: config.imagePolicy,
            registry: RegistryClient(credentials: try registryCredentials(), mirrors: mirrors),
            parallelism: config.pullParallelism,
            localHint: config.ingress == .lab
                ? "the lab cannot pull — build it with `scripts/lab up`, push it with `ccci lab images`, or retag a local image"
                : "image_policy = \"local\": load or build it on this node, or set image_policy = \"pull\"")
        return try await preparation.prepare(services)
    }

    /// A compose overlay pinning each service to the image digest that was pulled.
    static func imageOverlay(_ prepared: [String: ImagePreparation.Prepared], project: ComposeProject) -> String? {
        let pinned = prepared.filter { project.services[$0.key]?.image != $0.value.deployReference }
        guard !pinned.isEmpty else { return nil }
        var lines = [
            "# Generated by cc-ci: each service runs the image digest pulled for this deploy.", "version: \"3.8\"",
            "services:",
        ]
        for service in pinned.keys.sorted() {
            lines += ["  \"\(service)\":", "    image: \"\(pinned[service]!.deployReference)\""]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - converge, exec

    public func waitConverged(_ app: App, timeout: Duration) async throws -> ConvergenceState {
        try await ConvergenceWaiter(engine: engine, logger: logger).wait(stack: app.stack, timeout: timeout).state
    }

    public func waitServing(_ app: App, timeout: Duration) async throws -> ConvergenceState {
        try await ConvergenceWaiter(engine: engine, logger: logger)
            .wait(stack: app.stack, timeout: timeout, until: .serving).state
    }

    /// Every service of the app carries the chaos stamp of `commit` (SPEC F-INSTALL): what runs
    /// is the code under test.
    public func verifyRunning(_ app: App, commit: String) async throws {
        let key = "coop-cloud.\(app.stack).chaos-version"
        let expected = String(commit.prefix(8))
        let services = try await engine.services(stack: app.stack)
        guard !services.isEmpty else {
            throw VersionMismatch(
                key: key, expected: expected, found: nil, service: "(none: the stack has no services)")
        }
        for service in services.sorted(by: { $0.name < $1.name }) where service.labels[key] != expected {
            var mismatch = VersionMismatch(
                key: key, expected: expected, found: service.labels[key], service: service.name)
            // Swarm put the previous spec back (`failure_action: rollback`): say why it did.
            if let state = service.UpdateStatus?.State, state.hasPrefix("rollback") {
                let failed = (try? await engine.tasks(services: [service.ID]))?
                    .filter { !($0.Status.Err ?? "").isEmpty }
                    .max { ($0.Status.Timestamp ?? "") < ($1.Status.Timestamp ?? "") }
                mismatch.rollback =
                    "swarm rolled the update back (\(service.UpdateStatus?.Message ?? state))"
                    + (failed?.Status.Err.map { "; its last failed task: \($0)" } ?? "")
            }
            throw mismatch
        }
    }

    public func diagnostics(of domain: AppDomain) async -> [ServiceDiagnostics] {
        let stack = domain.stack
        guard let services = try? await engine.services(stack: stack) else { return [] }
        var reports: [ServiceDiagnostics] = []
        for service in services.sorted(by: { $0.name < $1.name }) {
            let short =
                service.name.hasPrefix(stack + "_") ? String(service.name.dropFirst(stack.count + 1)) : service.name
            var text = "# \(service.name) (\(domain))\n\n## tasks (newest first)\n"
            if let tasks = try? await engine.tasks(services: [service.ID]) {
                for task in tasks.sorted(by: { ($0.CreatedAt ?? "") > ($1.CreatedAt ?? "") }) {
                    text +=
                        "\(task.ID.prefix(12))  slot \(task.Slot.map(String.init) ?? "-")  desired \(task.DesiredState ?? "?")  "
                        + "\(task.Status.State)\(task.Status.Err.map { "  error: \($0)" } ?? "")\n"
                }
            } else {
                text += "unavailable\n"
            }
            text += "\n## last 200 log lines\n"
            text += (try? await engine.serviceLogs(service.name, tail: 200)) ?? "unavailable\n"
            reports.append(ServiceDiagnostics(service: short, report: text))
        }
        return reports
    }

    public func watchResources(of domain: AppDomain, into samples: ResourceSamples) async {
        let stack = domain.stack
        // A connection of its own, wide enough for a stream per container: the streams never
        // hold up the driver's own requests.
        guard
            let streams = try? await DockerEngine.connect(
                socketPath: config.dockerSocket, logger: logger, connections: 64)
        else {
            logger.warning("resource profile: the engine cannot be reached at \(config.dockerSocket)")
            return
        }
        await withTaskGroup(of: Void.self) { group in
            var watched = Set<String>()
            while !Task.isCancelled {
                // New containers (the app's first, an update's, a restart's) get a stream each.
                let containers =
                    (try? await streams.containers(labels: ["com.docker.stack.namespace=\(stack)"], all: false)) ?? []
                for container in containers where !watched.contains(container.Id) {
                    watched.insert(container.Id)
                    let name = container.Labels?["com.docker.swarm.service.name"] ?? container.Id
                    let service = name.hasPrefix(stack + "_") ? String(name.dropFirst(stack.count + 1)) : name
                    if !(await samples.hasImage(service)), let image = container.ImageID ?? container.Image,
                        let size = try? await streams.inspectImage(image)?.Size
                    {
                        await samples.record(service: service, imageBytes: size)
                    }
                    group.addTask {
                        // A stopped container's samples are empty: its stream ends there.
                        try? await streams.streamStats(container: container.Id) { stats in
                            guard let bytes = stats.workingSetBytes else { return false }
                            await samples.record(service: service, rssBytes: bytes, cpuPercent: stats.cpuPercent)
                            return true
                        }
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
            group.cancelAll()
        }
        await streams.shutdown()
    }

    /// The host directory of `path` inside the app's volume `volume` (checked to stay inside it).
    func volumeDirectory(_ app: App, volume: String, path: String?) async throws -> URL {
        let engine = backupEngine(for: app)
        let (_, project) = try engine.plan()
        return try await engine.hostPath(volume: volume, path: path, project: project)
    }

    public func readVolumeFile(_ app: App, volume: String, directory: String?, name: String) async throws -> String? {
        let file = try await volumeDirectory(app, volume: volume, path: directory)
            .appendingPathComponent(try Self.fileName(name, volume: volume))
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return try String(contentsOf: file, encoding: .utf8)
    }

    public func writeVolumeFile(
        _ app: App, volume: String, directory: String?, name: String, content: String
    ) async throws {
        let target = try await volumeDirectory(app, volume: volume, path: directory)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try AtomicFile.write(content, to: target.appendingPathComponent(try Self.fileName(name, volume: volume)))
    }

    public func volumeBytes(_ app: App, volume: String) async throws -> Int64 {
        DiskUsage.bytes(under: try await volumeDirectory(app, volume: volume, path: nil))
    }

    /// `name` as one file name (no `/`, not `.` or `..`).
    static func fileName(_ name: String, volume: String) throws(DriverError) -> String {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.contains("\0") else {
            throw DriverError.unsafeBackupPath(volume: volume, path: name)
        }
        return name
    }

    public func runApps(naming: AppNaming) async throws -> [AppDomain] {
        var domains = Set<AppDomain>()
        func consider(_ name: String) {
            if let domain = naming.appDomainIfValid(name), domain.kind == .run { domains.insert(domain) }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: config.envDirectory.path) {
            for entry in entries where entry.hasSuffix(".env") { consider(String(entry.dropLast(".env".count))) }
        }
        // Only services cc-ci labelled: a stack someone else deployed under a run app's name is not ours.
        for service in try await engine.services(labels: ["ccci.managed=true"]) {
            if let stack = service.stack, let domain = naming.runAppDomain(fromStack: stack) { domains.insert(domain) }
        }
        for secret in try await engine.secrets(labels: ["ccci.managed=true"]) {
            if let name = secret.labels["ccci.app"] { consider(name) }
        }
        return domains.sorted()
    }

    /// Records the app's converged state, to hold it for a stability window.
    public func stabilityBaseline(_ app: App) async throws -> StabilityBaseline {
        StabilityBaseline(app: app, state: try await StabilityWindow(engine: engine).baseline(stack: app.stack))
    }

    /// Waits out the stability window and checks the app stayed as it converged.
    public func verifyStable(_ baseline: StabilityBaseline, window: Duration) async throws {
        guard let swarm = baseline.state as? StabilityWindow.Baseline else {
            preconditionFailure("a stability baseline of another driver")
        }
        try await StabilityWindow(engine: engine).verify(swarm, window: window)
    }

    public func shutdown() async {
        if ownsEngine { await engine.shutdown() }
    }

    /// The running container of `<stack>_<service>`.
    public func runningContainer(_ app: App, service: String) async throws -> ContainerSummary {
        let containers = try await engine.containers(
            labels: ["com.docker.swarm.service.name=\(app.stack)_\(service)"], all: false)
        guard let container = containers.first(where: { $0.State == "running" }) else {
            throw DriverError.noRunningContainer(service: service, stack: app.stack)
        }
        return container
    }

    public func exec(_ app: App, service: String, command: [String]) async throws -> ExecResult {
        let container = try await runningContainer(app, service: service)
        return try await engine.exec(container: container.Id, command: command)
    }

    // MARK: - backup, restore

    /// The backup engine for an app.
    public func backupEngine(for app: App) -> BackupEngine {
        BackupEngine(app: app, host: self, restic: restic)
    }

    public func volumeMountpoint(_ name: String) async throws -> String? {
        try await engine.volume(name)?.Mountpoint
    }

    public func backup(_ app: App) async throws -> BackupSnapshot {
        try await backupEngine(for: app).backup()
    }

    public func restore(_ app: App, snapshot: BackupSnapshot) async throws {
        try await backupEngine(for: app).restore(snapshot)
    }

    // MARK: - undeploy, remove, residue

    public func undeploy(_ app: App) async throws {
        try await StackJanitor(engine: engine).removeServices(stack: app.stack)
        if let ingress { try await ingress.sync() }
    }

    /// Removes everything of the app at `domain` (also when cc-ci has no ``App`` for it — the
    /// janitor reaps apps of dead runs this way).
    public func remove(domain: AppDomain) async throws -> Residue {
        let stack = domain.stack
        _ = try await StackJanitor(engine: engine).remove(stack: stack)
        try? FileManager.default.removeItem(at: envFile(for: domain))
        try? FileManager.default.removeItem(at: keepMark(for: domain))
        for file in restic.legacyFiles(for: domain) { try? FileManager.default.removeItem(at: file) }
        do {
            let left = try await restic.forget(domain)
            if left > 0 {
                logger.warning(
                    "snapshots left after forget", metadata: ["app.domain": "\(domain)", "restic.snapshots": "\(left)"])
            }
        } catch {
            // The snapshot mark stays, so the residue check reports the app's snapshots.
            logger.warning(
                "cannot forget the app's snapshots", metadata: ["app.domain": "\(domain)", "error.message": "\(error)"])
        }
        if let ingress { _ = try? await ingress.sync() }
        return try await residue(domain: domain)
    }

    /// Everything of the app at `domain` still on the node — what cc-ci created, and anything
    /// else named after its stack (which teardown reports but never removes).
    public func residue(domain: AppDomain) async throws -> Residue {
        try await StackJanitor(engine: engine).residue(stack: domain.stack, files: files(of: domain))
    }

    /// What cc-ci created for the app at `domain` and still exists: objects carrying its
    /// ownership labels, and its files. Empty means there is no such app.
    public func owned(domain: AppDomain) async throws -> Residue {
        var owned = try await StackJanitor(engine: engine).owned(stack: domain.stack)
        owned.files = (files(of: domain) + [keepMark(for: domain)]).filter {
            FileManager.default.fileExists(atPath: $0.path)
        }.map(\.path)
        return owned
    }

    /// The files an app has outside docker: its env file, and the mark of its snapshots in the
    /// node's restic repository (present while snapshots of it may remain).
    func files(of domain: AppDomain) -> [URL] {
        [envFile(for: domain), restic.snapshotMark(for: domain)] + restic.legacyFiles(for: domain)
    }
}

/// Something that must hear of every deploy and removal: the lab's ingress, which configures its
/// routes from the swarm's traefik labels.
public protocol IngressSync: Sendable {
    func sync() async throws
}

/// Disk taken by the files under a directory.
enum DiskUsage {
    static func bytes(under directory: URL) -> Int64 {
        let keys: [URLResourceKey] = [.totalFileAllocatedSizeKey, .fileAllocatedSizeKey, .isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: keys) else {
            return 0
        }
        var total: Int64 = 0
        for case let url as URL in walker {
            guard let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else {
                continue
            }
            total += Int64(values.totalFileAllocatedSize ?? values.fileAllocatedSize ?? 0)
        }
        return total
    }
}
