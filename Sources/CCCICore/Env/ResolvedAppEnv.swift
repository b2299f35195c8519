import Foundation

/// Everything a deploy of a recipe checkout needs to know, resolved the way abra resolves it:
/// the app env (from `.env.sample`, plus overrides), `abra.sh` exports, the merged compose
/// project of `COMPOSE_FILE` (plus extra compose files such as the pack's `compose.ccci.yml`),
/// the secrets to create and the backup plan.
public struct ResolvedAppEnv: Sendable {
    public let recipeRoot: URL
    public let env: AppEnv
    /// `export NAME=value` lines of `abra.sh`.
    public let abraExports: [String: String]
    /// Compose files outside the recipe merged after `COMPOSE_FILE` (absolute paths).
    public let extraComposeFiles: [URL]
    public let project: ComposeProject
    public let secrets: [SecretSpec]
    public let backup: BackupPlan?

    /// Reads the recipe at `recipeRoot` for an app at `domain`.
    /// - Parameters:
    ///   - overrides: env keys set on top of `.env.sample` (meta `extra_env`).
    ///   - extraComposeFiles: compose files merged after the recipe's own.
    ///   - existingEnv: an app env file to use instead of `.env.sample` (a redeploy of an app).
    public static func load(
        recipeRoot: URL, recipe: String, domain: String, overrides: [String: String] = [:],
        extraComposeFiles: [URL] = [], existingEnv: EnvFile? = nil
    ) throws -> ResolvedAppEnv {
        let base: AppEnv
        if let existingEnv {
            base = AppEnv(file: existingEnv, recipe: recipe, domain: domain)
        } else {
            let samplePath: URL
            do {
                samplePath = try ContainedPath.resolve(".env.sample", in: recipeRoot, what: ".env.sample")
            } catch {
                throw RecipeError.unsafePath(error)
            }
            guard FileManager.default.fileExists(atPath: samplePath.path) else {
                throw RecipeError.missingFile(recipe: recipe, file: ".env.sample", root: recipeRoot.path)
            }
            let sample = try EnvFile.parse(try String(contentsOf: samplePath, encoding: .utf8), source: samplePath.path)
            base = AppEnv(sample: sample, recipe: recipe, domain: domain)
        }
        let env = base.applying(overrides)
        let abraPath: URL
        do {
            abraPath = try ContainedPath.resolve("abra.sh", in: recipeRoot, what: "abra.sh")
        } catch {
            throw RecipeError.unsafePath(error)
        }
        let exports = (try? String(contentsOf: abraPath, encoding: .utf8)).map(AbraScript.exports(in:)) ?? [:]
        var environment = exports
        for (key, value) in env.interpolationEnvironment { environment[key] = value }
        var project = try ComposeProject.load(
            recipeRoot: recipeRoot, files: env.composeFiles, environment: environment, recipe: recipe)
        if !extraComposeFiles.isEmpty {
            var document = project.document
            for file in extraComposeFiles {
                let text = try String(contentsOf: file, encoding: .utf8)
                document = ComposeDocument.merge(
                    document, try ComposeDocument.load(yaml: text, name: file.path, environment: environment))
            }
            project = try ComposeProject(document: document, files: project.files + extraComposeFiles.map(\.path))
            try project.checkFileReferences(in: recipeRoot)
        }
        return ResolvedAppEnv(
            recipeRoot: recipeRoot, env: env, abraExports: exports, extraComposeFiles: extraComposeFiles,
            project: project, secrets: try env.secrets(for: project), backup: BackupPlan(project: project))
    }

    /// The environment `docker stack deploy` runs with: `abra.sh` exports, then the app env and
    /// `STACK_NAME` (as abra exports them).
    public var deployEnvironment: [String: String] {
        var environment = abraExports
        for (key, value) in env.interpolationEnvironment { environment[key] = value }
        return environment
    }

    /// The recipe's compose files as absolute paths, then the extra files.
    public var composeFileURLs: [URL] {
        env.composeFiles.map { recipeRoot.appendingPathComponent($0) } + extraComposeFiles
    }

    /// A JSON summary for `ccci recipe env --json` (no secret values: there are none here).
    public var summary: JSONValue {
        [
            "recipe": .string(env.recipe), "domain": .string(env.domain), "stack": .string(env.stackName),
            "compose_files": .array(env.composeFiles.map(JSONValue.string)),
            "services": .array(project.serviceNames.map(JSONValue.string)),
            "images": .array(project.images.map(JSONValue.string)),
            "secrets": .array(
                secrets.map { secret in
                    [
                        "name": .string(secret.name), "version": .string(secret.version),
                        "length": secret.length.map(JSONValue.int) ?? .null, "docker_name": .string(secret.dockerName),
                        "generate": .bool(secret.generate),
                    ]
                }),
            "backup_services": .array((backup?.services ?? []).map { .string($0.service) }),
            "env_keys": .array(env.values.keys.sorted().map(JSONValue.string)),
        ]
    }
}

/// A recipe checkout that cannot be used.
public enum RecipeError: Error, Sendable, CustomStringConvertible {
    case missingFile(recipe: String, file: String, root: String)
    case unsafePath(ContainmentError)

    public var description: String {
        switch self {
        case .missingFile(let recipe, let file, let root):
            return "recipe \(recipe) has no \(file) (looked in \(root)) — every Co-op Cloud recipe ships one"
        case .unsafePath(let error):
            return error.description
        }
    }
}
