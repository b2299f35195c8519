import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real Buildbot master (PyPI `buildbot`, `buildbot-www`) on this machine, configured with the
/// shipped `deploy/buildbot/master.cfg`, and its workers — each started inside an extra node, so
/// that its builds run `ccci run` on that node's swarm. Stopped by the pids the daemons record.
public final class BuildbotMaster: Sendable {
    public let directory: TemporaryDirectory
    public let webPort: Int
    public let workerPort: Int
    public var url: String { "http://127.0.0.1:\(webPort)" }

    /// Creates and starts a master whose workers are `nodes` (name, capacity).
    public init(nodes: [(name: String, capacity: Int)]) async throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        guard
            path.split(separator: ":").contains(where: {
                FileManager.default.isExecutableFile(atPath: "\($0)/buildbot")
            })
        else {
            throw TestSetupError(
                "Buildbot is not installed: `pip install buildbot buildbot-worker buildbot-www` (.ci/run installs it)")
        }
        directory = try TemporaryDirectory("ccci-buildbot")
        webPort = try PostgresCluster.freePort()
        var port = try PostgresCluster.freePort()
        while port == webPort { port = try PostgresCluster.freePort() }
        workerPort = port
        let master = directory.appending("master")
        try await Self.run("buildbot", ["create-master", "-r", master.path])
        try FileManager.default.copyItem(
            at: TestEnvironment.repositoryRoot.appendingPathComponent("deploy/buildbot/master.cfg"),
            to: master.appendingPathComponent("master.cfg"))
        var site = """
            ccci = "\(TestEnvironment.ccciExecutable.path)"
            web_port = \(webPort)
            worker_port = \(workerPort)
            sigterm_time = 300

            """
        for node in nodes {
            let password = directory.appending("\(node.name).password")
            try "pw-\(UUID().uuidString)\n".write(to: password, atomically: true, encoding: .utf8)
            chmod(password.path, 0o600)
            site += """
                [[node]]
                name = "\(node.name)"
                password_file = "\(password.path)"
                capacity = \(node.capacity)

                """
        }
        try site.write(to: master.appendingPathComponent("ccci-buildbot.toml"), atomically: true, encoding: .utf8)
        try await Self.run("buildbot", ["start", master.path])
    }

    /// Creates and starts the worker of `node` inside it, with `environment` on top of the node's
    /// (what its builds' `ccci run` sees).
    public func startWorker(on node: ExtraNode, environment: [String: String]) async throws {
        let worker = directory.appending("worker-\(node.name)")
        let password = try String(contentsOf: directory.appending("\(node.name).password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try await node.run(
            [
                "buildbot-worker", "create-worker", "-r", worker.path,
                "\(node.hostAddress):\(workerPort)", node.name, password,
            ]
        ).check()
        let started = try await node.run(["buildbot-worker", "start", worker.path], extra: environment)
        guard started.succeeded else {
            throw TestSetupError("the worker of \(node.name) did not start:\n\(started.tail())")
        }
    }

    /// The pid a daemon under `path` recorded.
    func pid(_ path: URL) -> pid_t? {
        (try? String(contentsOf: path.appendingPathComponent("twistd.pid"), encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The worker process of `node` (to kill it as a node's failure would).
    public func workerPID(_ node: String) -> pid_t? { pid(directory.appending("worker-\(node)")) }

    /// Stops the workers and the master (SIGTERM to the pids they recorded; SIGKILL after 20 s).
    public func stop() async {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.url.path)) ?? []
        let daemons =
            entries.filter { $0.hasPrefix("worker-") }.map { directory.appending($0) } + [
                directory.appending("master")
            ]
        for daemon in daemons {
            guard let pid = pid(daemon), kill(pid, SIGTERM) == 0 else { continue }
            for _ in 0..<80 where kill(pid, 0) == 0 { try? await Task.sleep(for: .milliseconds(250)) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
    }

    static func run(_ executable: String, _ arguments: [String]) async throws {
        let result = try await ProcessRunner().run(Command(executable, arguments))
        guard result.succeeded else {
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed:\n\(result.tail())")
        }
    }
}
