import CCCICore

/// Rules about the compose files as files: they read, declare their version, reference what they
/// declare, use only what swarm honours (R001, C001, C006, C007, C008, C009, C012).
enum ComposeRules {
    /// C001: every compose file reads; values are valid interpolations; there are services.
    static func valid(_ recipe: LintContext) -> [LintFinding] {
        var findings: [LintFinding] = []
        for file in recipe.composeFiles {
            if let problem = file.problem {
                findings.append(
                    LintContext.finding(
                        .composeValid, problem.variant, file: file.name, line: problem.line, problem.values))
                continue
            }
            for value in file.map.values {
                do {
                    _ = try Interpolation.references(in: value.text, location: file.name)
                } catch {
                    findings.append(
                        LintContext.finding(
                            .composeValid, "interpolation", file: file.name, line: value.line, ["text": value.text]))
                }
            }
            guard let services = file.document?["services"] else { continue }
            guard let object = services.objectValue else {
                findings.append(
                    LintContext.finding(
                        .composeValid, "invalid", file: file.name, line: file.map.line(of: ["services"]),
                        ["reason": "`services` is not a mapping of service names to settings"]))
                continue
            }
            for (name, service) in object.sorted(by: { $0.key < $1.key }) where service.objectValue == nil {
                findings.append(
                    LintContext.finding(
                        .composeValid, "serviceNotMapping", file: file.name,
                        line: file.map.line(of: ["services", name]),
                        ["service": name]))
            }
        }
        if findings.isEmpty, recipe.project == nil {
            let first = recipe.composeFiles.first
            findings.append(
                LintContext.finding(
                    .composeValid, "noServices", file: first?.name, line: first?.map.line(of: ["services"])))
        }
        return findings
    }

    /// R001: each compose file says `version: "3.8"`.
    static func version(_ recipe: LintContext) -> [LintFinding] {
        recipe.composeFiles.compactMap { file in
            guard let document = file.document else { return nil }
            guard let version = document["version"], version != .null else {
                return LintContext.finding(.composeVersion, "missing", file: file.name, line: nil, ["file": file.name])
            }
            guard version.display != "3.8" else { return nil }
            return LintContext.finding(
                .composeVersion, "other", file: file.name, line: file.map.line(of: ["version"]),
                ["version": version.display])
        }
    }

    /// C006: every volume, secret, config and network a service uses is declared at the top level.
    static func declaredReferences(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        var findings: [LintFinding] = []
        for name in project.serviceNames {
            guard let service = project.services[name] else { continue }
            var uses: [(kind: String, section: String, names: [String])] = [
                ("volume", "volumes", service.namedVolumes.compactMap(\.source).filter { project.volumes[$0] == nil }),
                ("secret", "secrets", service.secrets.filter { project.secrets[$0] == nil }),
                ("config", "configs", service.configs.filter { project.configs[$0] == nil }),
            ]
            uses.append(
                ("network", "networks", service.networks.filter { $0 != "default" && project.networks[$0] == nil }))
            for use in uses {
                for missing in Set(use.names).sorted() {
                    findings.append(
                        recipe.finding(
                            .declaredReferences, "undeclared",
                            at: recipe.locate(member: missing, of: ["services", name, use.section]),
                            ["service": name, "kind": use.kind, "name": missing, "section": use.section]))
                }
            }
        }
        return findings
    }

    /// C007: configs and secrets made from a `file:` name a file inside the recipe.
    static func fileReferences(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        var findings: [LintFinding] = []
        for (section, kind, objects) in [
            ("configs", "config", project.configs), ("secrets", "secret", project.secrets),
        ] {
            for (name, definition) in objects.sorted(by: { $0.key < $1.key }) where !definition.external {
                guard let file = definition.file else { continue }
                let values = ["kind": kind, "name": name, "path": file]
                let location = recipe.locate([section, name, "file"])
                guard let relative = RecipePaths.normalised(file) else {
                    findings.append(recipe.finding(.fileReferences, "outside", at: location, values))
                    continue
                }
                if !recipe.snapshot.paths.contains(relative) {
                    findings.append(recipe.finding(.fileReferences, "missing", at: location, values))
                }
            }
        }
        return findings
    }

