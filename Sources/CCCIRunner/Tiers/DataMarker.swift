import CCCICore
import CCCIDeploy
import CCCISystem
import Foundation

/// Where an app keeps the data a tier proves: one named volume as one service mounts it, and the
/// directory inside it (a backupbot path, when the recipe backs up only part of the volume).
struct DataLocation: Sendable, Hashable {
    let service: String
    /// The compose volume id (`content`).
    let volume: String
    /// The volume's docker name (`<stack>_content`, or its `name:`).
    let dockerVolume: String
    /// Where the service mounts it.
    let target: String
    /// A directory inside the volume, when the proof lives below its root.
    let subpath: String?

    /// The directory in the container.
    var directory: String { subpath.map { "\(target)/\($0)" } ?? target }

    /// The data of a project as a tier proves it: the backed-up service's first volume (and
    /// its first backupbot path), else the first named volume of the first service mounting one.
    static func of(_ project: ComposeProject, stack: String, plan: BackupPlan?) -> DataLocation? {
        if let plan {
            for service in plan.services {
                if let volume = service.volumes.first {
                    return DataLocation(
                        service: service.service, volume: volume.name,
                        dockerVolume: project.dockerVolumeName(volume.name, stack: stack), target: volume.mountPath,
                        subpath: volume.paths.first)
                }
            }
            return nil
        }
        for name in project.serviceNames {
            if let mount = project.services[name]!.namedVolumes.first, let source = mount.source {
                return DataLocation(
                    service: name, volume: source, dockerVolume: project.dockerVolumeName(source, stack: stack),
                    target: mount.target, subpath: nil)
            }
        }
        return nil
    }

    /// Where the same docker volume is in `project` (the head's): mounted by the same service,
    /// perhaps at another path. Throws the sentence a maintainer can act on when the head's
    /// service no longer mounts it.
    func inHead(_ project: ComposeProject, stack: String, baseVersion: String) throws(UpgradeDataLost) -> DataLocation {
        guard let service = project.services[self.service] else {
            throw UpgradeDataLost(
                message: "data written by \(baseVersion) lives in volume `\(volume)` of service `\(self.service)`, "
                    + "which the head no longer has — declare where the head keeps it with `upgrade_data` in ccci.toml "
                    + "if a migration moves it")
        }
        let mounts = service.namedVolumes
        if let mount = mounts.first(where: {
            $0.source.map { project.dockerVolumeName($0, stack: stack) } == dockerVolume
        }) {
            return DataLocation(
                service: self.service, volume: mount.source!, dockerVolume: dockerVolume, target: mount.target,
                subpath: subpath)
        }
        let others = mounts.map { "`\($0.source!)` at \($0.target)" }
        throw UpgradeDataLost(
            message: "data written by \(baseVersion) lives in volume `\(volume)`, which the head's service "
                + "`\(self.service)` no longer mounts"
                + (others.isEmpty ? " (it mounts no named volume)" : " (it mounts \(others.joined(separator: ", ")))")
                + " — an operator upgrading would lose it; keep the volume, or migrate the data in a hook and "
                + "declare where with `upgrade_data` in ccci.toml")
    }
}

/// Data written by the base release that the upgraded app cannot see.
struct UpgradeDataLost: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A file the run writes into an app's data — through the running app — to prove that the data
/// survives an upgrade and comes back with a restore. Named `.ccci-marker-<role>` (hidden),
/// holding the run id and a nonce.
struct DataMarker: Sendable {
    let runID: String
    let role: String
    let content: String

    init(runID: String, role: String) {
        self.runID = runID
        self.role = role
        content = "ccci marker \(runID) \(SecretGenerator.value(length: 12))\n"
    }

    var fileName: String { BackupSnapshot.markerPrefix + role }
    /// The file added after the backup, which the restore must remove.
    static let addedFileName = ".ccci-added-after-backup"
}

/// Reading and writing marker files in an app's data: through the running app (an exec into the
/// service's task, as the app itself sees its files), or — when the image has no shell — through
/// the volume's mountpoint on the host. Every operation says which way it went.
struct DataAccess: Sendable {
    enum Method: Sendable, Hashable {
        case app
        case mountpoint

        func describe(_ location: DataLocation, verb: String) -> String {
            switch self {
            case .app: return "\(verb) through the app (service \(location.service) at \(location.directory))"
            case .mountpoint:
                return "\(verb) through the volume mountpoint of `\(location.volume)` (the image has no shell)"
            }
        }
    }

    let driver: any AppDriver
    let app: App
    let location: DataLocation

    /// Writes `content` to `name` in the location's directory.
    func write(_ name: String, _ content: String) async throws -> Method {
        if let result = try await shell(
            "mkdir -p \"$1\" && printf '%s' \"$2\" > \"$1/$3\"", location.directory, content, name)
        {
            guard result.succeeded else { throw DataAccessError.failed("write \(name)", result, location) }
            return .app
        }
        try await driver.writeVolumeFile(
            app, volume: location.volume, directory: location.subpath, name: name, content: content)
        return .mountpoint
    }

    /// The content of `name` in the location's directory (`nil` when there is no such file).
    func read(_ name: String) async throws -> (content: String?, method: Method) {
        if let result = try await shell(
            "if [ -e \"$1/$2\" ]; then cat \"$1/$2\"; else exit 3; fi", location.directory, name)
        {
            if result.exitCode == 3 { return (nil, .app) }
            guard result.succeeded else { throw DataAccessError.failed("read \(name)", result, location) }
            return (result.stdout, .app)
        }
        let content = try await driver.readVolumeFile(
            app, volume: location.volume, directory: location.subpath, name: name)
        return (content, .mountpoint)
    }

    /// Runs `script` with `arguments` under `/bin/sh` in the service's running container; `nil`
    /// when the image has no shell (the caller falls back to the mountpoint).
    func shell(_ script: String, _ arguments: String...) async throws -> ExecResult? {
        let result = try await driver.exec(
            app, service: location.service, command: ["/bin/sh", "-c", script, "sh"] + arguments)
        if result.exitCode == 126 || result.exitCode == 127,
            (result.stderr + result.stdout).contains("no such file")
                || (result.stderr + result.stdout).contains("not found")
        {
            return nil
        }
        return result
    }
}

/// A marker operation the app refused.
enum DataAccessError: Error, CustomStringConvertible {
    case failed(String, ExecResult, DataLocation)

    var description: String {
        switch self {
        case .failed(let what, let result, let location):
            let output = (result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
            return "could not \(what) in \(location.directory) of service \(location.service) (exit \(result.exitCode))"
                + (output.isEmpty ? "" : ": \(output.prefix(200))")
        }
    }
}

/// A data marker that did not behave.
enum MarkerError: Error, CustomStringConvertible {
    case noVolume(String)
    case changed(String, found: String?, how: String)
    case survived(String, how: String)

    var description: String {
        switch self {
        case .noVolume(let domain):
            return "app \(domain) has no volume to hold a data marker"
        case .changed(let path, let found, let how):
            let what =
                found.map { "changed to '\($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(60))'" }
                ?? "lost"
            return "the data marker \(path) was \(what) (\(how))"
        case .survived(let path, let how):
            return "\(path), written after the backup, is still there after the restore (\(how))"
        }
    }
}
