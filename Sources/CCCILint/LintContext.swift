import CCCICore
import Foundation

/// A recipe as the rules see it, parsed once from a ``RecipeSnapshot`` with cc-ci's own readers
/// (the fuzzed compose and env readers): compose files as written (not interpolated, so
/// `${STACK_NAME}` stays visible) with the line of every key, the files merged the way a deploy
/// merges them, `.env.sample`, `abra.sh` and the README — and the variables a deploy of an app
/// made from `.env.sample` fills values with (``environment``), through which label values are
/// read (``evaluated``), as the env and backup model reads them.
struct LintContext {
    /// One compose file of the recipe.
    struct ComposeFile {
        let name: String
        /// The document as written (normalised, not interpolated); `nil` when it does not read.
        let document: JSONValue?
        let map: ComposeSourceMap
        /// Why the file does not read, and the line, when it does not.
        let problem: (line: Int?, variant: String, values: [String: String])?
    }

    /// How `.env.sample` reads.
    enum Sample {
        case missing
        case unreadable(line: Int?, reason: String)
        case read(EnvFile)
    }

    let snapshot: RecipeSnapshot
    /// Every `compose.yml` / `compose.*.yml` of the recipe, in merge order: the files `COMPOSE_FILE`
    /// names first (in its order), then the other overlays by name.
    let composeFiles: [ComposeFile]
    /// The files merged, as a project; `nil` when none reads, they declare no services, or a file
    /// the merge needs does not read (``mergeUnavailable``).
    let project: ComposeProject?
    /// ``project`` with every service's label values filled in from ``environment`` (keys as
    /// written): what traefik, backupbot and abra read from a deployed service.
    let evaluated: ComposeProject?
    /// Why rules about the merged project cannot run: a compose file a deploy merges (compose.yml,
    /// a `COMPOSE_FILE` entry) does not read. `nil` when they can.
    let mergeUnavailable: String?
    /// The variables a deploy of an app made from `.env.sample` interpolates with — the env model's
    /// own (``AppEnv/interpolationEnvironment``: `.env.sample`'s values, `DOMAIN`, `STACK_NAME`) over
    /// abra.sh's exports, as ``ResolvedAppEnv`` builds it.
    let environment: [String: String]
    let sample: Sample
    /// Keys `.env.sample` mentions only in comments (`#EXTRA_DOMAINS=…`), with their lines.
    let commentedKeys: [String: Int]
    /// `abra.sh`'s exports; `nil` when the recipe has no abra.sh.
    let abraExports: [String: String]?
    /// The variables abra sets for every deploy, whatever `.env.sample` says.
    static let providedByAbra: Set<String> = ["STACK_NAME", "DOMAIN"]

    init(_ snapshot: RecipeSnapshot) {
        self.snapshot = snapshot
        let sample: Sample
        var commented: [String: Int] = [:]
        if let text = snapshot.texts[".env.sample"] {
            do {
                sample = .read(try EnvFile.parse(text, source: ".env.sample"))
            } catch {
                sample = .unreadable(line: error.line, reason: error.description)
            }
            commented = Self.commentedKeys(in: text)
        } else if let reason = snapshot.unreadable[".env.sample"] {
            sample = .unreadable(line: nil, reason: ".env.sample cannot be read: \(reason)")
        } else {
            sample = .missing
        }
        self.sample = sample
        self.commentedKeys = commented
        self.abraExports = snapshot.texts["abra.sh"].map(AbraScript.exports(in:))

        var order: [String] = []
        var needed: [String] = [AppEnv.defaultComposeFile]
        if case .read(let env) = sample {
            needed = AppEnv.composeFiles(in: env)
            order = needed.filter { Self.isComposeFileName($0) && snapshot.paths.contains($0) }
        }
        let others = snapshot.paths.filter { Self.isComposeFileName($0) && !order.contains($0) }
        order += others.sorted {
            ($0 == AppEnv.defaultComposeFile ? 0 : 1, $0) < ($1 == AppEnv.defaultComposeFile ? 0 : 1, $1)
        }
        var files: [ComposeFile] = []
        for name in order {
            files.append(Self.readCompose(name, snapshot: snapshot))
        }
        self.composeFiles = files
        let broken = files.filter { $0.document == nil && needed.contains($0.name) }.map(\.name)
        self.mergeUnavailable =
            broken.isEmpty
            ? nil
            : "\(broken.joined(separator: ", ")) does not read (C001), so the files a deploy merges cannot be checked"

        var environment = self.abraExports ?? [:]
        let domain = "\(snapshot.name).example.com"
        let appEnv =
            if case .read(let env) = sample {
                AppEnv(sample: env, recipe: snapshot.name, domain: domain)
            } else {
                AppEnv(file: EnvFile(lines: []), recipe: snapshot.name, domain: domain)
            }
        for (key, value) in appEnv.interpolationEnvironment { environment[key] = value }
        environment["DOMAIN"] = environment["DOMAIN"] ?? domain
        self.environment = environment

        var merged = JSONValue.object([:])
        for file in files {
            if let document = file.document { merged = ComposeDocument.merge(merged, document) }
        }
        let readable = files.filter { $0.document != nil }.map(\.name)
        let project = broken.isEmpty ? try? ComposeProject(document: merged, files: readable) : nil
        self.project = project
        self.evaluated =
            project == nil
            ? nil
            : try? ComposeProject(document: Self.evaluatingLabels(of: merged, with: environment), files: readable)
    }

