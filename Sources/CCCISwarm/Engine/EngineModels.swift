import CCCICore
import Foundation

// The subset of Docker Engine API objects cc-ci reads (API 1.41). Field names follow the API.

/// `GET /version`.
public struct EngineVersion: Decodable, Sendable {
    public let Version: String
    public let ApiVersion: String
    public let MinAPIVersion: String?
}

/// `GET /info` (the parts about swarm).
public struct EngineInfo: Decodable, Sendable {
    public struct SwarmInfo: Decodable, Sendable {
        public let NodeID: String?
        public let LocalNodeState: String?
        public let ControlAvailable: Bool?
    }
    public struct Registries: Decodable, Sendable {
        /// Docker Hub mirrors (`registry-mirrors`), as URLs.
        public let Mirrors: [String]?
    }
    public let ServerVersion: String?
    public let Swarm: SwarmInfo?
    public let RegistryConfig: Registries?
    public let NCPU: Int?
}

/// An object version (`Version.Index`), needed to update swarm objects.
public struct ObjectVersion: Codable, Sendable, Hashable {
    public let Index: UInt64
}

/// A swarm service.
public struct SwarmService: Decodable, Sendable, Hashable {
    public struct Spec: Decodable, Sendable, Hashable {
        public struct TaskTemplate: Decodable, Sendable, Hashable {
            public struct RestartPolicy: Decodable, Sendable, Hashable {
                public let Condition: String?
            }
            /// Kept raw: tasks are compared against it to tell whether they run the current spec.
            public let ContainerSpec: JSONValue?
            public let RestartPolicy: RestartPolicy?
            public let ForceUpdate: UInt64?
        }
        public struct Mode: Decodable, Sendable, Hashable {
            public struct Replicated: Decodable, Sendable, Hashable {
                public let Replicas: Int?
            }
            public let Replicated: Replicated?
            public let Global: [String: String]?
        }
        public struct EndpointSpec: Decodable, Sendable, Hashable {
            public let Mode: String?
        }
        public let Name: String
        public let Labels: [String: String]?
        public let TaskTemplate: TaskTemplate?
        public let Mode: Mode?
        public let EndpointSpec: EndpointSpec?
    }
    public struct UpdateStatus: Decodable, Sendable, Hashable {
        public let State: String?
        public let Message: String?
    }
    public struct ServiceStatus: Decodable, Sendable, Hashable {
        public let RunningTasks: Int?
        public let DesiredTasks: Int?
    }
    public let ID: String
    public let Version: ObjectVersion?
    public let CreatedAt: String?
    public let UpdatedAt: String?
    public let Spec: Spec
    public let UpdateStatus: UpdateStatus?
    public let ServiceStatus: ServiceStatus?

    public var name: String { self.Spec.Name }
    public var labels: [String: String] { self.Spec.Labels ?? [:] }

    /// The stack the service belongs to (`com.docker.stack.namespace`).
    public var stack: String? { labels["com.docker.stack.namespace"] }

    /// Desired replicas: the replicated count (default 1), or the desired task count of a global
    /// service as swarm reports it.
    public var desiredReplicas: Int {
        if self.Spec.Mode?.Global != nil { return self.ServiceStatus?.DesiredTasks ?? 1 }
        return self.Spec.Mode?.Replicated?.Replicas ?? 1
    }

    public var isGlobal: Bool { self.Spec.Mode?.Global != nil }

    /// The image the service runs.
    public var image: String? { self.Spec.TaskTemplate?.ContainerSpec?["Image"]?.stringValue }

    /// The restart condition (`any`, `on-failure`, `none`).
    public var restartCondition: String? { self.Spec.TaskTemplate?.RestartPolicy?.Condition }

    /// Whether `task` was created from the service's current task template (a task left from
    /// before an update, or not yet replaced by one, was not).
    public func isCurrent(_ task: SwarmTask) -> Bool {
        guard let template = self.Spec.TaskTemplate, let spec = task.Spec else { return true }
        return template.ContainerSpec == spec.ContainerSpec && (template.ForceUpdate ?? 0) == (spec.ForceUpdate ?? 0)
    }
}

