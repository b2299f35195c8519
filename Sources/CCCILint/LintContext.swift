import CCCICore
import Foundation

/// A recipe as the rules see it, parsed once from a ``RecipeSnapshot`` with cc-ci's own readers
/// (the fuzzed compose and env readers): compose files as written (not interpolated, so
/// `${STACK_NAME}` stays visible) with the line of every key, the files merged the way a deploy
/// merges them, `.env.sample`, `abra.sh` and the README.
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
    /// The files merged, as a project; `nil` when none reads or they declare no services.
    let project: ComposeProject?
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
        if case .read(let env) = sample {
            order = AppEnv.composeFiles(in: env).filter { Self.isComposeFileName($0) && snapshot.paths.contains($0) }
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
        var merged = JSONValue.object([:])
        for file in files {
            if let document = file.document { merged = ComposeDocument.merge(merged, document) }
        }
        self.project = try? ComposeProject(
            document: merged, files: files.filter { $0.document != nil }.map(\.name))
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
        return LintFinding(rule: rule, file: file, line: line, message: fill(pattern, values))
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
