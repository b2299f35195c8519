import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISwarm
import CCCISystem
import Foundation

/// The end of a run: verdicts, teardown, results, secrets kept out of the run directory.
extension RunCoordinator {
    // MARK: - Finish

    func finish(_ prepared: PreparedRun, state: RunState, stop: RunLifetime.StopReason?) async -> RunResults {
        let journal = prepared.journal
        // Tiers that never concluded: cut short by a stop (cancelled, no verdict), or not requested.
        for tier in Tier.defaultStages where await state.tiers[tier] == nil {
            if options.stages.contains(tier), let stop {
                await state.setTier(
                    tier,
                    TierResult(
                        status: .cancelled, durationSeconds: 0,
                        reason: "not run: the run was stopped (\(stop.description))"))
            } else {
                let reason = options.stages.contains(tier) ? "not run" : "not requested"
                await state.setTier(tier, TierResult(status: .skip, durationSeconds: 0, reason: reason))
            }
        }
        // A verdict cut short carries the stop's reason.
        if let stop {
            for (tier, result) in await state.tiers where result.status == .cancelled {
                var result = result
                result.reason = "\(result.reason ?? "stopped") (\(stop.description))"
                await state.setTier(tier, result)
            }
        }
        let tiers = await state.tiers
        let requestedFailed = options.stages.contains { tiers[$0]?.status == .fail }

        // Diagnostics of failures, collected before anything is removed.
        if requestedFailed || stop != nil {
            await collectDiagnostics(prepared, state: state)
        }
        var serviceLogs: [String] = []
        if let entries = try? FileManager.default.contentsOfDirectory(
            atPath: runDirectory.appendingPathComponent("services").path)
        {
            serviceLogs = entries.sorted().map { "services/\($0)" }
        }

        let keep = options.keepOnFailure && requestedFailed && stop == nil
        var residueClean = true
        if keep {
            await state.flag("keep-on-failure")
            let domains = await state.locked.map(\.domain)
            await markKept(domains)
            let names = domains.map(\.name)
            let lines = [
                "", "kept for inspection (--keep-on-failure): \(names.joined(separator: ", "))",
                "remove with: ccci teardown \(names.joined(separator: " "))",
            ]
            await reporter.print(lines)
            for line in lines { await journal.line(line) }
        } else {
            residueClean = await teardown(prepared, state: state)
        }
        if !residueClean { await state.flag("residue") }

        var outcome: RunOutcome
        if let stop {
            outcome = stop.outcome
        } else if requestedFailed || !residueClean {
            outcome = .fail
        } else {
            outcome = .pass
        }
        let flags = await state.flags
        let declaredNA = Set(prepared.meta.naTiers)
        var statuses: [Tier: TierStatus] = [:]
        for (tier, result) in tiers { statuses[tier] = result.status }
        let ladder = LevelLadder.evaluate(
            statuses: statuses, declaredNA: declaredNA, customTestsExecuted: await state.customExecuted)
        var tierLogs: [String: String] = [:]
        for (tier, result) in tiers { if let log = result.log { tierLogs[tier.rawValue] = log } }
        let results = RunResults(
            runID: runID, recipe: prepared.recipe, ref: options.ref, pr: options.pr > 0 ? options.pr : nil,
            headCommit: prepared.head.commit, headVersion: prepared.head.version?.raw,
            baseVersion: prepared.upgradeBase?.version.raw, driver: driver.name, mode: "cold",
            appDomain: prepared.headDomain.name,
            upgradeAppDomain: options.stages.contains(.upgrade) ? prepared.upgradeDomain.name : nil,
            startedAt: startDate,
            finishedAt: Date(), outcome: outcome.rawValue, exitCode: outcome.exitCode,
            tiers: Dictionary(uniqueKeysWithValues: tiers.map { ($0.key.rawValue, $0.value) }), ladder: ladder,
            deployCount: await prepared.deployGuard.total, manifest: prepared.manifest, flags: flags.sorted(),
            artifacts: Artifacts(runDirectory: runDirectory.path, tierLogs: tierLogs, serviceLogs: serviceLogs),
            ccciVersion: CCCIVersion.current)
        do {
            try AtomicFile.write(try results.encoded(), to: runDirectory.appendingPathComponent("results.json"))
            try AtomicFile.write(JUnit.render(results), to: runDirectory.appendingPathComponent("junit.xml"))
        } catch {
            await journal.line("cannot write results: \(error)")
        }
        if let store {
            do {
                try await store.record(results)
            } catch {
                await journal.line("cannot record the run in the store: \(error)")
            }
        }
        await journal.line(
            "run \(runID) finished: \(outcome.rawValue), level \(ladder.level), exit \(outcome.exitCode)")
        await reporter.summary(results, runDirectory: runDirectory)
        cleanWorkspace()
        return results
    }

    /// Keeps secret values out of the run directory, which outlives the run. Everything cc-ci
    /// writes is redacted as it is written; this pass covers what hooks and tests wrote into their
    /// own logs, and masks the credentials in the deps file (names stay). Files are rewritten in
    /// place (same inode), after the journal is closed.
    func scrubSecrets(_ prepared: PreparedRun, state: RunState) async {
        var infos = await state.depsInfo
        for (name, info) in infos {
            var masked = info
            masked.credentials = info.credentials.mapValues { _ in Redaction.mask }
            infos[name] = masked
        }
        if let data = try? JSONCoding.prettyEncoder.encode(infos) {
            Self.overwrite(prepared.stateFiles.deps, with: data)
        }
        let values = secrets.all
        guard !values.isEmpty,
            let files = FileManager.default.enumerator(
                at: runDirectory, includingPropertiesForKeys: [.isRegularFileKey])
        else { return }
        for case let file as URL in files where ["log", "json", "xml", "txt", "yml"].contains(file.pathExtension) {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            let clean = secrets.redact(text)
            if clean != text { Self.overwrite(file, with: Data(clean.utf8)) }
        }
    }

    /// Replaces a file's content in place.
    static func overwrite(_ file: URL, with data: Data) {
        guard let handle = try? FileHandle(forWritingTo: file) else { return }
        defer { try? handle.close() }
        try? handle.truncate(atOffset: 0)
        try? handle.write(contentsOf: data)
    }

    /// Removes the run's workspace (its recipe clones); the run directory stays.
    func cleanWorkspace() {
        try? FileManager.default.removeItem(at: workspace)
    }
}

/// A hook that exited non-zero.
struct HookFailure: Error, CustomStringConvertible {
    let hook: String
    let outcome: HookRunner.Outcome

    var description: String {
        "hook \(hook) exited \(outcome.exitCode)"
            + (outcome.outputTail.isEmpty
                ? "" : ": \(outcome.outputTail.split(separator: "\n").suffix(3).joined(separator: " | "))")
    }
}

/// A version label that does not say what the run deployed.
struct LabelMismatch: Error, CustomStringConvertible {
    let key: String
    let expected: String
    let found: String?

    var description: String {
        "\(key) is \(found.map { "'\($0)'" } ?? "missing"), expected '\(expected)' — the deployed code is not the code under test"
    }
}