/// A swarm task.
public struct SwarmTask: Decodable, Sendable, Hashable {
    public struct Status: Decodable, Sendable, Hashable {
        public struct ContainerStatus: Decodable, Sendable, Hashable {
            public let ContainerID: String?
            public let ExitCode: Int?
        }
        public let Timestamp: String?
        public let State: String
        public let Message: String?
        public let Err: String?
        public let ContainerStatus: ContainerStatus?
    }
    /// The parts of the task's spec compared with its service's task template.
    public struct Spec: Decodable, Sendable, Hashable {
        public let ContainerSpec: JSONValue?
        public let ForceUpdate: UInt64?
    }
    public let ID: String
    public let ServiceID: String
    public let Spec: Spec?
    public let Slot: Int?
    public let NodeID: String?
    public let CreatedAt: String?
    public let DesiredState: String?
    public let Status: Status
    public let Version: ObjectVersion?

    /// The task states before `running`: while a task is in one, its node's agent may still
    /// create (or start) its container. From `running` on it has one, or never will.
    public static let statesBeforeRunning: Set<String> = [
        "new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting",
    ]

    /// Whether a container of this task may still appear.
    public var mayStillCreateContainer: Bool { Self.statesBeforeRunning.contains(self.Status.State) }
}

/// `GET /containers/json` entries.
public struct ContainerSummary: Decodable, Sendable, Hashable {
    public let Id: String
    public let Names: [String]?
    public let Image: String?
    /// The id of the image the container runs.
    public let ImageID: String?
    public let Labels: [String: String]?
    public let State: String?
    /// `Up 5 seconds (healthy)`, `Up 1 second (health: starting)`, `Exited (0) …`.
    public let Status: String?

    /// The health the status text shows, `nil` without a healthcheck.
    public var health: String? {
        guard let status = Status else { return nil }
        if status.contains("(healthy)") { return "healthy" }
        if status.contains("(unhealthy)") { return "unhealthy" }
        if status.contains("(health: starting)") { return "starting" }
        return nil
    }
}

/// `GET /containers/{id}/json` (parts).
public struct ContainerInspect: Decodable, Sendable, Hashable {
    public struct State: Decodable, Sendable, Hashable {
        public struct Health: Decodable, Sendable, Hashable {
            public let Status: String?
        }
        public let Status: String?
        public let Running: Bool?
        public let Health: Health?
    }
    public struct Mount: Decodable, Sendable, Hashable {
        public let `Type`: String?
        public let Name: String?
        public let Source: String?
        public let Destination: String
    }
    /// What the container was created with (only the healthcheck is read).
    public struct Config: Decodable, Sendable, Hashable {
        public struct Healthcheck: Decodable, Sendable, Hashable {
            /// `["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]`, or empty (the image's).
            public let Test: [String]?
            /// Nanoseconds; 0 or absent: docker's default (30 s).
            public let Timeout: Int64?
        }
        public let Healthcheck: Healthcheck?
    }
    public let Id: String
    public let State: State?
    public let Mounts: [Mount]?
    public let Config: Config?
}

/// A swarm secret or config (metadata only: the engine never returns secret data).
public struct SwarmObject: Decodable, Sendable, Hashable {
    public struct Spec: Decodable, Sendable, Hashable {
        public let Name: String
        public let Labels: [String: String]?
    }
    public let ID: String
    public let Spec: Spec
    public let CreatedAt: String?

    public var name: String { self.Spec.Name }
    public var labels: [String: String] { self.Spec.Labels ?? [:] }
}

/// A volume.
public struct DockerVolume: Decodable, Sendable, Hashable {
    public let Name: String
    public let Mountpoint: String?
    public let Labels: [String: String]?
    public let Driver: String?

    public var labels: [String: String] { Labels ?? [:] }
}

struct VolumeList: Decodable {
    let Volumes: [DockerVolume]?
}

/// A network.
public struct DockerNetwork: Decodable, Sendable, Hashable {
    public let Id: String
    public let Name: String
    public let Driver: String?
    public let Scope: String?
    public let Attachable: Bool?
    public let Labels: [String: String]?

