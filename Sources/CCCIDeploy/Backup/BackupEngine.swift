import CCCICore
import CCCISwarm
import CCCISystem
import Foundation

/// Backups and restores with backup-bot-two's label semantics, stored with restic (SPEC F-BACKUP).
///
/// For every service labelled `backupbot.backup=true`: its `backupbot.backup.pre-hook` runs inside
/// its running container, then the volumes (or their `.path` parts) are snapshotted from the
/// host with restic into the node's repository, tagged with the app's domain (and the run's id),
/// then the post-hook runs. One snapshot covers all services; its id is returned. A failed hook, a failed restic run or a snapshot
/// holding no files is an error — never a silent pass.
///
/// A restore runs `backupbot.restore.pre-hook`, replaces the content of every backed-up path with
/// the snapshot's (later changes are removed, not merged), and runs `backupbot.restore.post-hook`.
public struct BackupEngine: Sendable {
    public let app: App
    /// Where the app runs: exec into its containers, find its volumes.
    public let host: any BackupHost
    /// Where snapshots are kept.
    public let restic: ResticStore

    public init(app: App, host: any BackupHost, restic: ResticStore) {
        self.app = app
        self.host = host
        self.restic = restic
    }

    /// The backup plan of the app as deployed now.
    public func plan() throws -> (BackupPlan?, ComposeProject) {
        let model = try AppModel.load(app)
        return (model.backupPlan, model.project)
    }

    /// The host directory (or file) of `path` inside volume `volume` of this app, resolved and
    /// checked to stay inside the volume: a label path with `..`, or one that is (or passes
    /// through) a symlink out of the volume, is refused — restore deletes what is there, as root.
    public func hostPath(volume: String, path: String?, project: ComposeProject) async throws -> URL {
        let name = project.dockerVolumeName(volume, stack: app.stack)
        guard let mountpoint = try await host.volumeMountpoint(name) else {
            throw DriverError.missingVolume(name)
        }
        let root = URL(fileURLWithPath: mountpoint).resolvingSymlinksInPath()
        guard let path, !path.isEmpty else { return root }
        let components = path.split(separator: "/").map(String.init)
        guard !components.contains(".."), !path.hasPrefix("/") else {
            throw DriverError.unsafeBackupPath(volume: volume, path: path)
        }
        let candidate = components.reduce(root) { $0.appendingPathComponent($1) }
        let resolved = candidate.resolvingSymlinksInPath()
        guard resolved.path == candidate.path || !FileManager.default.fileExists(atPath: candidate.path) else {
            throw DriverError.unsafeBackupPath(volume: volume, path: path)
        }
        guard resolved.path.hasPrefix(root.path + "/") || resolved.path == root.path else {
            throw DriverError.unsafeBackupPath(volume: volume, path: path)
        }
        return candidate
    }

    /// The host paths a plan covers.
    func hostPaths(_ plan: BackupPlan, project: ComposeProject) async throws -> [String] {
        var paths: [String] = []
        for service in plan.services {
            for volume in service.volumes {
                if volume.paths.isEmpty {
                    paths.append(try await hostPath(volume: volume.name, path: nil, project: project).path)
                } else {
                    for path in volume.paths {
                        paths.append(try await hostPath(volume: volume.name, path: path, project: project).path)
                    }
                }
            }
        }
        return paths
    }

