import CCCICore
import CCCIServer
import CCCIStore
import CCCITestSupport
import Foundation
import Synchronization
import Testing

/// Run directory retention (`[retention]`, `ccci gc`) on real directories.
@Suite struct HousekeepingTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func run(_ id: String, _ recipe: String, daysAgo: Double) -> Retention.RunDirectory {
        Retention.RunDirectory(
            runID: id, recipe: recipe, startedAt: now.addingTimeInterval(-daysAgo * 86_400), bytes: 1)
    }

    @Test("a run goes only when it is neither among its recipe's newest N nor younger than D days")
    func rule() {
        let runs = [
            run("w1", "web", daysAgo: 40), run("w2", "web", daysAgo: 35), run("w3", "web", daysAgo: 20),
            run("w4", "web", daysAgo: 1), run("a1", "appdb", daysAgo: 90),
        ]
        let policy = RetentionPolicy(keepRuns: 2, keepDays: 30)
        #expect(Retention.expired(runs, policy: policy, now: now).map(\.runID) == ["w1", "w2"])
        #expect(
            Retention.expired(runs, policy: RetentionPolicy(keepRuns: 1, keepDays: 0), now: now).map(\.runID)
                == ["w1", "w2", "w3"])
        #expect(Retention.expired(runs, policy: RetentionPolicy(keepRuns: 0, keepDays: 365), now: now).isEmpty)
    }

    @Test("collect removes expired run directories, never a live run's or an active job's; a dry run removes nothing")
    func collect() throws {
        let home = try TemporaryDirectory("ccci-gc")
        var config = try TestEnvironment.labConfig(home: home.url)
        config.retention = RetentionPolicy(keepRuns: 1, keepDays: 0)
        let ids = [
            "20250101T000000Z-web-aaaaaa", "20250102T000000Z-web-bbbbbb", "20250103T000000Z-web-cccccc",
            "20250104T000000Z-web-dddddd",
        ]
        for (index, id) in ids.enumerated() {
            let directory = config.runsDirectory.appendingPathComponent(id)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(repeating: 1, count: 100).write(to: directory.appendingPathComponent("run.log"))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000 + Double(index) * 60)],
                ofItemAtPath: directory.path)
        }
        let live = config.home.appendingPathComponent("live")
        try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: live.appendingPathComponent("\(ids[0]).json"))
        let retention = Retention(config: config)
        let dry = retention.collect(dryRun: true, active: [ids[1]])
        #expect(dry.removed.map(\.runID) == [ids[2]])
        #expect(dry.protected.sorted() == [ids[0], ids[1]])
        #expect(FileManager.default.fileExists(atPath: config.runsDirectory.appendingPathComponent(ids[2]).path))
        let report = retention.collect(dryRun: false, active: [ids[1]])
        #expect(report.removed.map(\.runID) == [ids[2]] && report.bytes == 100)
        let left = try FileManager.default.contentsOfDirectory(atPath: config.runsDirectory.path).sorted()
        #expect(left == [ids[0], ids[1], ids[3]])
    }

    @Test("housekeeping prunes the node's backups each sweep and logs what was freed; a failed prune is a warning")
    func prunesBackups() async throws {
        let home = try TemporaryDirectory("ccci-housekeeping")
        let config = try TestEnvironment.labConfig(home: home.url)
        let capture = LogCapture()
        let calls = Mutex(0)
        let pruning = Housekeeping(
            retention: Retention(config: config), store: try SQLiteStore(),
            pruneBackups: {
                calls.withLock { $0 += 1 }
                return "pruned 5 blobs / 2.862 MiB, 0 blobs / 0 B remaining"
            }, logger: capture.logger())
        await pruning.sweep()
        await pruning.sweep()
        #expect(calls.withLock { $0 } == 2)
        #expect(capture.text.contains("backups pruned gc.backups=pruned 5 blobs / 2.862 MiB"))

        struct Locked: Error, CustomStringConvertible {
            var description: String { "the repository stayed locked for 10m" }
        }
        let failing = Housekeeping(
            retention: Retention(config: config), store: try SQLiteStore(), pruneBackups: { throw Locked() },
            logger: capture.logger())
        await failing.sweep()
        let warning = try #require(capture.lines.first { $0.message == "cannot prune the backups" })
        #expect(
            warning.level == .warning && warning.metadata["error.message"] == "the repository stayed locked for 10m")
    }
}
