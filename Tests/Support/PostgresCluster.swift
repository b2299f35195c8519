import CCCICore
import CCCISystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for the tests: Debian's `initdb` and `pg_ctl`, run as the
/// `postgres` user, on a free loopback port, password authentication over TCP. One per test
/// process (each test takes a database of its own), stopped and removed when the process exits.
/// When PostgreSQL is not installed this fails, saying how to install it; it never skips.
public final class PostgresCluster: Sendable {
    public let directory: URL
    public let port: Int
    /// The superuser's password file (mode 0600), as `store_password_file` names one.
    public let passwordFile: URL
    public let user = "postgres"
    let binaries: URL

    /// The shared cluster's start: one for the whole test process, however many tests ask at once.
    private static let starting = Mutex<Task<PostgresCluster, any Error>?>(nil)

    /// The test process' cluster, started on first use (a start that failed is tried again by the
    /// next test that asks).
    public static func shared() async throws -> PostgresCluster {
        let start = starting.withLock { current -> Task<PostgresCluster, any Error> in
            if let current { return current }
            let task = Task {
                let cluster = try await PostgresCluster()
                clusterToStop.withLock { $0 = (cluster.binaries.path, cluster.directory.path) }
                atexit(stopSharedCluster)
                return cluster
            }
            current = task
            return task
        }
        do {
            return try await start.value
        } catch {
            starting.withLock { current in
                if current == start { current = nil }
            }
            throw error
        }
    }

    private init() async throws {
        guard
            let version = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted().last,
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/initdb")
        else {
            throw TestSetupError(
                "PostgreSQL is not installed: `apt-get install postgresql` (scripts/lab up installs it)")
        }
        binaries = URL(fileURLWithPath: "/usr/lib/postgresql/\(version)/bin")
        Self.stopOrphans(binaries: binaries.path)
        directory = URL(fileURLWithPath: "/tmp/\(Self.prefix)\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "\(getpid())\n".write(to: directory.appendingPathComponent("owner"), atomically: true, encoding: .utf8)
        passwordFile = directory.appendingPathComponent("password")
        try "pg-\(UUID().uuidString)\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile.path, 0o600)
        let superuserPassword = directory.appendingPathComponent("superuser-password")
        try FileManager.default.copyItem(at: passwordFile, to: superuserPassword)
        try await Self.run("chown", ["-R", "postgres:postgres", directory.path])
        try await Self.run(
            "runuser",
            [
                "-u", "postgres", "--", binaries.appendingPathComponent("initdb").path, "-D",
                directory.appendingPathComponent("data").path, "--auth-local=trust", "--auth-host=scram-sha-256",
                "--pwfile", superuserPassword.path, "-U", "postgres", "--no-sync",
            ])
        // Extra nodes (scripts/nodes) reach it over their veth pairs (10.231.<i>.1): it listens on
        // every address, and admits those and loopback only, each with the password.
        let hba = directory.appendingPathComponent("data/pg_hba.conf")
        let rules = try String(contentsOf: hba, encoding: .utf8) + "host all all 10.231.0.0/16 scram-sha-256\n"
        try rules.write(to: hba, atomically: false, encoding: .utf8)
        // A free port can be taken between choosing it and binding it (another server, or an
        // outgoing connection's ephemeral port): then another port, a few times.
        var chosen = 0
        for attempt in 1...5 {
            chosen = try Self.freePort()
            do {
                try await Self.run(
                    "runuser",
                    [
                        "-u", "postgres", "--", binaries.appendingPathComponent("pg_ctl").path, "-D",
                        directory.appendingPathComponent("data").path, "-l",
                        directory.appendingPathComponent("log").path, "-o",
                        "-p \(chosen) -c listen_addresses=* -k \(directory.path) -c fsync=off -c max_connections=300",
                        "-w", "start",
                    ])
                break
            } catch {
                let log = (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
                guard attempt < 5, log.contains("Address already in use") else { throw error }
                try? FileManager.default.removeItem(at: directory.appendingPathComponent("log"))
            }
        }
        port = chosen
        // The password file is the tests' (root's), as a node's would be its own.
        chown(passwordFile.path, 0, 0)
    }

    /// The clusters' directories: `/tmp/ccci-pg-<id>`, each with the pid of the test process that
    /// started it in `owner`.
    static let prefix = "ccci-pg-"

    /// Stops the clusters of test processes that are gone (killed before their exit handler ran):
    /// only directories of ours, whose owner no longer runs.
    static func stopOrphans(binaries: String) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix(prefix) {
            let directory = "/tmp/\(entry)"
            guard let text = try? String(contentsOfFile: "\(directory)/owner", encoding: .utf8),
                let owner = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                kill(owner, 0) != 0, errno == ESRCH
            else { continue }
            stop(binaries: binaries, directory: directory)
        }
    }

    /// Stops the cluster now and removes its files.
    public func stop() {
        Self.stop(binaries: binaries.path, directory: directory.path)
    }

    static func stop(binaries: String, directory: String) {
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        stop.arguments = [
            "-u", "postgres", "--", "\(binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop",
        ]
        stop.standardOutput = FileHandle.nullDevice
        stop.standardError = FileHandle.nullDevice
        try? stop.run()
        stop.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A new, empty database; its name.
    public func createDatabase() async throws -> String {
        let name = "ccci_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        try await psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs SQL as the superuser over the cluster's socket (`database`: `postgres` by default).
    public func psql(_ sql: String, database: String = "postgres") async throws {
        try await Self.run(
            binaries.appendingPathComponent("psql").path,
            [
                "-h", directory.path, "-p", "\(port)", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-c",
                sql,
            ])
    }

    /// The store location of `database`, as a node's config names it.
    public func location(database: String, user: String? = nil, passwordFile: URL? = nil) -> NodeConfig.PostgresLocation
    {
        NodeConfig.PostgresLocation(
            host: "127.0.0.1", port: port, user: user ?? self.user, database: database, tls: .disable,
            passwordFile: (passwordFile ?? self.passwordFile).path)
    }

    /// The rows `sql` returns, one line each, columns separated by `|`.
    public func query(_ sql: String, database: String) async throws -> [String] {
        try await Self.run(
            binaries.appendingPathComponent("psql").path,
            ["-h", directory.path, "-p", "\(port)", "-U", "postgres", "-d", database, "-tA", "-c", sql]
        ).split(separator: "\n").map(String.init)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let result = try await ProcessRunner().run(Command(executable, arguments, output: .capture))
        guard result.status == 0 else {
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed: \(result.errorOutput)")
        }
        return result.output
    }

    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The shared cluster's binaries and directory, for ``stopSharedCluster()`` at exit.
private let clusterToStop = Mutex<(String, String)?>(nil)

private func stopSharedCluster() {
    guard let (binaries, directory) = clusterToStop.withLock({ $0 }) else { return }
    PostgresCluster.stop(binaries: binaries, directory: directory)
}
