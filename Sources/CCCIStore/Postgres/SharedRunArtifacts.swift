import CCCICore
import Foundation
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// The most a kept run file may hold: a run's log is already capped well below (F-LOGS).
    static let runFileLimit = 32 << 20

    public var keepsRunFiles: Bool { true }

    public func keep(files: [String: Data], of runID: String) async throws {
        let kept = files.filter { $0.value.count <= Self.runFileLimit }
        try await transaction("keep the files of run \(runID) in") { session in
            // The finished run's log replaces the copy kept while it ran.
            if kept["run.log"] != nil {
                try session.execute("DELETE FROM run_file WHERE run_id = \(runID) AND name = 'run.log.live'")
            }
            for (name, bytes) in kept.sorted(by: { $0.key < $1.key }) {
                try session.execute(
                    """
                    INSERT INTO run_file (run_id, name, bytes) VALUES (\(runID), \(name), \(ByteBuffer(bytes: bytes)))
                    ON CONFLICT (run_id, name) DO UPDATE SET bytes = EXCLUDED.bytes
                    """)
            }
        }
    }

    /// File `name` of run `runID`, as kept.
    func runFile(_ name: String, of runID: String) async throws -> Data? {
        try await session("read the files of run \(runID) from") { session in
            try session.value(
                "SELECT bytes FROM run_file WHERE run_id = \(runID) AND name = \(name)", as: ByteBuffer.self
            ).map { Data($0.readableBytesView) }
        }
    }

    /// Whether run `runID` has kept files.
    func hasRunFiles(_ runID: String) async throws -> Bool {
        try await session("read the files of run \(runID) from") { session in
            try session.value("SELECT count(*) FROM run_file WHERE run_id = \(runID)", as: Int64.self) ?? 0 > 0
        }
    }
}

/// The run files a node's pages serve with a shared store: the node's own run directories first
/// (a run that runs here, its log growing), then the files the store keeps of every node's
/// finished runs. A store that cannot be read serves what the node has.
struct SharedRunArtifacts: RunArtifacts {
    let local: LocalRunArtifacts
    let store: PostgresStore

    func hasRun(_ runID: String) async -> Bool {
        if await local.hasRun(runID) { return true }
        guard RunID.isValid(runID) else { return false }
        return (try? await store.hasRunFiles(runID)) ?? false
    }

    func has(_ name: String, of runID: String) async -> Bool {
        if await local.hasRun(runID) { return await local.has(name, of: runID) }
        return await read(name, of: runID) != nil
    }

    func read(_ name: String, of runID: String) async -> Data? {
        if await local.hasRun(runID) { return await local.read(name, of: runID) }
        guard RunID.isValid(runID) else { return nil }
        return try? await store.runFile(name, of: runID)
    }

    func log(of runID: String, from offset: Int) async -> Data? {
        if await local.hasRun(runID) { return await local.log(of: runID, from: offset) }
        guard RunID.isValid(runID) else { return nil }
        // The finished run's log, else the log so far of a run on another node.
        for name in ["run.log", "job.log", "run.log.live"] {
            guard let log = try? await store.runFile(name, of: runID) else { continue }
            let start = max(0, offset)
            return start < log.count ? log.subdata(in: start..<log.count) : nil
        }
        return nil
    }
}