    public func backup() async throws -> BackupSnapshot {
        let (planned, project) = try plan()
        guard let plan = planned else { throw DriverError.notBackupCapable(recipe: app.recipe) }
        let paths = try await hostPaths(plan, project: project)
        // Every service whose pre-hook ran gets its post-hook, whatever fails after: the post-hook
        // undoes what the pre-hook set up. The first failure is the one reported.
        var prepared: [BackupPlan.Service] = []
        var failure: (any Error)?
        for service in plan.services {
            do {
                if let hook = service.backupPreHook { try await runHook(hook, service: service.service) }
                prepared.append(service)
            } catch {
                failure = error
                break
            }
        }
        var snapshot: BackupSnapshot?
        if failure == nil {
            do {
                try await restic.ensureRepository()
                snapshot = try await resticBackup(paths: paths)
            } catch {
                failure = error
            }
        }
        for service in prepared {
            do {
                if let hook = service.backupPostHook { try await runHook(hook, service: service.service) }
            } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
        return snapshot!
    }

    public func restore(_ snapshot: BackupSnapshot) async throws {
        let (planned, _) = try plan()
        guard let plan = planned else { throw DriverError.notBackupCapable(recipe: app.recipe) }
        for service in plan.services {
            if let hook = service.restorePreHook { try await runHook(hook, service: service.service) }
        }
        // Make each backed-up path hold exactly the snapshot: files not in it are removed, and so
        // are directories it does not have — but directories it has are kept (not re-created), so
        // a running app holding one open (its working directory) keeps a valid handle.
        // Whose snapshot and which directories, before anything of the app is touched: known
        // from its own backup (restic listed every directory it stored), else from the
        // repository (`restic ls`, which also shows the snapshot's tags).
        let snapshotDirectories: Set<String>
        if let domain = snapshot.domain, let directories = snapshot.directories {
            guard domain == app.domain.name else {
                throw DriverError.resticFailed(
                    "snapshot \(snapshot.id) is not a snapshot of \(app.domain.name) (it is \(domain)'s); not restored")
            }
            snapshotDirectories = directories
        } else {
            snapshotDirectories = try await self.directories(in: snapshot)
        }
        let directories = try removeFiles(under: snapshot.paths)
        var arguments = ["restore", snapshot.id, "--target", "/", "--no-cache"]
        for path in snapshot.paths { arguments += ["--include", path] }
        _ = try await restic.run(arguments)
        for directory in directories.sorted(by: { $0.count > $1.count }) where !snapshotDirectories.contains(directory)
        {
            try? FileManager.default.removeItem(atPath: directory)
        }
        for service in plan.services {
            if let hook = service.restorePostHook { try await runHook(hook, service: service.service) }
        }
    }

    /// Removes every file (not directory) under `paths`; returns the directories found.
    func removeFiles(under paths: [String]) throws -> [String] {
        let fileManager = FileManager.default
        var directories: [String] = []
        for path in paths {
            if (try? fileManager.destinationOfSymbolicLink(atPath: path)) != nil {
                throw DriverError.unsafeBackupPath(volume: "", path: path)
            }
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            guard isDirectory.boolValue else {
                try fileManager.removeItem(atPath: path)
                continue
            }
            let root = URL(fileURLWithPath: path)
            guard
                let enumerator = fileManager.enumerator(
                    at: root, includingPropertiesForKeys: [.isDirectoryKey, .isSymbolicLinkKey], options: [])
            else { continue }
            for case let url as URL in enumerator {
                let values = try url.resourceValues(forKeys: [.isDirectoryKey, .isSymbolicLinkKey])
                if values.isDirectory == true && values.isSymbolicLink != true {
                    directories.append(url.standardizedFileURL.path)
                } else {
                    try fileManager.removeItem(at: url)
                }
            }
        }
        return directories
    }

    /// The directories a snapshot holds; throws when the snapshot is not tagged with this app's
    /// domain (`restic ls --json` prints the snapshot itself first, then its nodes).
    func directories(in snapshot: BackupSnapshot) async throws -> Set<String> {
        let output = try await restic.run(["ls", "--json", "--no-cache", snapshot.id])
        var result = Set<String>()
        var tags: [String]?
        for line in output.split(separator: "\n") {
            guard let node = try? JSONCoding.decoder.decode([String: JSONValue].self, from: Data(line.utf8)) else {
                continue
            }
            if node["struct_type"]?.stringValue == "snapshot" {
                tags = node["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
            } else if node["type"]?.stringValue == "dir", let path = node["path"]?.stringValue {
                result.insert(path)
            }
        }
        guard let tags, tags.contains(app.domain.name) else {
            throw DriverError.resticFailed(
                "snapshot \(snapshot.id) is not a snapshot of \(app.domain.name) (tags: \(tags ?? [])); not restored")
        }
        return result
    }

    /// Runs a backupbot hook inside the service's running container, as `/bin/sh -c <hook>`.
    func runHook(_ hook: String, service: String) async throws {
        let result = try await host.exec(app, service: service, command: ["/bin/sh", "-c", hook])
        guard result.succeeded else {
            throw DriverError.hookFailed(
                service: service, hook: hook, exitCode: result.exitCode,
                output: (result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    func resticBackup(paths: [String]) async throws -> BackupSnapshot {
        try restic.markSnapshots(of: app.domain)
        // `-v --json` lists every file and directory as restic stores it: the directories are
        // what a restore must keep, so the restore needs no `restic ls` of its own. The listing
        // goes to a file (a volume may hold millions of files) and is read line by line.
        let listing = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ccci-backup-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: listing) }
        _ = try await restic.run(
            ["backup", "--json", "--verbose", "--no-cache", "--host", "ccci"]
                + restic.tags(for: app.domain).flatMap { ["--tag", $0] }
                + paths, output: .file(listing))
        var summary: [String: JSONValue]?
        var directories = Set<String>()
        var markers = Set<String>()
        try LineReader.forEachLine(of: listing) { line in
            // Only a directory's line (its item ends in `/`), a data marker's and the summary are decoded.
            let isDirectory = line.contains("verbose_status") && line.contains("/\",")
            let isMarker = line.contains("verbose_status") && line.contains(BackupSnapshot.markerPrefix)
            guard isDirectory || isMarker || line.contains("\"summary\""),
                let object = try? JSONCoding.decoder.decode([String: JSONValue].self, from: Data(line.utf8))
            else { return }
            switch object["message_type"]?.stringValue {
            case "summary": summary = object
            case "verbose_status":
                if let item = object["item"]?.stringValue, item.hasSuffix("/"), item.count > 1 {
                    directories.insert(String(item.dropLast()))
                } else if let item = object["item"]?.stringValue,
                    item.split(separator: "/").last?.hasPrefix(BackupSnapshot.markerPrefix) == true
                {
                    markers.insert(item)
                }
            default: break
            }
        }
        guard let summary, let id = summary["snapshot_id"]?.stringValue else {
            throw DriverError.resticFailed("backup printed no summary")
        }
        func int(_ key: String) -> Int64 {
            switch summary[key] {
            case .int(let value): return Int64(value)
            case .double(let value): return Int64(value)
            default: return 0
            }
        }
        let files = int("total_files_processed")
        guard files > 0 else { throw DriverError.emptySnapshot(domain: app.domain.name, paths: paths) }
        return BackupSnapshot(
            id: id, paths: paths, files: Int(files), bytes: int("total_bytes_processed"), domain: app.domain.name,
            directories: directories, markers: markers)
    }
}

/// What the backup engine needs of the node an app runs on.
public protocol BackupHost: Sendable {
    /// Runs a command in a running container of the app's `service`.
    func exec(_ app: App, service: String, command: [String]) async throws -> ExecResult
    /// The host directory of the docker volume `name` (`nil` when it does not exist).
    func volumeMountpoint(_ name: String) async throws -> String?
}

extension AppModel {
    /// The model of `app` from its checkout and env file.
    public static func load(_ app: App) throws -> AppModel {
        let env = try EnvFile.parse(try String(contentsOf: app.envFile, encoding: .utf8), source: app.envFile.path)
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: app.spec.checkout, recipe: app.recipe, domain: app.domain.name,
            extraComposeFiles: app.spec.packComposeFiles, existingEnv: env)
        return AppModel(project: resolved.project, backupPlan: resolved.backup)
    }
}
