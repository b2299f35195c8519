import CCCICore
import CCCIDeploy
import Foundation

/// The run-scoped state files (SPEC F-OPSTATE): op state, deps, deploy count and skip report.
///
/// They live in the run's own directory and carry the run id and this process' pid in their
/// names — never the app domain: a second run of the same domain starts (and writes its own
/// files) while the first still runs. Hooks and tests get the exact paths (`CCCI_OP_STATE_FILE`,
/// `CCCI_DEPS_FILE`), never derive them.
public struct RunStateFiles: Sendable, Hashable {
    public let opState: URL
    public let deps: URL
    public let deployCount: URL
    public let skipReport: URL

    public init(directory: URL, runID: String, pid: Int32 = ProcessInfo.processInfo.processIdentifier) {
        func file(_ name: String, _ suffix: String) -> URL {
            directory.appendingPathComponent("\(name)-\(runID)-\(pid).\(suffix)")
        }
        opState = file("opstate", "json")
        deps = file("deps", "json")
        deployCount = file("deploys", "json")
        skipReport = file("depskip", "json")
    }

    /// All of them.
    public var all: [URL] { [opState, deps, deployCount, skipReport] }
}

/// The op state: what one step records for the next (the backup's snapshot id, the upgrade's
/// base version and marker), read by hooks and tests through `CCCI_OP_STATE_FILE`.
public actor OpState {
    public let file: URL
    private var document: [String: JSONValue] = [:]

    public init(file: URL) throws {
        self.file = file
        try AtomicFile.write("{}\n", to: file, permissions: 0o600)
    }

    /// Records `value` under `section.key` and rewrites the file.
    public func record(_ section: String, _ key: String, _ value: JSONValue) throws {
        var object = document[section]?.objectValue ?? [:]
        object[key] = value
        document[section] = .object(object)
        try AtomicFile.write(
            try JSONCoding.prettyEncoder.encode(JSONValue.object(document)), to: file, permissions: 0o600)
    }

    public func value(_ section: String, _ key: String) -> JSONValue? {
        document[section]?[key]
    }
}

/// The deploy-count guard (SPEC F-RUN): a run deploys each of its apps fresh exactly once. A
/// second fresh deploy of the same app is a bug in the run (it would test a different thing
/// than it reports), so it fails the run. (A path run again under `retry_failed` has apps of its
/// own, each deployed once: counted as that attempt's.)
public actor DeployGuard {
    public let file: URL
    private var counts: [String: Int] = [:]

    public init(file: URL) throws {
        self.file = file
        try AtomicFile.write("{}\n", to: file, permissions: 0o600)
    }

    /// Records a fresh deploy of `role` (in `attempt` of its path; for the upgrade app of an extra
    /// base release, `base`); throws ``DeployGuardError`` on the second.
    public func recordFreshDeploy(_ role: AppRole, domain: AppDomain, attempt: Int = 1, base: String? = nil) throws {
        let key =
            role.rawValue + (base.map { " from \($0)" } ?? "") + (attempt > 1 ? " (attempt \(attempt))" : "")
        let count = (counts[key] ?? 0) + 1
        counts[key] = count
        try AtomicFile.write(try JSONCoding.prettyEncoder.encode(counts), to: file, permissions: 0o600)
        guard count == 1 else { throw DeployGuardError(role: role, domain: domain, count: count) }
    }

    /// Fresh deploys so far, all roles.
    public var total: Int { counts.values.reduce(0, +) }
}

/// A second fresh deploy inside one run.
public struct DeployGuardError: Error, Sendable, CustomStringConvertible {
    public let role: AppRole
    public let domain: AppDomain
    public let count: Int

    public var description: String {
        "deploy guard: the \(role.rawValue) app \(domain) would be deployed fresh a \(count == 2 ? "second" : "\(count)th") time "
            + "in one run — each app is deployed fresh exactly once"
    }
}
