import CCCICore
import CCCISystem
import Foundation

/// The node's one restic repository (SPEC F-BACKUP), as backup-bot-two keeps one per server.
///
/// `restic init` costs ~3 s of CPU, and opening the repository with restic's own key ~0.5 s for
/// every command (its calibrated scrypt). So the repository is initialised once per node — at
/// lab set-up, or by the first backup, under a lock — and given a quick key (``ResticKey``) that
/// every command names; every snapshot is tagged `ccci`, the app's domain and the
/// run's id. Restore refuses another app's snapshot before it touches the app; teardown forgets
/// the app's snapshots; `ccci gc` and `ccci serve`'s housekeeping prune the unreferenced data
/// later, under restic's exclusive lock, never in a run's hot path. Each step is one restic
/// process.
///
/// Invariant: `apps/<domain>` exists while the repository may hold snapshots of that app. It is
/// written before a backup starts and removed only when a `forget` of the app's tag left none, so
/// an app with no mark costs teardown no restic process, and a mark left over is residue.
public struct ResticStore: Sendable {
    public let directory: URL
    public let runner: ProcessRunner
    /// The repository password is registered here, for redaction.
    public let secrets: SecretRegistry

    public init(directory: URL, runner: ProcessRunner, secrets: SecretRegistry) {
        self.directory = directory
        self.runner = runner
        self.secrets = secrets
    }

    /// The repository.
    public var repository: URL { directory.appendingPathComponent("repository") }
    /// Its password (mode 0600 in a 0700 directory; the password never leaves it).
    public var passwordFile: URL { directory.appendingPathComponent("password") }
    /// The mark of an app that may have snapshots (see the invariant above).
    public func snapshotMark(for domain: AppDomain) -> URL {
        directory.appendingPathComponent("apps").appendingPathComponent(domain.name)
    }
    /// Where earlier versions kept one repository per app; removed with the app.
    public func legacyFiles(for domain: AppDomain) -> [URL] {
        [directory.appendingPathComponent(domain.name), directory.appendingPathComponent("\(domain.name).password")]
    }

    /// The tags of a snapshot of `domain`: `ccci`, the domain, and `run:<id>` inside a run (every
    /// process of a run carries its id in `CCCI_RUN_ID`).
    public func tags(for domain: AppDomain) -> [String] {
        let runID = ProcessInfo.processInfo.environment["CCCI_RUN_ID"].flatMap { RunID.isValid($0) ? $0 : nil }
        return ["ccci", domain.name] + (runID.map { ["run:\($0)"] } ?? [])
    }

    /// Creates the password and the repository if they do not exist yet — once per node: the lock
    /// makes concurrent first uses wait for one `restic init`. Returns whether it initialised.
    @discardableResult
    public func ensureRepository() async throws -> Bool {
        let files = FileManager.default
        try files.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Also when something else created it first (the attributes apply only to a new directory).
        try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        if files.fileExists(atPath: repository.appendingPathComponent("config").path), quickKey() != nil {
            try registerPassword()
            return false
        }
        let lock = try await FileLock.acquire(directory.appendingPathComponent("init.lock"))
        defer { lock.release() }
        if !files.fileExists(atPath: passwordFile.path) {
            try AtomicFile.write(SecretGenerator.value(length: 40), to: passwordFile, permissions: 0o600)
        }
        try registerPassword()
        var initialised = false
        if !files.fileExists(atPath: repository.appendingPathComponent("config").path) {
            _ = try await run(["init"])
            initialised = true
        }
        if quickKey() == nil {
            do {
                try await addQuickKey()
            } catch let error as DriverError {
                // No key opens with this node's password: restic could not open it either.
                throw error
            } catch {
                // Only slower without it: every command derives restic's own key, as before.
            }
        }
        return initialised
    }

