import CCCICore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A run's files — `results.json`, its log, `junit.xml`, its screenshot — wherever the run ran.
/// The server reaches them only through this, by run id and file name, never by a path: a page
/// can serve a run of another node once its files are kept where every node can read them.
public protocol RunArtifacts: Sendable {
    /// Whether run `runID` has files here (it started, and wrote something).
    func hasRun(_ runID: String) async -> Bool
    /// Whether run `runID` has file `name` (a path relative to its files).
    func has(_ name: String, of runID: String) async -> Bool
    /// The bytes of file `name` of run `runID` (`nil`: it has none).
    func read(_ name: String, of runID: String) async -> Data?
    /// The run's log from byte `offset` on: its own `run.log`, else the worker's `job.log` (a run
    /// that failed to start). `nil`: no log yet, or nothing past `offset`.
    func log(of runID: String, from offset: Int) async -> Data?
}

extension RunArtifacts {
    /// The results document of finished run `runID`: its own `results.json`, else `history`'s copy
    /// (run files are collected long before history is). `nil`: not finished.
    public func resultsDocument(_ runID: String, history: any RunHistory) async throws -> Data? {
        if let data = await read("results.json", of: runID) { return data }
        return try await history.results(runID: runID).map { try $0.encoded() }
    }
}

/// The run files of this node: its runs directory. A run directory can hold what a run's own
/// processes wrote (a recipe's tests run there), so nothing is trusted: a run id is checked
/// before it names a directory, and a file is read only when its real path (symlinks followed)
/// lies inside the run's real directory and names a regular file (not a FIFO a read would block
/// on, not a device).
public struct LocalRunArtifacts: RunArtifacts {
    public let runsDirectory: URL

    public init(runsDirectory: URL) {
        self.runsDirectory = runsDirectory
    }

    public func hasRun(_ runID: String) async -> Bool { directory(runID) != nil }

    public func has(_ name: String, of runID: String) async -> Bool { file(name, of: runID) != nil }

    public func read(_ name: String, of runID: String) async -> Data? {
        file(name, of: runID).flatMap { try? Data(contentsOf: $0) }
    }

    public func log(of runID: String, from offset: Int) async -> Data? {
        guard let log = ["run.log", "job.log"].lazy.compactMap({ file($0, of: runID) }).first,
            let handle = try? FileHandle(forReadingFrom: log)
        else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > UInt64(max(0, offset)),
            (try? handle.seek(toOffset: UInt64(max(0, offset)))) != nil
        else { return nil }
        return try? handle.readToEnd()
    }

    /// The directory of run `runID`, when `runID` is a run id and the directory exists inside the
    /// runs directory.
    func directory(_ runID: String) -> URL? {
        guard RunID.isValid(runID),
            let directory = try? ContainedPath.resolve(runID, in: runsDirectory, what: "run directory")
        else { return nil }
        var info = stat()
        guard stat(directory.path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
        return directory
    }

    /// File `name` of run `runID`, when it is a regular file inside the run's directory.
    func file(_ name: String, of runID: String) -> URL? {
        guard let directory = directory(runID),
            let file = try? ContainedPath.resolve(name, in: directory, what: "run file")
        else { return nil }
        var info = stat()
        guard stat(file.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return file
    }
}
