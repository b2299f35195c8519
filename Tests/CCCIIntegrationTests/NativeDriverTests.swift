import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    /// What only the native driver has: one restic repository per node, and its keys.
    @Suite struct NativeDriverBackups {
        @Test(
            "a node repository restic initialised gets the quick key, and its snapshots stay readable; a repository another password sealed is refused, unchanged"
        )
        func quickKeyForAnOlderRepository() async throws {
            let home = try TemporaryDirectory("ccci-restic-key")
            let restic = ResticStore(
                directory: home.appending("restic"), runner: ProcessRunner(), secrets: SecretRegistry())
            try FileManager.default.createDirectory(at: restic.directory, withIntermediateDirectories: true)
            try AtomicFile.write(SecretGenerator.value(length: 40), to: restic.passwordFile, permissions: 0o600)
            _ = try await restic.run(["init"])
            try "kept\n".write(to: home.appending("file"), atomically: true, encoding: .utf8)
            _ = try await restic.run(["backup", "--no-cache", "--tag", "before", home.appending("file").path])
            #expect(restic.quickKey() == nil, "restic's own key only")

            #expect(try await restic.ensureRepository() == false, "not initialised again")
            let quick = try #require(restic.quickKey())
            let keys = try await restic.run(["key", "list", "--json", "--no-cache"])
            #expect(keys.contains(#""current":true,"id":"\#(quick.prefix(8))"#), "\(keys)")
            #expect(try await restic.run(["snapshots", "--json", "--no-cache", "--tag", "before"]).contains("before"))
            let scratch = try FileManager.default.contentsOfDirectory(atPath: restic.directory.path)
            #expect(!scratch.contains { $0.hasPrefix("key-check") }, "the scratch repository is gone: \(scratch)")

            // Another node's password: no key opens, the error says so, and nothing is written.
            let other = ResticStore(
                directory: home.appending("other"), runner: ProcessRunner(), secrets: SecretRegistry())
            try FileManager.default.createDirectory(at: other.directory, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: restic.repository, to: other.repository)
            for name in try FileManager.default.contentsOfDirectory(
                atPath: other.repository.appendingPathComponent("keys").path)
            where name == quick {
                try FileManager.default.removeItem(
                    at: other.repository.appendingPathComponent("keys").appendingPathComponent(name))
            }
            try AtomicFile.write(SecretGenerator.value(length: 40), to: other.passwordFile, permissions: 0o600)
            let before = try FileManager.default.contentsOfDirectory(
                atPath: other.repository.appendingPathComponent("keys").path)
            do {
                try await other.ensureRepository()
                Issue.record("a repository sealed with another password must be refused")
            } catch {
                #expect("\(error)".contains("opens with the password in \(other.passwordFile.path)"), "\(error)")
            }
            #expect(
                try FileManager.default.contentsOfDirectory(
                    atPath: other.repository.appendingPathComponent("keys").path) == before)
        }

        @Test(
            "one restic repository per node: two apps back up at once, a snapshot restores only into its own app, teardown forgets the app's snapshots"
        )
        func nodeRepository() async throws {
            try await DriverHarness.withApps(.native) { harness, apps in
                let driver = harness.driver
                let repository = try await harness.checkout("appdb")
                let first = try await driver.newApp(harness.spec(repository))
                let second = try await driver.newApp(harness.spec(repository))
                apps += [first, second]
                for app in [first, second] { _ = try await driver.deploy(app, mode: .chaos) }
                for app in [first, second] { _ = try await driver.waitConverged(app, timeout: .seconds(90)) }

                // Concurrent backups share the repository (restic's shared lock); the first use
                // initialised it once.
                async let firstBackup = driver.backup(first)
                async let secondBackup = driver.backup(second)
                let (a, b) = try await (firstBackup, secondBackup)
                #expect(a.id != b.id)
                let restic = try #require(driver as? NativeDriver).restic
                #expect(FileManager.default.fileExists(atPath: restic.repository.appendingPathComponent("config").path))
                let perApp = restic.legacyFiles(for: first.domain) + restic.legacyFiles(for: second.domain)
                #expect(perApp.allSatisfy { !FileManager.default.fileExists(atPath: $0.path) }, "no per-app repository")
                let listed = try await restic.run(["snapshots", "--json", "--no-cache"])
                #expect(listed.contains("\"\(first.domain.name)\"") && listed.contains("\"\(second.domain.name)\""))

                // Beside restic's own key (its half-second scrypt) the repository has the node's
                // quick key for the same master key, and restic opens the repository with it.
                let quick = try #require(restic.quickKey(), "the repository has a quick key")
                let keys = try await restic.run(["key", "list", "--json", "--no-cache"])
                let listing = try JSONCoding.decoder.decode([JSONValue].self, from: Data(keys.utf8))
                #expect(listing.count == 2, "restic's key and the quick one: \(keys)")
                let current = listing.filter { $0["current"] == .bool(true) }.compactMap { $0["id"]?.stringValue }
                #expect(current.count == 1 && quick.hasPrefix(current[0]), "restic opened \(current), not \(quick)")

                // Another app's snapshot is refused before anything of this app is touched: known
                // from the backup itself, or, for a snapshot known only by id, from its tags.
                #expect(a.domain == first.domain.name && a.directories?.isEmpty == false, "listed while backing up")
                var byID = b
                byID.domain = nil
                byID.directories = nil
                for snapshot in [b, byID] {
                    do {
                        try await driver.restore(first, snapshot: snapshot)
                        Issue.record("a snapshot of \(second.domain) must not restore into \(first.domain)")
                    } catch let error as DriverError {
                        #expect("\(error)".contains("is not a snapshot of \(first.domain.name)"))
                    }
                }

                // Teardown forgets the app's snapshots (and only its own); no mark, no residue.
                let left = try await driver.remove(first)
                apps.removeAll { $0.domain == first.domain }
                #expect(left.isEmpty, "\(left.summary)")
                #expect(!FileManager.default.fileExists(atPath: restic.snapshotMark(for: first.domain).path))
                let after = try await restic.run(["snapshots", "--json", "--no-cache"])
                #expect(!after.contains("\"\(first.domain.name)\""), "the removed app's snapshots are forgotten")
                #expect(after.contains("\"\(second.domain.name)\""), "another app's snapshots stay")

                // A mark whose snapshots could not be forgotten is residue.
                try restic.markSnapshots(of: first.domain)
                let residue = try await driver.residue(domain: first.domain)
                #expect(residue.files == [restic.snapshotMark(for: first.domain).path])
                _ = try await restic.forget(first.domain)
                #expect(try await driver.residue(domain: first.domain).isEmpty)

                // `ccci gc` prunes the forgotten snapshots' data under restic's exclusive lock; a
                // backup running meanwhile (a shared lock) is waited for, not broken.
                func gc() async throws -> CommandResult {
                    try await ProcessRunner().run(
                        Command(
                            TestEnvironment.ccciExecutable.path, ["gc"],
                            environment: ["CCCI_HOME": harness.home.url.path, "CCCI_CONFIG": nil]))
                }
                async let concurrentBackup = driver.backup(second)
                async let concurrentGC = gc()
                let (third, pruning) = try await (concurrentBackup, concurrentGC)
                #expect(pruning.status == 0, "\(pruning.output)\(pruning.errorOutput)")
                let pruned = try #require(pruning.output.split(separator: "\n").first { $0.hasPrefix("backups: ") })
                #expect(
                    pruned.hasPrefix("backups: pruned ") && !pruned.hasPrefix("backups: pruned 0 blobs"), "\(pruned)")
                #expect(try await restic.run(["snapshots", "--json", "--no-cache"]).contains(third.id))
                let again = try await gc()
                #expect(
                    again.output.contains("backups: pruned 0 blobs / 0 B"), "nothing left to prune: \(again.output)")
            }
        }
    }
}
