import CCCICore
import CCCISystem
import Foundation
import Logging
import Testing

@testable import CCCIRunner

/// The run's log: every line timestamped into `run.log`, tier lines also into the tier's log,
/// library log lines through swift-log, and no secret value anywhere.
@Suite struct RunJournalTests {
    static func journal(secrets: [String] = []) throws -> (RunJournal, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-journal-\(UUID())")
        let registry = SecretRegistry()
        for secret in secrets { registry.register(secret) }
        return (try RunJournal(directory: directory, redactor: registry), directory)
    }

    static func read(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    @Test("tier lines go to run.log (tagged) and to the tier's own log; secrets are masked in both")
    func tierLines() throws {
        let (journal, directory) = try Self.journal(secrets: ["hunter2-s3cret"])
        defer { try? FileManager.default.removeItem(at: directory) }
        journal.line("converge: started")
        journal.line("password is hunter2-s3cret\nsecond line", tier: "install")
        journal.close()
        let runLog = Self.read(journal.runLog)
        let tierLog = Self.read(journal.tierLog("install"))
        #expect(runLog.contains("converge: started"))
        #expect(runLog.contains("[install] password is "))
        #expect(runLog.contains("[install] second line"), "every line of a multi-line text is stamped")
        #expect(tierLog.contains("second line"))
        #expect(!runLog.contains("hunter2-s3cret") && !tierLog.contains("hunter2-s3cret"))
        #expect(!tierLog.contains("converge: started"), "a run line is not a tier line")
    }

    @Test("a library's log lines reach run.log with their level, label and sorted dotted metadata, redacted")
    func libraryLines() throws {
        let (journal, directory) = try Self.journal(secrets: ["tok-9f8e7d"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = Logger(label: "ccci.engine") { label in journal.handler(label: label, level: .info) }
        logger.info(
            "request failed", metadata: ["http.status": "500", "engine.path": "/v1.41/services?token=tok-9f8e7d"])
        logger.debug("below the journal's level")
        journal.close()
        let runLog = Self.read(journal.runLog)
        #expect(runLog.contains("info ccci.engine: request failed engine.path=/v1.41/services?token="))
        #expect(runLog.contains(" http.status=500"))
        #expect(!runLog.contains("tok-9f8e7d"))
        #expect(!runLog.contains("below the journal's level"))
    }

    @Test("a run that wrote nothing leaves no directory; one that wrote a line keeps it")
    func discardIfEmpty() throws {
        let (empty, emptyDirectory) = try Self.journal()
        empty.discardIfEmpty()
        #expect(!FileManager.default.fileExists(atPath: emptyDirectory.path))

        let (used, usedDirectory) = try Self.journal()
        defer { try? FileManager.default.removeItem(at: usedDirectory) }
        used.line("engine unreachable")
        used.discardIfEmpty()
        #expect(Self.read(used.runLog).contains("engine unreachable"))
    }
}

/// A tier's verdict from its checks: the first failure is the reason, a stop is not a failure,
/// a concluded N/A stands.
@Suite struct TierRecorderTests {
    struct Boom: Error, CustomStringConvertible {
        var description: String { "marker row missing after restore" }
    }

    static func recorder() throws -> (TierRecorder, URL) {
        let (journal, directory) = try RunJournalTests.journal()
        return (
            TierRecorder(tier: .restore, role: .head, journal: journal, reporter: Reporter(enabled: false)), directory
        )
    }

    @Test("the first failing check fails the tier and names it; later failures do not replace it")
    func firstFailure() async throws {
        let (recorder, directory) = try Self.recorder()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await recorder.check("converge") {}
        await #expect(throws: CheckFailure.self) { try await recorder.check("data proof") { throw Boom() } }
        recorder.record(Check(name: "later", status: .fail, durationSeconds: 0, message: "also bad"))
        let result = recorder.result()
        #expect(result.status == .fail)
        #expect(result.reason == "data proof: marker row missing after restore")
        #expect(result.checks.map(\.status) == [.pass, .fail, .fail])
        #expect(result.log == "tiers/restore.log")
    }

    @Test("a check cut by cancellation makes the tier cancelled, not failed")
    func cancelled() async throws {
        let (recorder, directory) = try Self.recorder()
        defer { try? FileManager.default.removeItem(at: directory) }
        await #expect(throws: CancellationError.self) {
            try await recorder.check("converge") { throw CancellationError() }
        }
        #expect(recorder.result().status == .cancelled)
        #expect(recorder.result().reason == "the run was stopped during `converge`")
    }

    @Test("with no failed check, a concluded status stands; with none, the tier passed")
    func concluded() async throws {
        let (recorder, directory) = try Self.recorder()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(recorder.result().status == .pass)
        recorder.conclude(.na, reason: "the recipe has no backupbot labels")
        #expect(recorder.result().status == .na)
        #expect(recorder.result().reason == "the recipe has no backupbot labels")
    }
}
