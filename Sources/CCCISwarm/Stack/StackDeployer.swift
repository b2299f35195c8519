import CCCICore
import CCCISystem
import Foundation

/// `docker stack deploy` through the docker CLI (the engine API has no stack endpoint).
public struct StackDeployer: Sendable {
    /// How `docker stack deploy` resolves image digests: `never` in the lab (no registry),
    /// `always` where a registry is reachable.
    public enum ResolveImage: String, Sendable, Codable {
        case never, always, changed
    }

    public let runner: ProcessRunner
    public let dockerExecutable: String
    public let resolveImage: ResolveImage

    public init(
        runner: ProcessRunner = ProcessRunner(), dockerExecutable: String = "docker",
        resolveImage: ResolveImage = .never
    ) {
        self.runner = runner
        self.dockerExecutable = dockerExecutable
        self.resolveImage = resolveImage
    }

    /// Deploys (or updates in place) `stack` from `composeFiles`, interpolated with `environment`
    /// (the app env plus `STACK_NAME`). Returns without waiting for convergence.
    /// With `prune`, services of the stack the files do not define are removed.
    public func deploy(
        stack: String, composeFiles: [URL], environment: [String: String], workingDirectory: URL,
        logFile: URL? = nil, prune: Bool = false, registryAuth: URL? = nil
    ) async throws {
        var arguments = ["stack", "deploy", "--detach=true", "--resolve-image", resolveImage.rawValue]
        if prune { arguments.append("--prune") }
        // The node's logins go to swarm with the services, so every task can pull: the CLI reads
        // them from `$DOCKER_CONFIG/config.json`, a private copy made for this one command.
        var configDirectory: URL?
        defer { if let configDirectory { try? FileManager.default.removeItem(at: configDirectory) } }
        if let registryAuth {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("ccci-docker-config-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            configDirectory = directory
            let copy = directory.appendingPathComponent("config.json")
            try FileManager.default.copyItem(at: registryAuth, to: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy.path)
            arguments.append("--with-registry-auth")
        }
        for file in composeFiles { arguments += ["--compose-file", file.path] }
        arguments.append(stack)
        var env: [String: String?] = [:]
        for (key, value) in environment { env[key] = value }
        if let configDirectory { env["DOCKER_CONFIG"] = configDirectory.path }
        let command = Command(
            dockerExecutable, arguments, environment: env, workingDirectory: workingDirectory,
            output: logFile.map(Command.OutputMode.logFile) ?? .capture)
        let result = try await runner.run(command)
        guard result.succeeded else { throw StackError.deployFailed(stack: stack, CommandError(result: result)) }
    }
}

/// A stack operation that failed.
public enum StackError: Error, Sendable, CustomStringConvertible {
    case deployFailed(stack: String, CommandError)

    public var description: String {
        switch self {
        case .deployFailed(let stack, let error):
            return "docker stack deploy of \(stack) failed: \(error)"
        }
    }
}
