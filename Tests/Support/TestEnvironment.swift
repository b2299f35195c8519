import CCCICore
import CCCIGit
import CCCILab
import CCCISwarm
import CCCISystem
import Foundation
import Logging

/// Where the tests find the repository, the lab and the built `ccci`.
public enum TestEnvironment {
    /// The repository root (from this file's path).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `Fixtures/recipes`.
    public static var fixturesRoot: URL { repositoryRoot.appendingPathComponent("Fixtures/recipes") }

    /// `Fixtures/packs`.
    public static var packsRoot: URL { repositoryRoot.appendingPathComponent("Fixtures/packs") }

    /// A copy of the CI packs in a temporary directory, for a test that changes one.
    public static func copyOfPacks() throws -> TemporaryDirectory {
        let packs = try TemporaryDirectory("ccci-packs")
        for entry in try FileManager.default.contentsOfDirectory(atPath: packsRoot.path) {
            try FileManager.default.copyItem(at: packsRoot.appendingPathComponent(entry), to: packs.appending(entry))
        }
        return packs
    }

    /// `Fixtures/real-recipes`: real recipes' files (see its SOURCE.md).
    public static var realRecipesRoot: URL { repositoryRoot.appendingPathComponent("Fixtures/real-recipes") }

    /// The `ccci` executable built next to the test bundle.
    public static var ccciExecutable: URL {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("ccci").path) {
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return directory.appendingPathComponent("ccci")
    }

    /// The lab configuration tests use: the real lab (ingress, images, catalogue) with a
    /// sandboxed state home.
    public static func labConfig(home: URL, extra: [String: String] = [:]) throws -> NodeConfig {
        var environment = ProcessInfo.processInfo.environment
        environment["CCCI_HOME"] = home.path
        environment["CCCI_CONFIG"] = nil
        for (key, value) in extra { environment[key] = value }
        return try NodeConfig.load(environment: environment)
    }

    /// A logger for tests (warnings only unless `CCCI_TEST_LOG=debug`).
    public static var logger: Logger {
        var logger = Logger(label: "ccci.test")
        logger.logLevel =
            ProcessInfo.processInfo.environment["CCCI_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// Connects to the engine; the error says plainly that the integration suite needs the lab.
    public static func engine() async throws -> DockerEngine {
        do {
            return try await DockerEngine.connect(logger: logger)
        } catch {
            throw TestSetupError(
                "the integration tests need the lab's Docker engine — run `scripts/lab up` first: \(error)")
        }
    }

    /// Runs `body` with a connected engine, shut down afterwards.
    public static func withEngine<T>(_ body: (DockerEngine) async throws -> T) async throws -> T {
        try await engine().using(body)
    }

    /// Runs `body` with a stack named `stack`, removing the stack afterwards — on failure too —
    /// and expecting nothing of it left.
    public static func withStack(
        _ stack: String, engine: DockerEngine, _ body: () async throws -> Void
    ) async throws -> Residue {
        let janitor = StackJanitor(engine: engine, ownership: .stackNamespace)
        do {
            try await body()
        } catch {
            _ = try? await janitor.remove(stack: stack)
            throw error
        }
        return try await janitor.remove(stack: stack)
    }

    /// A random lowercase hex string.
    public static func randomHex(_ count: Int = 6) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }
}

/// A test that cannot run because its environment is missing (it fails, never skips).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A temporary directory removed when the value is released.
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ prefix: String = "ccci-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func appending(_ path: String) -> URL {
        url.appendingPathComponent(path)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