    /// `document` with the values of every service's `labels` and `deploy.labels` interpolated
    /// with `environment` (a value that cannot be — a variable without a value — stays as written).
    static func evaluatingLabels(of document: JSONValue, with environment: [String: String]) -> JSONValue {
        guard case .object(var root) = document, case .object(var services)? = root["services"] else {
            return document
        }
        func evaluate(_ labels: JSONValue?) -> JSONValue? {
            guard case .object(let object)? = labels else { return labels }
            return .object(
                object.mapValues { value in
                    guard case .string(let text) = value,
                        let filled = Self.evaluate(text, with: environment)
                    else { return value }
                    return .string(filled)
                })
        }
        for (name, service) in services {
            guard case .object(var settings) = service else { continue }
            if let labels = evaluate(settings["labels"]) { settings["labels"] = labels }
            if case .object(var deploy)? = settings["deploy"], let labels = evaluate(deploy["labels"]) {
                deploy["labels"] = labels
                settings["deploy"] = .object(deploy)
            }
            services[name] = .object(settings)
        }
        root["services"] = .object(services)
        return .object(root)
    }

    /// `text` as a deploy of `.env.sample` fills it in; `nil` when a variable it needs has no value
    /// there (the value cannot be known) or it is not a valid interpolation.
    static func evaluate(_ text: String, with environment: [String: String]) -> String? {
        guard text.contains("$") else { return text }
        guard let references = try? Interpolation.references(in: text, location: ""),
            references.allSatisfy({ !$0.needsValue || environment[$0.name] != nil })
        else { return nil }
        return try? Interpolation.interpolate(text, environment: environment, location: "")
    }

    /// `text` filled in from ``environment`` (``evaluate(_:with:)``).
    func evaluate(_ text: String) -> String? {
        Self.evaluate(text, with: environment)
    }

    /// A compose file of the recipe root: `compose.yml` or `compose.<overlay>.yml`.
    static func isComposeFileName(_ path: String) -> Bool {
        !path.contains("/") && path.hasPrefix("compose.") && path.hasSuffix(".yml")
    }

    private static func readCompose(_ name: String, snapshot: RecipeSnapshot) -> ComposeFile {
        guard let text = snapshot.texts[name] else {
            let reason = snapshot.unreadable[name] ?? "it cannot be read"
            return ComposeFile(
                name: name, document: nil, map: ComposeSourceMap(),
                problem: (nil, "invalid", ["reason": "\(name) cannot be read: \(reason)"]))
        }
        let map: ComposeSourceMap
        do {
            map = try ComposeSourceMap.read(yaml: text)
        } catch {
            return ComposeFile(
                name: name, document: nil, map: ComposeSourceMap(),
                problem: (error.line, "yaml", ["file": name, "reason": oneLine(error.reason)]))
        }
        do {
            return ComposeFile(
                name: name, document: try ComposeDocument.literal(yaml: text, name: name), map: map, problem: nil)
        } catch {
            return ComposeFile(
                name: name, document: nil, map: map, problem: (nil, "invalid", ["reason": error.description]))
        }
    }