    /// What to do instead of each key swarm ignores.
    static let ignoredKeys: KeyValuePairs<String, String> = [
        "build": "swarm cannot build; name a published image",
        "container_name": "swarm names containers itself; drop it",
        "external_links": "reach other stacks over a shared network instead",
        "links": "services reach each other by name on a shared network; drop it",
        "network_mode": "attach the service to networks instead",
        "restart": "use `deploy.restart_policy`",
    ]

    /// C008: no service sets a key `docker stack deploy` ignores.
    static func swarmIgnoredKeys(_ recipe: LintContext) -> [LintFinding] {
        var findings: [LintFinding] = []
        forEachService(recipe) { file, name, service in
            for (key, advice) in ignoredKeys where service[key] != nil {
                findings.append(
                    LintContext.finding(
                        .swarmIgnoredKeys, "ignored", file: file.name,
                        line: file.map.line(of: ["services", name, key]),
                        ["service": name, "key": key, "advice": advice]))
            }
        }
        return findings
    }

    /// Values that are settings rather than credentials, even under a credential-like name.
    static let settingValues: Set<String> = ["true", "false", "yes", "no", "on", "off"]

    /// C009: no `environment` value under a credential's name holds the credential itself.
    static func plaintextCredentials(_ recipe: LintContext) -> [LintFinding] {
        var findings: [LintFinding] = []
        forEachService(recipe) { file, name, service in
            for (variable, value) in (service["environment"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard Redaction.isSensitive(variable), !variable.uppercased().hasSuffix("_FILE"),
                    case .string(let text) = value
                else { continue }
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty, !settingValues.contains(trimmed.lowercased()), Int(trimmed) == nil,
                    !trimmed.hasPrefix("/run/secrets/"), !isOnlyReferences(trimmed)
                else { continue }
                findings.append(
                    LintContext.finding(
                        .plaintextCredentials, "plain", file: file.name,
                        line: file.map.line(of: ["services", name, "environment", variable]),
                        ["variable": variable, "service": name]))
            }
        }
        return findings
    }

    /// Whether `text` is nothing but variable references (`${TOKEN:-}`): the credential is the app
    /// env's, not written in the recipe.
    static func isOnlyReferences(_ text: String) -> Bool {
        guard text.contains("$"), let references = try? Interpolation.references(in: text, location: "") else {
            return false
        }
        let empty = Dictionary(references.map { ($0.name, "") }, uniquingKeysWith: { first, _ in first })
        let rest = try? Interpolation.interpolate(text, environment: empty, location: "")
        return rest?.trimmingCharacters(in: .whitespaces).isEmpty == true
    }

    /// Label prefixes only services (not containers) are read for.
    static let serviceLabelPrefixes = ["traefik.", "backupbot.", "coop-cloud."]

    /// C012: traefik, backupbot and coop-cloud labels are under `deploy.labels`, not `labels`.
    static func serviceLabels(_ recipe: LintContext) -> [LintFinding] {
        var findings: [LintFinding] = []
        forEachService(recipe) { file, name, service in
            for label in (service["labels"]?.objectValue ?? [:]).keys.sorted()
            where serviceLabelPrefixes.contains(where: label.hasPrefix) {
                findings.append(
                    LintContext.finding(
                        .serviceLabels, "container", file: file.name,
                        line: file.map.line(of: ["services", name, "labels", label]), ["label": label, "service": name])
                )
            }
        }
        return findings
    }

    /// Calls `body` with each service of each readable compose file, as that file writes it.
    static func forEachService(
        _ recipe: LintContext, _ body: (LintContext.ComposeFile, String, JSONValue) -> Void
    ) {
        for file in recipe.composeFiles {
            for (name, service) in (file.document?["services"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key })
            where service.objectValue != nil {
                body(file, name, service)
            }
        }
    }
}

/// Paths a recipe's files name, judged without the file system.
enum RecipePaths {
    /// `path` relative to the recipe root with `.` and `..` folded; `nil` when it is absolute or
    /// leaves the recipe.
    static func normalised(_ path: String) -> String? {
        guard !path.hasPrefix("/"), !path.isEmpty else { return nil }
        var parts: [Substring] = []
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            default: parts.append(component)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }
}