    /// The name of the node's quick key in `keys/` (see ``ResticKey``), if the repository has one.
    public func quickKey() -> String? {
        let keys = repository.appendingPathComponent("keys")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: keys.path)) ?? []
        return names.sorted().first { name in
            guard name.count == 64, name.allSatisfy(\.isHexDigit),
                let bytes = FileManager.default.contents(atPath: keys.appendingPathComponent(name).path),
                let key = try? JSONDecoder().decode(ResticKey.self, from: bytes)
            else { return false }
            return key.kdf == "scrypt" && key.parameters == ResticKey.quickParameters
        }
    }

    /// Seals the repository's master key a second time, with ``ResticKey/quickParameters``: opens
    /// the key `restic init` wrote (its half-second scrypt, once per node) and writes the quick key
    /// beside it, once restic has opened a copy of the repository with it (restic refuses every
    /// command while one key file is unreadable). Callers hold the init lock.
    private func addQuickKey() async throws {
        let keys = repository.appendingPathComponent("keys")
        let password = try String(contentsOf: passwordFile, encoding: .utf8)
        var master: Data?
        for name in try FileManager.default.contentsOfDirectory(atPath: keys.path).sorted() {
            guard let bytes = FileManager.default.contents(atPath: keys.appendingPathComponent(name).path),
                let key = try? JSONDecoder().decode(ResticKey.self, from: bytes),
                let opened = try? key.open(password: password)
            else { continue }
            master = opened
            break
        }
        guard let master else {
            throw DriverError.resticFailed(
                "no key in \(keys.path) opens with the password in \(passwordFile.path): the repository is not this node's "
                    + "(move it away; the next backup initialises a new one)")
        }
        let key = try ResticKey.sealing(master, password: password, hostname: ProcessInfo.processInfo.hostName)
        let (bytes, name) = try key.encoded()
        try await proveKey(bytes, named: name)
        // restic keeps its repository files read-only.
        let file = keys.appendingPathComponent(name)
        try AtomicFile.write(bytes, to: file, permissions: 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: file.path)
    }

    /// Opens a scratch repository — this one's config and only the new key — with restic, and
    /// throws unless restic read the key and opened the repository with it.
    private func proveKey(_ bytes: Data, named name: String) async throws {
        let files = FileManager.default
        // Callers hold the init lock: any other scratch copy was left by a killed process.
        for stale in (try? files.contentsOfDirectory(atPath: directory.path)) ?? [] where stale.hasPrefix("key-check-")
        {
            try? files.removeItem(at: directory.appendingPathComponent(stale))
        }
        let scratch = directory.appendingPathComponent("key-check-\(getpid())")
        defer { try? files.removeItem(at: scratch) }
        for part in ["keys", "data", "index", "locks", "snapshots"] {
            try files.createDirectory(
                at: scratch.appendingPathComponent(part), withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        }
        try files.copyItem(
            at: repository.appendingPathComponent("config"), to: scratch.appendingPathComponent("config"))
        try AtomicFile.write(bytes, to: scratch.appendingPathComponent("keys").appendingPathComponent(name))
        let result = try await runner.run(
            Command(
                "restic", ["key", "list", "--json", "--no-cache"],
                environment: environment(repository: scratch, keyHint: nil), output: .capture))
        let listing = try? JSONCoding.decoder.decode([JSONValue].self, from: Data(result.output.utf8))
        let current = listing?.first { $0["current"] == .bool(true) }?["id"]?.stringValue
        guard result.succeeded, let current, name.hasPrefix(current) else {
            throw ResticKey.Failure(
                description: "restic could not open the repository with a quick key: \(result.tail())")
        }
    }

    private func registerPassword() throws {
        let password = try String(contentsOf: passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        secrets.register(password)
    }

    /// Marks `domain` as having snapshots (before its backup starts).
    public func markSnapshots(of domain: AppDomain) throws {
        let mark = snapshotMark(for: domain)
        try FileManager.default.createDirectory(at: mark.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write("\(domain.name)\n", to: mark)
    }

    /// Forgets every snapshot of `domain` and returns how many are left (0 unless restic failed to
    /// remove one). No restic process runs for an app that never backed up. The data stays in the
    /// repository until ``prune()``.
    public func forget(_ domain: AppDomain) async throws -> Int {
        let mark = snapshotMark(for: domain)
        guard FileManager.default.fileExists(atPath: mark.path) else { return 0 }
        guard FileManager.default.fileExists(atPath: repository.appendingPathComponent("config").path) else {
            try? FileManager.default.removeItem(at: mark)
            return 0
        }
        try registerPassword()
        // No snapshot carries the keep tag, so every snapshot with the app's tag is removed.
        let output = try await run([
            "forget", "--json", "--no-cache", "--tag", domain.name, "--keep-tag", "ccci-never-kept", "--group-by", "",
        ])
        let groups = (try? JSONCoding.decoder.decode([JSONValue].self, from: Data(output.utf8))) ?? []
        let kept = groups.reduce(0) { $0 + ($1["keep"]?.arrayValue?.count ?? 0) }
        if kept == 0 { try? FileManager.default.removeItem(at: mark) }
        return kept
    }

    /// Removes the data no snapshot references any more (`ccci gc`, `ccci serve`'s housekeeping).
    /// Takes restic's exclusive lock, waiting for running backups.
    public func prune() async throws -> PruneSummary {
        guard FileManager.default.fileExists(atPath: repository.appendingPathComponent("config").path) else {
            return PruneSummary(freed: nil, remaining: nil)
        }
        try registerPassword()
        return PruneSummary(output: try await run(["prune", "--no-cache"], lockWait: .seconds(600)))
    }

    /// What a prune freed and left, as restic printed them (`5 blobs / 2.862 MiB`).
    public struct PruneSummary: Sendable, Hashable, CustomStringConvertible {
        /// Blobs and bytes removed; `nil` when there was no repository (or restic said nothing).
        public let freed: String?
        /// Blobs and bytes still referenced.
        public let remaining: String?

        public init(freed: String?, remaining: String?) {
            self.freed = freed
            self.remaining = remaining
        }

        /// Reads the `total prune:` and `remaining:` lines of `restic prune`'s report.
        public init(output: String) {
            func value(_ key: String) -> String? {
                output.split(separator: "\n").lazy
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                    .first { $0.hasPrefix(key) }
                    .map { String($0.dropFirst(key.count)).trimmingCharacters(in: .whitespaces) }
            }
            self.init(freed: value("total prune:"), remaining: value("remaining:"))
        }

        /// Whether the prune removed any data.
        public var freedAnything: Bool {
            guard let freed else { return false }
            return !freed.hasPrefix("0 blobs")
        }

        public var description: String {
            guard let freed else { return "no backups to prune" }
            return "pruned \(freed), \(remaining ?? "?") remaining"
        }
    }

    /// restic's environment for `repository`, with the node's password file and nothing inherited
    /// that would override them. restic tries the hinted key first; without a hint, every key's
    /// scrypt until one opens.
    private func environment(repository: URL, keyHint: String?) -> [String: String?] {
        [
            "RESTIC_REPOSITORY": repository.path, "RESTIC_PASSWORD_FILE": passwordFile.path, "RESTIC_PASSWORD": nil,
            "RESTIC_CACHE_DIR": nil, "RESTIC_KEY_HINT": keyHint,
        ]
    }

    /// Runs restic against the repository; throws with its stderr on failure. A repository locked
    /// by another command (a backup holds a shared lock, forget and prune an exclusive one) is
    /// waited for, up to `lockWait`; a lock left by a killed restic is cleared by `restic unlock`,
    /// which removes only locks whose process is gone.
    /// - Parameter output: `.file(url)` sends standard output to a file (a long listing).
    public func run(
        _ arguments: [String], lockWait: Duration = .seconds(180), output: Command.OutputMode = .capture
    ) async throws -> String {
        let command = Command(
            "restic", arguments,
            environment: environment(repository: repository, keyHint: quickKey()), output: output)
        var unlocked = false
        let result = try await poll(
            until: { () async throws -> CommandResult? in
                let result = try await runner.run(command)
                guard !result.succeeded, result.errorOutput.contains("already locked") else { return result }
                if !unlocked {
                    unlocked = true
                    _ = try await runner.run(Command("restic", ["unlock"], environment: command.environment))
                }
                return nil
            }, timeout: lockWait, backoff: Backoff(initial: .milliseconds(200), maximum: .seconds(2)))
        guard let result else {
            throw DriverError.resticFailed(
                "`restic \(arguments.prefix(1).joined())`: the repository stayed locked for \(DurationText.format(lockWait))"
            )
        }
        guard result.succeeded else {
            throw DriverError.resticFailed(
                "`restic \(arguments.prefix(2).joined(separator: " "))` failed: \(result.tail())")
        }
        return result.output
    }
}
