import CCCICore
import CCCIDeploy
import CCCILab
import CCCIStore
import CCCISwarm
import CCCISystem
import Foundation

/// `ccci run` as a user runs it — the real binary against the real lab — with its state in a
/// sandbox: a home of its own (store, runs, env files, locks), a CI domain of its own (so its
/// janitor can only ever see this harness' apps), and a catalogue of freshly built fixtures.
public struct RunHarness: Sendable {
    public let home: TemporaryDirectory
    public let ciDomain: String
    public let catalogue: URL
    public let packs: URL

    public init(packs: URL = TestEnvironment.packsRoot) throws {
        home = try TemporaryDirectory("ccci-run")
        ciDomain = "t\(TestEnvironment.randomHex(5)).ccci.test"
        TestSession.register(ciDomain: ciDomain, home: home.url)
        catalogue = home.appending("catalogue")
        self.packs = packs
    }

    /// Builds fixture `name` into the catalogue (as `alias` when given).
    @discardableResult
    public func add(_ name: String, as alias: String? = nil) async throws -> FixtureRecipes.Repository {
        try await FixtureRecipes(root: TestEnvironment.fixturesRoot).materialize(
            name, at: catalogue.appendingPathComponent(alias ?? name))
    }

    /// The environment a `ccci` process of this harness runs with.
    public var environment: [String: String?] {
        [
            "CCCI_HOME": home.url.path, "CCCI_CONFIG": nil, "CCCI_CI_DOMAIN": ciDomain,
            "CCCI_LOCK_DIR": home.appending("locks").path, "CCCI_CATALOGUE_DIR": catalogue.path,
            "CCCI_PACKS_DIR": packs.path, "NO_COLOR": "1",
            // Room for the concurrent runs the tests make (the node default is 2).
            "CCCI_CAPACITY": "4",
        ]
    }

    /// The node configuration the harness' processes see.
    public func config() throws -> NodeConfig {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in self.environment { environment[key] = value }
        return try NodeConfig.load(environment: environment)
    }

    /// The store the harness' processes write, as a node opens it.
    public func store() async throws -> any NodeStore {
        try await Store.open(config())
    }

    /// Runs `ccci <arguments>`.
    public func ccci(_ arguments: [String], extra: [String: String?] = [:]) async throws -> CommandResult {
        var environment = self.environment
        for (key, value) in extra { environment[key] = value }
        let command = Command(
            TestEnvironment.ccciExecutable.path, arguments, environment: environment, workingDirectory: home.url)
        // Forked on the spawn thread: `ccci run` arms a parent-death signal, which the kernel
        // sends when the forking *thread* ends — a retired pool thread would stop the run.
        return try await withTaskExecutorPreference(SpawnThread.shared) { try await ProcessRunner().run(command) }
    }

    /// The results document a `ccci run … --json` printed.
    public func results(_ result: CommandResult) throws -> RunResults {
        guard let start = result.output.firstIndex(of: "{") else {
            throw TestSetupError(
                "no results document in the output (exit \(result.status)):\n\(result.output)\n\(result.errorOutput)")
        }
        return try JSONCoding.decoder.decode(RunResults.self, from: Data(result.output[start...].utf8))
    }

    /// What is left of each of `domains` that is not nothing (an empty answer means no residue).
    public func leftovers(_ domains: [String]) async throws -> [String: Residue] {
        try await TestEnvironment.withEngine { engine in
            var left: [String: Residue] = [:]
            for domain in domains {
                let residue = try await residue(domain, engine: engine)
                if !residue.isEmpty { left[domain] = residue }
            }
            return left
        }
    }

    /// What is left on the node of the app at `domain`.
    public func residue(_ domain: String, engine: DockerEngine) async throws -> Residue {
        let config = try config()
        return try await NativeDriver(config: config, engine: engine, logger: TestEnvironment.logger).residue(
            domain: try config.naming().appDomain(domain))
    }

    /// Starts `ccci <arguments>` in the background, forked on the spawn thread (see ``ccci(_:extra:)``),
    /// its output in `output` (the caller kills it by pid if the test ends first).
    public func start(_ arguments: [String], output: URL, extra: [String: String] = [:]) async throws -> Process {
        let handle = try { () throws -> FileHandle in
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            return try FileHandle(forWritingTo: output)
        }()
        return try await start(arguments, writingTo: handle, extra: extra)
    }

    /// Starts `ccci` with its stdout and stderr on a pipe nobody reads any more — as a CI
    /// engine's worker that died leaves its step: every write fails with `EPIPE`.
    public func startWithoutReader(_ arguments: [String], extra: [String: String] = [:]) async throws -> Process {
        let pipe = Pipe()
        let process = try await start(arguments, writingTo: pipe.fileHandleForWriting, extra: extra)
        try pipe.fileHandleForReading.close()
        try pipe.fileHandleForWriting.close()
        return process
    }

    func start(_ arguments: [String], writingTo output: FileHandle, extra: [String: String]) async throws -> Process {
        let process = Process()
        process.executableURL = TestEnvironment.ccciExecutable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in self.environment {
            if let value { environment[key] = value } else { environment[key] = nil }
        }
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        try await withTaskExecutorPreference(SpawnThread.shared) { try process.run() }
        return process
    }

    /// The run directories under this harness' home (their names, the run ids).
    public func runIDs() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: home.appending("runs").path)) ?? [])
    }

    /// Waits until the run.log of a run under this harness' home — one not in `excluding` —
    /// contains `text`.
    public func waitForLog(
        containing text: String, excluding: Set<String> = [], timeout: Duration = .seconds(60)
    ) async -> Bool {
        let runs = home.appending("runs")
        let found = try? await poll(
            until: {
                ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []).contains { run in
                    guard !excluding.contains(run) else { return false }
                    let log = try? String(contentsOf: runs.appendingPathComponent("\(run)/run.log"), encoding: .utf8)
                    return log?.contains(text) ?? false
                }
            }, timeout: timeout)
        return found ?? false
    }

    /// The results documents of every finished run under this harness' home.
    public func allResults() throws -> [RunResults] {
        let runs = home.appending("runs")
        return try FileManager.default.contentsOfDirectory(atPath: runs.path).sorted().compactMap { run in
            guard let data = try? Data(contentsOf: runs.appendingPathComponent("\(run)/results.json")) else {
                return nil
            }
            return try JSONCoding.decoder.decode(RunResults.self, from: data)
        }
    }
}