    public var labels: [String: String] { Labels ?? [:] }
}

/// An image in `GET /images/json`.
public struct DockerImage: Decodable, Sendable, Hashable {
    public let Id: String
    public let RepoTags: [String]?
}

/// One event from `GET /events`.
public struct EngineEvent: Decodable, Sendable, Hashable {
    public struct Actor: Decodable, Sendable, Hashable {
        public let ID: String?
        public let Attributes: [String: String]?
    }
    public let `Type`: String?
    public let Action: String?
    public let Actor: Actor?
    public let time: Int64?
    public let timeNano: Int64?

    /// The event's time.
    public var date: Date {
        if let timeNano { return Date(timeIntervalSince1970: Double(timeNano) / 1e9) }
        return Date(timeIntervalSince1970: Double(time ?? 0))
    }

    public var attributes: [String: String] { self.Actor?.Attributes ?? [:] }
}

/// `POST …/create` answers.
struct CreatedID: Decodable {
    let Id: String?
    let ID: String?

    var value: String { Id ?? ID ?? "" }
}

/// `GET /exec/{id}/json`.
struct ExecInspect: Decodable {
    let ExitCode: Int?
    let Running: Bool?
}

/// An engine error body.
struct EngineMessage: Decodable {
    let message: String
}

/// What `GET /images/{name}/json` says about an image.
public struct ImageDetails: Decodable, Sendable, Hashable {
    /// The image id (`sha256:` of its config).
    public let Id: String
    /// `name@sha256:…` for each registry it was pulled from or pushed to.
    public let RepoDigests: [String]?
    public let RepoTags: [String]?
    public let Size: Int64?

    /// The manifest digest this image has under `familiarName` (`nginx`, `host:5000/team/app`).
    public func repoDigest(of familiarName: String) -> String? {
        for entry in RepoDigests ?? [] {
            guard let at = entry.lastIndex(of: "@"), entry[..<at] == familiarName else { continue }
            return String(entry[entry.index(after: at)...])
        }
        return nil
    }
}

/// One sample of a container's stats stream (`GET /containers/{id}/stats`): the fields cc-ci reads.
public struct ContainerStats: Decodable, Sendable {
    public struct CPU: Decodable, Sendable {
        public struct Usage: Decodable, Sendable {
            public let total: UInt64?

            enum CodingKeys: String, CodingKey { case total = "total_usage" }
        }

        public let usage: Usage?
        public let system: UInt64?
        public let onlineCPUs: Int?

        enum CodingKeys: String, CodingKey {
            case usage = "cpu_usage"
            case system = "system_cpu_usage"
            case onlineCPUs = "online_cpus"
        }
    }

    public struct Memory: Decodable, Sendable {
        public let usage: UInt64?
        public let stats: [String: UInt64]?
    }

    public let cpu: CPU?
    public let previousCPU: CPU?
    public let memory: Memory?

    enum CodingKeys: String, CodingKey {
        case cpu = "cpu_stats"
        case previousCPU = "precpu_stats"
        case memory = "memory_stats"
    }

    /// The memory the container holds: its cgroup's usage less the inactive file cache (cgroup v2
    /// `inactive_file`, v1 `total_inactive_file`), as `docker stats` shows it; `nil` when the
    /// sample has no usage (the container is gone).
    public var workingSetBytes: Int64? {
        guard let usage = memory?.usage, usage > 0 else { return nil }
        let inactive = memory?.stats?["inactive_file"] ?? memory?.stats?["total_inactive_file"] ?? 0
        return Int64(usage > inactive ? usage - inactive : usage)
    }

    /// CPU since the previous sample, in percent of one CPU (`docker stats`' formula); `nil` for
    /// the first sample of a stream, which has nothing to measure against.
    public var cpuPercent: Double? {
        guard let now = cpu?.usage?.total, let before = previousCPU?.usage?.total, let system = cpu?.system,
            let systemBefore = previousCPU?.system, systemBefore > 0, system > systemBefore, now >= before
        else { return nil }
        let cpus = Double(cpu?.onlineCPUs ?? 1)
        return Double(now - before) / Double(system - systemBefore) * cpus * 100
    }
}
