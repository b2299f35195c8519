import CCCICore
import CCCIStore
import CCCISystem
import Foundation

/// Writes what a run found where people and programs read it (SPEC F-RESULTS, F-LOGS):
/// `results.json` (atomically), `junit.xml`, the store's history — and keeps the run's secret
/// values out of everything in its run directory, which outlives the run.
struct RunRecord {
    let context: RunContext
    let store: (any RunHistory)?

    /// Writes the results document, JUnit and the store record; a failure to write is logged,
    /// never fatal (the run's verdict stands).
    func write(_ results: RunResults) async {
        let journal = context.journal
        do {
            try AtomicFile.write(try results.encoded(), to: context.runDirectory.appendingPathComponent("results.json"))
            try AtomicFile.write(JUnit.render(results), to: context.runDirectory.appendingPathComponent("junit.xml"))
        } catch {
            journal.line("cannot write results: \(error)")
        }
        if let store {
            do {
                try await store.record(results)
            } catch {
                journal.line("cannot record the run in the store: \(error)")
            }
        }
        let cpu = CPUUsage.now()
        journal.line(
            "run \(context.runID) finished: \(results.outcome.rawValue), level \(results.level), exit \(results.exitCode)"
                + String(format: "; cpu: ccci %.2fs, children %.2fs", cpu.own.seconds, cpu.children.seconds))
    }

    /// The files a store that keeps them (``RunHistory/keepsRunFiles``) holds of a finished run,
    /// so that every node's pages serve it — read after ``scrubSecrets(dependencies:depsFile:)``.
    static let keptFiles = ["results.json", "junit.xml", "run.log", "job.log", "screenshot.png"]

    /// Gives the store the run's files, when it keeps them; a failure is said on stderr (the
    /// journal is closed), never fatal.
    func keepFiles() async {
        guard let store, store.keepsRunFiles else { return }
        var files: [String: Data] = [:]
        for name in Self.keptFiles {
            if let data = try? Data(contentsOf: context.runDirectory.appendingPathComponent(name)) {
                files[name] = data
            }
        }
        guard !files.isEmpty else { return }
        do {
            try await store.keep(files: files, of: context.runID)
        } catch {
            StandardError.line("warning: the run's files are not kept in the store: \(error)")
        }
    }

    /// Keeps secret values out of the run directory. Everything cc-ci writes is redacted as it is
    /// written; this pass covers what hooks and tests wrote into their own logs, and masks the
    /// credentials in the deps file (names stay). Files are rewritten in place (same inode),
    /// after the journal is closed.
    func scrubSecrets(dependencies: [String: DependencyInfo], depsFile: URL?) {
        if let depsFile {
            var infos = dependencies
            for (name, info) in infos {
                var masked = info
                masked.credentials = info.credentials.mapValues { _ in Redaction.mask }
                infos[name] = masked
            }
            if let data = try? JSONCoding.prettyEncoder.encode(infos) { Self.overwrite(depsFile, with: data) }
        }
        guard !context.secrets.all.isEmpty,
            let files = FileManager.default.enumerator(
                at: context.runDirectory, includingPropertiesForKeys: [.isRegularFileKey])
        else { return }
        for case let file as URL in files where ["log", "json", "xml", "txt", "yml"].contains(file.pathExtension) {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            let clean = context.secrets.redact(text)
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
}

extension RunCoordinator {
    /// The results document of a run that got past its setup.
    func record(
        _ prepared: PreparedRun, decision: RunVerdict.Decision, flags: [String], serviceLogs: [String],
        baseVersion: String? = nil, retryApps: [String] = []
    ) async -> RunResults {
        var tierLogs: [String: String] = [:]
        for (tier, result) in decision.tiers { if let log = result.log { tierLogs[tier.rawValue] = log } }
        var manifest = prepared.manifest
        manifest.inputs = await prepared.inputs.sources
        manifest.images = await prepared.images.all.sorted { ($0.app, $0.service) < ($1.app, $1.service) }
        var results = RunResults(
            runID: runID, recipe: prepared.recipe, ref: options.ref, pr: options.pr > 0 ? options.pr : nil,
            headCommit: prepared.head.commit, headVersion: prepared.head.version?.raw,
            baseVersion: baseVersion ?? prepared.upgradeBase?.version.raw, driver: driver.name,
            mode: options.quick ? "quick" : "cold",
            appDomain: options.quick
                ? prepared.naming.warmAppDomain(recipe: prepared.recipe).name : prepared.headDomain.name,
            upgradeAppDomain: !options.quick && options.stages.contains(.upgrade) ? prepared.upgradeDomain.name : nil,
            startedAt: startDate, finishedAt: Date(), outcome: decision.outcome, exitCode: decision.outcome.exitCode,
            tiers: Dictionary(uniqueKeysWithValues: decision.tiers.map { ($0.key.rawValue, $0.value) }),
            ladder: decision.ladder, deployCount: await prepared.deployGuard.total, manifest: manifest,
            flags: flags.sorted(),
            artifacts: Artifacts(
                runDirectory: runDirectory.path, tierLogs: tierLogs, serviceLogs: serviceLogs,
                screenshot: FileManager.default.fileExists(
                    atPath: runDirectory.appendingPathComponent(ScreenshotTier.fileName).path)
                    ? ScreenshotTier.fileName : nil),
            ccciVersion: CCCIVersion.current)
        if !retryApps.isEmpty { results.retryAppDomains = retryApps }
        return results
    }
}
