import CCCICore

/// Rules about what a new app's env is made of: `.env.sample`, `COMPOSE_FILE`, the variables
/// compose interpolates, secret and config versions (R008, R012, R015, C002, C003, C004, C005).
enum EnvRules {
    static let sample = ".env.sample"

    /// R008: `.env.sample` exists.
    static func present(_ recipe: LintContext) -> [LintFinding] {
        guard case .missing = recipe.sample else { return [] }
        return [LintContext.finding(.envSample, "missing", file: sample, line: nil)]
    }

    /// C003: `.env.sample` reads as an env file.
    static func readable(_ recipe: LintContext) -> [LintFinding] {
        guard case .unreadable(let line, let reason) = recipe.sample else { return [] }
        // The reader's message starts with `.env.sample:<line>: `, which the finding's location says.
        let prefix = line.map { "\(sample):\($0): " } ?? ""
        let message = reason.hasPrefix(prefix) ? String(reason.dropFirst(prefix.count)) : reason
        return [LintContext.finding(.envSampleReadable, "unreadable", file: sample, line: line, ["reason": message])]
    }

    /// C002: the files `COMPOSE_FILE` names exist in the recipe.
    static func composeFileList(_ recipe: LintContext) -> [LintFinding] {
        guard let env = recipe.env else { return [] }
        let entry = env.entry("COMPOSE_FILE")
        return AppEnv.composeFiles(in: env).compactMap { name in
            let file = entry == nil ? name : sample
            guard let relative = RecipePaths.normalised(name) else {
                return LintContext.finding(.composeFileList, "outside", file: file, line: entry?.line, ["file": name])
            }
            guard !recipe.snapshot.paths.contains(relative) else { return nil }
            return LintContext.finding(.composeFileList, "missing", file: file, line: entry?.line, ["file": name])
        }
    }

    /// C004: every variable compose needs without a default is set by `.env.sample`, abra.sh or abra.
    static func complete(_ recipe: LintContext) -> [LintFinding] {
        guard recipe.env != nil else { return [] }
        var reported: Set<String> = []
        var findings: [LintFinding] = []
        for file in recipe.composeFiles where file.document != nil {
            for value in file.map.values where !isObjectName(value.path) {
                guard let references = try? Interpolation.references(in: value.text, location: file.name) else {
                    continue
                }
                for reference in references where reference.needsValue && !reported.contains(reference.name) {
                    guard !recipe.provides(reference.name, allowCommented: !reference.isRequired) else { continue }
                    reported.insert(reference.name)
                    findings.append(
                        LintContext.finding(
                            .envComplete, reference.isRequired ? "required" : "interpolated", file: file.name,
                            line: value.line, ["reference": written(reference), "variable": reference.name]))
                }
            }
        }
        return findings
    }

    /// The `name:` of a top-level config or secret, whose variables R012 and C005 check.
    private static func isObjectName(_ path: [String]) -> Bool {
        path.count == 3 && (path[0] == "configs" || path[0] == "secrets") && path[2] == "name"
    }

    private static func written(_ reference: VariableReference) -> String {
        guard let op = reference.operator else { return "${\(reference.name)}" }
        return "${\(reference.name)\(op)…}"
    }

    /// C005: every external secret is named as abra creates it — `name:` interpolated from the app
    /// env, its last `_` segment a version variable (`${STACK_NAME}_<secret>_${SECRET_<SECRET>_VERSION}`)
    /// — and .env.sample mentions every variable the name needs (set, or commented out for an
    /// optional overlay). The `name:` decides the variable, not the compose key.
    static func secretVersions(_ recipe: LintContext) -> [LintFinding] {
        guard let env = recipe.env, let project = recipe.project else { return [] }
        var findings: [LintFinding] = []
        for (secret, definition) in project.secrets.sorted(by: { $0.key < $1.key }) where definition.external {
            let location = recipe.locate(["secrets", secret, "name"])
            let values = [
                "secret": secret, "variable": "SECRET_\(secret.uppercased())_VERSION",
                "name": definition.name ?? "(no name)",
            ]
            // The version is the last `_` segment: a variable, so that bumping it makes a new secret.
            guard let name = definition.name, let references = try? Interpolation.references(in: name, location: ""),
                endsWithVariable(name, references: references)
            else {
                findings.append(recipe.finding(.secretVersions, "name", at: location, values))
                continue
            }
            for reference in references where reference.needsValue && !recipe.provides(reference.name) {
                findings.append(
                    recipe.finding(
                        .secretVersions, "missing", at: location, ["secret": secret, "variable": reference.name]))
            }
            for reference in references {
                guard let entry = env.entry(reference.name), let length = entry.modifiers["length"] else { continue }
                let version = SecretVersion(
                    name: secret, envKey: reference.name, version: entry.value, modifiers: entry.modifiers)
                if version.hasInvalidLength {
                    findings.append(
                        LintContext.finding(
                            .secretVersions, "length", file: sample, line: entry.line,
                            ["variable": reference.name, "length": length]))
                }
            }
        }
        return findings
    }

    /// Whether `name` ends in `_` and a variable (`…_${SECRET_DB_VERSION}`, `…_${V:-v1}`).
    static func endsWithVariable(_ name: String, references: [VariableReference]) -> Bool {
        let marker = "\u{1}"
        let environment = Dictionary(references.map { ($0.name, marker) }, uniquingKeysWith: { first, _ in first })
        let filled = try? Interpolation.interpolate(name, environment: environment, location: "")
        return filled?.hasSuffix("_" + marker) == true
    }

    /// R015: secret names are at most 12 characters.
    static func secretNameLength(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        return project.secrets.keys.sorted().filter { $0.count > 12 }.map { secret in
            recipe.finding(
                .secretNameLength, "long", at: recipe.locate(["secrets", secret]),
                ["secret": secret, "length": String(secret.count)])
        }
    }

    /// R012: each config's name carries a version that abra.sh exports (or the env sets).
    static func configVersions(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        var findings: [LintFinding] = []
        for (config, definition) in project.configs.sorted(by: { $0.key < $1.key }) where !definition.external {
            let location = recipe.locate(["configs", config, "name"])
            let references = (try? Interpolation.references(in: definition.name ?? "", location: "")) ?? []
            let variables = references.map(\.name).filter { $0 != "STACK_NAME" }
            guard !variables.isEmpty else {
                findings.append(
                    recipe.finding(
                        .configVersions, "unversioned", at: location,
                        ["config": config, "suggestion": "\(config.uppercased())_VERSION"]))
                continue
            }
            for variable in variables where recipe.abraExports?[variable] == nil && recipe.env?[variable] == nil {
                findings.append(
                    recipe.finding(
                        .configVersions, "notExported", at: location, ["config": config, "variable": variable]))
            }
        }
        return findings
    }
}
