import CCCISystem
import Foundation

/// The janitor's rule for test sessions: every CI domain a test process deploys under is
/// registered, under a `flock` the process holds for its whole life; the first registration of a
/// process sweeps the registrations whose lock nobody holds — the sessions of test processes that
/// were killed — and removes everything they left on the swarm. So an interrupted `scripts/test`
/// never piles up stacks on a developer's machine or in CI, and a live session (another checkout's
/// tests running at the same time) is never touched.
public enum TestSession {
    /// Where sessions register (`CCCI_TEST_SESSIONS`, default `/var/lib/ccci/test-sessions`).
    public static var directory: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["CCCI_TEST_SESSIONS"] ?? "/var/lib/ccci/test-sessions")
    }

    struct Registration: Codable {
        let ciDomain: String
        let home: String?
        let pid: Int32
    }

    private static let swept = Locked(false)
    /// The session locks this process holds (for its whole life).
    private static let held = Locked<[FileLock]>([])

    /// A fresh stack name `<prefix><4 hex>_<ci domain>` under a CI domain registered for this
    /// process, so a killed test's stack is swept by the next session.
    public static func stackName(_ prefix: String) -> String {
        let ciDomain = "s\(TestEnvironment.randomHex(5)).ccci.test"
        register(ciDomain: ciDomain)
        return "\(prefix)\(TestEnvironment.randomHex(4))_" + ciDomain.replacingOccurrences(of: ".", with: "_")
    }

    /// Registers `ciDomain` for this process (sweeping dead sessions first, once per process).
    public static func register(ciDomain: String, home: URL? = nil) {
        let directory = self.directory
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let first = swept.withLock { done in
            defer { done = true }
            return !done
        }
        if first { sweepDeadSessions() }
        guard let lock = try? FileLock.tryAcquire(directory.appendingPathComponent("\(ciDomain).lock")) else { return }
        held.withLock { $0.append(lock) }
        let registration = Registration(ciDomain: ciDomain, home: home?.path, pid: getpid())
        if let data = try? JSONEncoder().encode(registration) {
            try? data.write(to: directory.appendingPathComponent("\(ciDomain).json"))
        }
    }

    /// Removes what killed sessions left: every stack, volume, secret, config and network whose
    /// stack ends in one of their CI domains, and their files.
    public static func sweepDeadSessions() {
        let directory = self.directory
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var dead: [(FileLock, Registration)] = []
        for entry in entries where entry.hasSuffix(".lock") {
            let name = String(entry.dropLast(".lock".count))
            guard let lock = try? FileLock.tryAcquire(directory.appendingPathComponent(entry)) else { continue }
            let data = FileManager.default.contents(atPath: directory.appendingPathComponent("\(name).json").path)
            let registration =
                data.flatMap { try? JSONDecoder().decode(Registration.self, from: $0) }
                ?? Registration(ciDomain: name, home: nil, pid: 0)
            dead.append((lock, registration))
        }
        guard !dead.isEmpty else { return }
        for (lock, registration) in dead {
            reap(registration)
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("\(registration.ciDomain).json"))
            lock.unlinkWhileHeld()
            lock.release()
        }
    }

    /// Removes a dead session's objects with the docker CLI (synchronously: registration happens
    /// in harness initialisers), by the stack labels that end in its CI domain.
    static func reap(_ registration: Registration) {
        let suffix = "_" + registration.ciDomain.replacingOccurrences(of: ".", with: "_")
        // Every object of a stack is named `<stack>_…`: the stacks are the names up to the suffix.
        var stacks = Set<String>()
        for kind in ["service", "volume", "secret", "config", "network"] {
            for name in docker([kind, "ls", "--format", "{{.Name}}"]).split(separator: "\n") {
                guard
                    let range = name.range(of: suffix + "_") ?? (name.hasSuffix(suffix) ? name.range(of: suffix) : nil)
                else { continue }
                stacks.insert(String(name[..<range.upperBound]).trimmingCharacters(in: ["_"]))
            }
        }
        for stack in stacks.sorted() {
            _ = docker(["stack", "rm", stack])
            // Volumes stay "in use" until the stack's containers are gone.
            for _ in 0..<60 {
                let left = docker(["ps", "--all", "--quiet", "--filter", "label=com.docker.stack.namespace=\(stack)"])
                if left.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
                Thread.sleep(forTimeInterval: 0.5)
            }
            for kind in ["volume", "secret", "config", "network"] {
                for label in ["com.docker.stack.namespace=\(stack)", "ccci.stack=\(stack)"] {
                    let names = docker([kind, "ls", "--quiet", "--filter", "label=\(label)"])
                        .split(separator: "\n").map(String.init)
                    guard !names.isEmpty else { continue }
                    _ = docker((kind == "volume" ? [kind, "rm", "--force"] : [kind, "rm"]) + names)
                }
            }
        }
        if let home = registration.home { try? FileManager.default.removeItem(atPath: home) }
        if !stacks.isEmpty {
            FileHandle.standardError.write(
                Data(
                    "test session: removed \(stacks.count) stack(s) a killed test session left (\(registration.ciDomain))\n"
                        .utf8))
        }
    }

    /// Runs the docker CLI and returns its output (empty on failure). Bounded by coreutils'
    /// `timeout`, since this waits synchronously: a hung engine cannot hang the test process.
    static func docker(_ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=5", "60", "docker"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
