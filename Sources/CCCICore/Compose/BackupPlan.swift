import Foundation

/// What a backup of an app covers, read from backup-bot-two labels (SPEC F-BACKUP):
///
/// - `backupbot.backup=true` marks a service whose volumes are backed up;
/// - every named volume it mounts is included unless `backupbot.backup.volumes.<v>=false`;
/// - `backupbot.backup.volumes.<v>.path=a,b` limits a volume to those paths inside it;
/// - the older `backupbot.backup.path=/data,/x` names container paths instead;
/// - `backupbot.backup.pre-hook` / `post-hook` and `backupbot.restore.pre-hook` / `post-hook`
///   are shell commands run inside the running container.
public struct BackupPlan: Sendable, Hashable, Codable {
    public struct Volume: Sendable, Hashable, Codable {
        /// The compose volume name (`db`), not the docker name.
        public let name: String
        /// Where the service mounts it.
        public let mountPath: String
        /// Paths relative to the volume root to back up; empty means the whole volume.
        public let paths: [String]
    }

    public struct Service: Sendable, Hashable, Codable {
        public let service: String
        public let volumes: [Volume]
        public let backupPreHook: String?
        public let backupPostHook: String?
        public let restorePreHook: String?
        public let restorePostHook: String?
    }

    public let services: [Service]

    /// The plan for a project, or `nil` when no service carries `backupbot.backup=true`.
    public init?(project: ComposeProject) {
        var services: [Service] = []
        for name in project.serviceNames {
            let service = project.services[name]!
            let labels = service.deployLabels
            guard labels["backupbot.backup"]?.lowercased() == "true" else { continue }
            let legacyPaths = (labels["backupbot.backup.path"] ?? "")
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var volumes: [Volume] = []
            for mount in service.namedVolumes {
                let volume = mount.source!
                if labels["backupbot.backup.volumes.\(volume)"]?.lowercased() == "false" { continue }
                var paths = (labels["backupbot.backup.volumes.\(volume).path"] ?? "")
                    .split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " /")) }
                    .filter { !$0.isEmpty }
                if paths.isEmpty, !legacyPaths.isEmpty {
                    // Legacy container paths: keep the volumes they fall in, as paths inside them.
                    let inside = legacyPaths.compactMap { path -> String? in
                        if path == mount.target || path == mount.target + "/" { return "" }
                        guard path.hasPrefix(mount.target + "/") else { return nil }
                        return String(path.dropFirst(mount.target.count + 1))
                    }
                    if inside.isEmpty { continue }
                    paths = inside.contains("") ? [] : inside
                }
                volumes.append(Volume(name: volume, mountPath: mount.target, paths: paths))
            }
            services.append(
                Service(
                    service: name, volumes: volumes,
                    backupPreHook: labels["backupbot.backup.pre-hook"],
                    backupPostHook: labels["backupbot.backup.post-hook"],
                    restorePreHook: labels["backupbot.restore.pre-hook"],
                    restorePostHook: labels["backupbot.restore.post-hook"]))
        }
        guard !services.isEmpty else { return nil }
        self.services = services
    }
}