    /// `#KEY=…` and `# KEY=…` lines of an env file: settings documented as optional.
    static func commentedKeys(in text: String) -> [String: Int] {
        var keys: [String: Int] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("#") else { continue }
            line = String(line.drop { $0 == "#" || $0 == " " })
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            if EnvFile.isValidKey(key), keys[key] == nil { keys[key] = index + 1 }
        }
        return keys
    }

    /// The readable `.env.sample`, if there is one.
    var env: EnvFile? {
        if case .read(let env) = sample { return env }
        return nil
    }

    /// Whether a deploy of an app made from `.env.sample` has `variable` set (or the recipe
    /// documents it as optional, when `allowCommented`).
    func provides(_ variable: String, allowCommented: Bool = true) -> Bool {
        if Self.providedByAbra.contains(variable) { return true }
        if abraExports?[variable] != nil { return true }
        if env?[variable] != nil { return true }
        return allowCommented && commentedKeys[variable] != nil
    }

    // MARK: - Locations

    /// Where `path` is set: the last file (in merge order) that sets it exactly — the one whose
    /// value a deploy uses — else the first file that has its closest ancestor.
    func locate(_ path: [String]) -> (file: String, line: Int?) {
        for file in composeFiles.reversed() {
            if let line = file.map.line(of: path) { return (file.name, line) }
        }
        var prefix = path
        while !prefix.isEmpty {
            prefix.removeLast()
            for file in composeFiles {
                if let line = file.map.line(of: prefix), !prefix.isEmpty { return (file.name, line) }
            }
        }
        return (composeFiles.first?.name ?? AppEnv.defaultComposeFile, nil)
    }

    /// Where the member `name` of the list (or mapping) at `path` is written: the first file, in
    /// merge order, that lists it there — `services.app.secrets` is a list every overlay may add to,
    /// and the file that added a member is the one a finding about it belongs to. Members are
    /// matched as written (`- name`), in the long syntax (`- source: name`), as a mapping key, or
    /// as a short volume mount (`- name:/path`). Falls back to ``locate(_:)`` of the list.
    func locate(member name: String, of path: [String]) -> (file: String, line: Int?) {
        for file in composeFiles {
            if let line = file.map.line(of: path + [name]) { return (file.name, line) }
            for value in file.map.values where value.path.count > path.count {
                guard Array(value.path.prefix(path.count)) == path, value.path[path.count].hasPrefix("[") else {
                    continue
                }
                let isItem = value.path.count == path.count + 1
                let isSource = value.path.count == path.count + 2 && value.path.last == "source"
                guard isItem || isSource else { continue }
                if value.text == name || (isItem && value.text.hasPrefix(name + ":")) {
                    return (file.name, value.line)
                }
            }
        }
        return locate(path)
    }

    /// Where `path` is first defined (in merge order), else its closest ancestor: where a service
    /// that lacks something was declared.
    func locateFirst(_ path: [String]) -> (file: String, line: Int?) {
        var prefix = path
        while !prefix.isEmpty {
            for file in composeFiles {
                if let line = file.map.line(of: prefix) { return (file.name, line) }
            }
            prefix.removeLast()
        }
        return (composeFiles.first?.name ?? AppEnv.defaultComposeFile, nil)
    }

    /// A finding of `rule` at a compose location.
    func finding(
        _ rule: LintRule, _ variant: String, at location: (file: String, line: Int?), _ values: [String: String] = [:]
    ) -> LintFinding {
        Self.finding(rule, variant, file: location.file, line: location.line, values)
    }

    /// A finding of `rule`: its message pattern `variant`, filled in with `values`.
    static func finding(
        _ rule: LintRule, _ variant: String, file: String?, line: Int?, _ values: [String: String] = [:]
    ) -> LintFinding {
        let pattern = rule.spec.pattern(variant) ?? variant
        return LintFinding(
            rule: rule, severity: rule.spec.severity(of: variant), file: file, line: line,
            message: fill(pattern, values))
    }

    /// `pattern` with each `{name}` whose name is a key of `values` replaced by its value (made one
    /// line and bounded: values come from the recipe). Other braces, like `${STACK_NAME}`, stay.
    static func fill(_ pattern: String, _ values: [String: String]) -> String {
        var output = ""
        var index = pattern.startIndex
        while index < pattern.endIndex {
            let character = pattern[index]
            if character == "{",
                let close = pattern[index...].firstIndex(of: "}"),
                let value = values[String(pattern[pattern.index(after: index)..<close])]
            {
                output += oneLine(value)
                index = pattern.index(after: close)
            } else {
                output.append(character)
                index = pattern.index(after: index)
            }
        }
        return output
    }

    /// Text from the recipe, fit for a one-line message: control characters become spaces, and
    /// anything past 160 characters is cut.
    static func oneLine(_ text: String) -> String {
        let flat = String(text.map { $0.isNewline || ($0.asciiValue.map { $0 < 0x20 } ?? false) ? " " : $0 })
            .trimmingCharacters(in: .whitespaces)
        return flat.count > 160 ? String(flat.prefix(159)) + "…" : flat
    }
}

extension EnvError {
    /// The line the problem is on.
    var line: Int? {
        switch self {
        case .malformedLine(_, let line, _), .invalidKey(_, let line, _), .unterminatedQuote(_, let line):
            return line
        }
    }
}
