import Foundation

/// Reads `ccci.toml` files into a ``RecipeMeta``, checking every key against the registry.
///
/// Packs are applied in order, later ones overriding earlier ones key by key (the recipe repo's
/// own `tests/ccci.toml` first, then the CI's `tests/<recipe>/ccci.toml`). Every problem in every
/// file is collected, so one `ccci meta check` lists them all.
public enum MetaLoader {
    /// The file name of a pack's customization.
    public static let fileName = "ccci.toml"

    /// Loads the packs at `directories` (a directory without `ccci.toml` contributes nothing).
    public static func load(packDirectories directories: [URL]) throws(MetaProblems) -> RecipeMeta {
        var settings: [MetaKey: RecipeMeta.Setting] = [:]
        var problems: [MetaProblem] = []
        var warnings: [String] = []
        for directory in directories {
            let file = directory.appendingPathComponent(fileName)
            guard FileManager.default.fileExists(atPath: file.path) else { continue }
            do {
                _ = try ContainedPath.resolve(fileName, in: directory, what: fileName)
            } catch {
                problems.append(MetaProblem(file: file.path, line: nil, message: error.description))
                continue
            }
            let text: String
            do {
                let data = try Data(contentsOf: file)
                guard let decoded = String(data: data, encoding: .utf8) else {
                    problems.append(
                        MetaProblem(file: file.path, line: nil, message: "is not UTF-8 text — a ccci.toml is TOML"))
                    continue
                }
                text = decoded
            } catch {
                problems.append(
                    MetaProblem(file: file.path, line: nil, message: "cannot be read: \(error.localizedDescription)"))
                continue
            }
            let parsed = parse(text, file: file.path, packDirectory: directory)
            problems += parsed.problems
            warnings += parsed.warnings
            for setting in parsed.settings { settings[setting.key] = setting }
        }
        if let pinned = settings[.upgradeBaseVersion], let list = settings[.upgradeFrom] {
            problems.append(
                MetaProblem(
                    file: list.source, line: nil, key: MetaKey.upgradeFrom.rawValue,
                    message: "`upgrade_from` and `upgrade_base_version` (in \(pinned.source)) are both set — "
                        + "`upgrade_base_version` is the one-base form: keep one, e.g. `upgrade_from = [\"previous\", "
                        + "\"\(pinned.value.json.display)\"]`"))
        }
        guard problems.isEmpty else { throw MetaProblems(problems: problems) }
        let meta = RecipeMeta(settings: settings, warnings: warnings)
        // Dependency placeholders name declared dependencies (their facts are known only at run time).
        for key in [MetaKey.extraEnv, .upgradeExtraEnv, .extraSecrets] {
            do {
                try DependencyPlaceholders.check(
                    meta.stringMap(key), key: key.rawValue, dependencies: meta.dependencies)
            } catch {
                problems.append(
                    MetaProblem(
                        file: settings[key]?.source ?? "ccci.toml", line: nil, key: error.key,
                        message: error.description))
            }
        }
        guard problems.isEmpty else { throw MetaProblems(problems: problems) }
        return meta
    }

    /// Parses one file's text. Hook paths resolve against `packDirectory`.
    public static func parse(
        _ text: String, file: String, packDirectory: URL
    ) -> (settings: [RecipeMeta.Setting], problems: [MetaProblem], warnings: [String]) {
        let document: TOMLDocument
        do {
            document = try TOML.parse(text)
        } catch {
            return (
                [], [MetaProblem(file: file, line: error.line, message: "not valid TOML: \(error.description)")], []
            )
        }
        var settings: [RecipeMeta.Setting] = []
        var problems: [MetaProblem] = []
        var warnings: [String] = []
        let context = ValidationContext(file: file, packDirectory: packDirectory)
        for (name, raw) in (document.value.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let line = document.lines[name]
            guard let key = MetaKey(rawValue: name) else {
                var message = "unknown key `\(name)`"
                if let suggestion = Suggestion.closest(to: name, in: MetaKey.allCases.map(\.rawValue)) {
                    message += " — did you mean `\(suggestion)`?"
                } else {
                    message += " — `ccci meta docs` lists the keys"
                }
                problems.append(MetaProblem(file: file, line: line, key: name, message: message))
                continue
            }
            do {
                var value = try validate(raw, as: key.spec.type, key: name, context: context)
                if key == .naTiers, case .tiers(let tiers) = value {
                    // The list form had no reasons: read as `[na]` with none given.
                    value = .naReasons(Dictionary(tiers.map { ($0, "") }, uniquingKeysWith: { first, _ in first }))
                }
                try checkRules(value, key: key.spec.deprecatedBy ?? key, name: name)
                if let replacement = key.spec.deprecatedBy {
                    let fix =
                        key == .naTiers
                        ? "write a `[na]` table with the reason for each tier instead, e.g. `[na]` then "
                            + "`\((value.naTierNames.first ?? "backup")) = \"why it does not apply\"`"
                        : "rename it to `\(replacement.rawValue)`"
                    warnings.append("\(file):\(line.map(String.init) ?? "?"): `\(name)` is deprecated — \(fix)")
                    if !settings.contains(where: { $0.key == replacement }) {
                        settings.append(RecipeMeta.Setting(key: replacement, value: value, source: file))
                    }
                } else {
                    settings.removeAll { $0.key == key }
                    settings.append(RecipeMeta.Setting(key: key, value: value, source: file))
                }
            } catch {
                problems.append(MetaProblem(file: file, line: line, key: name, message: error.message))
            }
        }
        return (settings, problems, warnings)
    }

    // MARK: - Validation

    struct ValidationContext {
        let file: String
        let packDirectory: URL
    }

    struct Mismatch: Error {
        let message: String
    }

    static func validate(
        _ raw: JSONValue, as type: MetaType, key: String, context: ValidationContext
    ) throws(Mismatch) -> MetaValue {
        func mismatch(_ found: JSONValue? = nil, _ detail: String? = nil) -> Mismatch {
            var message = "`\(key)` expects \(type.expectation), found \(kind(of: found ?? raw))"
            if let detail { message = "`\(key)`: \(detail)" }
            return Mismatch(message: message)
        }
        switch type {
        case .duration:
            do {
                switch raw {
                case .int(let seconds):
                    return .duration(try DurationText.check(seconds: Double(seconds), text: "\(seconds)"))
                case .double(let seconds):
                    return .duration(try DurationText.check(seconds: seconds, text: "\(seconds)"))
                case .string(let text): return .duration(try DurationText.check(text))
                default: throw mismatch()
                }
            } catch let error as DurationError {
                throw mismatch(nil, error.description)
            } catch {
                throw mismatch()
            }
        case .string:
            guard case .string(let text) = raw else { throw mismatch() }
            return .string(text)
        case .packFile:
            guard case .string(let path) = raw else { throw mismatch() }
            do {
                _ = try ContainedPath.resolve(path, in: context.packDirectory, what: "`\(key)`")
            } catch {
                throw Mismatch(message: error.description)
            }
            return .string(path)
        case .bool:
            guard case .bool(let flag) = raw else { throw mismatch() }
            return .bool(flag)
        case .stringList:
            guard case .array(let items) = raw else { throw mismatch() }
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw mismatch(item) }
                strings.append(text)
            }
            return .strings(strings)
        case .intList:
            guard case .array(let items) = raw else { throw mismatch() }
            var ints: [Int] = []
            for item in items {
                guard case .int(let number) = item else { throw mismatch(item) }
                ints.append(number)
            }
            return .ints(ints)
        case .stringMap:
            guard case .object(let object) = raw else { throw mismatch() }
            var map: [String: String] = [:]
            for (name, item) in object {
                switch item {
                case .string(let text): map[name] = text
                case .int, .double, .bool: map[name] = item.display
                default: throw mismatch(item, "`\(key).\(name)` must be a string, found \(kind(of: item))")
                }
            }
            return .stringMap(map)
        case .hook:
            guard case .string(let path) = raw else { throw mismatch() }
            return .hook(try resolveHook(path, key: key, context: context))
        case .triState:
            switch raw {
            case .bool(let flag): return .triState(flag)
            case .string("auto"): return .triState(nil)
            default: throw mismatch()
            }
        case .probe:
            switch raw {
            case .string(let path):
                return .probe(.hook(try resolveHook(path, key: key, context: context)))
            case .object(let object):
                let allowed = ["path", "status", "contains", "timeout"]
                for name in object.keys where !allowed.contains(name) {
                    var detail = "unknown field `\(name)` in `\(key)`"
                    if let suggestion = Suggestion.closest(to: name, in: allowed) {
                        detail += " — did you mean `\(suggestion)`?"
                    }
                    throw mismatch(nil, detail)
                }
                let path = try stringField(object, "path", key: key) ?? "/"
                let contains = try stringField(object, "contains", key: key)
                var status = 200
                if let value = object["status"] {
                    guard case .int(let number) = value else {
                        throw mismatch(value, "`\(key).status` must be an integer, found \(kind(of: value))")
                    }
                    status = number
                }
                var timeout = Duration.seconds(120)
                if let value = object["timeout"] {
                    guard
                        case .duration(let parsed) = try validate(
                            value, as: .duration, key: "\(key).timeout", context: context)
                    else { throw mismatch(value) }
                    timeout = parsed
                }
                return .probe(
                    .http(
                        path: path.hasPrefix("/") ? path : "/" + path, status: status,
                        contains: contains, timeout: timeout))
            default:
                throw mismatch()
            }
        case .screenshot:
            switch raw {
            case .bool(false): return .screenshot(nil)
            case .bool(true): return .screenshot(ScreenshotSpec())
            case .object(let object):
                let fields = ["path", "wait", "selector", "text", "viewport"]
                for name in object.keys where !fields.contains(name) {
                    throw mismatch(
                        nil,
                        "unknown field `\(name)` in `\(key)` — it takes \(fields.map { "`\($0)`" }.joined(separator: ", "))"
                    )
                }
                var spec = ScreenshotSpec()
                if let value = object["wait"],
                    case .duration(let parsed) = try validate(
                        value, as: .duration, key: "\(key).wait", context: context)
                {
                    spec.wait = parsed
                }
                let path = try stringField(object, "path", key: key) ?? "/"
                spec.path = path.hasPrefix("/") ? path : "/" + path
                spec.selector = try stringField(object, "selector", key: key).flatMap { $0.isEmpty ? nil : $0 }
                spec.text = try stringField(object, "text", key: key).flatMap { $0.isEmpty ? nil : $0 }
                if let viewport = try stringField(object, "viewport", key: key) {
                    let sides = viewport.lowercased().split(separator: "x").compactMap { Int($0) }
                    guard sides.count == 2, sides.allSatisfy(ScreenshotSpec.sides.contains) else {
                        throw mismatch(
                            nil,
                            "`\(key).viewport` is '\(viewport)' — write WIDTHxHEIGHT, each \(ScreenshotSpec.sides.lowerBound)–\(ScreenshotSpec.sides.upperBound), e.g. \"1280x800\""
                        )
                    }
                    (spec.width, spec.height) = (sides[0], sides[1])
                }
                return .screenshot(spec)
            default:
                throw mismatch()
            }
        case .version:
            guard case .string(let text) = raw else { throw mismatch() }
            guard let version = RecipeVersion(text) else {
                throw mismatch(nil, "'\(text)' is not a recipe version — use a release tag such as \"1.2.0+3.4.5\"")
            }
            return .version(version)
        case .dataLocation:
            guard case .object(let object) = raw else { throw mismatch() }
            for name in object.keys where !["service", "path"].contains(name) {
                throw mismatch(nil, "unknown field `\(name)` in `\(key)` — it takes `service` and `path`")
            }
            guard let service = try stringField(object, "service", key: key), !service.isEmpty,
                let path = try stringField(object, "path", key: key)
            else { throw mismatch(nil, "`\(key)` needs both `service` and `path`") }
            guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw mismatch(nil, "`\(key).path` must be an absolute path in the container, like \"/data\"")
            }
            return .dataLocation(service: service, path: path)
        case .naReasons:
            guard case .object(let object) = raw else { throw mismatch() }
            var reasons: [Tier: String] = [:]
            for (name, item) in object.sorted(by: { $0.key < $1.key }) {
                guard let tier = Tier(rawValue: name) else {
                    var detail = "`\(key).\(name)`: '\(name)' is not a tier"
                    if MetaKey(rawValue: name) != nil {
                        detail +=
                            " — in TOML, keys after a `[\(key)]` table belong to it: move `\(name)` above the table"
                    } else if let suggestion = Suggestion.closest(to: name, in: Tier.allCases.map(\.rawValue)) {
                        detail += " — did you mean `\(suggestion)`?"
                    }
                    throw mismatch(nil, detail)
                }
                guard case .string(let reason) = item else {
                    throw mismatch(
                        item, "`\(key).\(name)` must be the reason as a string, found \(kind(of: item))")
                }
                let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else {
                    throw mismatch(
                        nil, "`\(key).\(name)` is empty — say why the tier does not apply (a maintainer reads it)")
                }
                reasons[tier] = trimmed
            }
            return .naReasons(reasons)
        case .count:
            guard case .int(let number) = raw else { throw mismatch() }
            return .int(number)
        case .upgradeFrom:
            let items: [JSONValue]
            switch raw {
            case .string: items = [raw]
            case .array(let array): items = array
            default: throw mismatch()
            }
            guard !items.isEmpty else {
                throw mismatch(nil, "`\(key)` is empty — list \"previous\", \"all-supported\" or release versions")
            }
            var entries: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw mismatch(item) }
                guard let choice = UpgradeBaseChoice(text) else {
                    var detail =
                        "`\(key)` lists '\(text)', which is neither \"previous\", \"all-supported\" nor a release "
                        + "version such as \"1.2.0+1.36.1\""
                    if let suggestion = Suggestion.closest(to: text, in: ["previous", "all-supported"]) {
                        detail += " — did you mean \"\(suggestion)\"?"
                    }
                    throw mismatch(nil, detail)
                }
                guard !entries.contains(choice.text) else {
                    throw mismatch(nil, "`\(key)` lists '\(text)' more than once")
                }
                entries.append(choice.text)
            }
            return .strings(entries)
        case .upgradeSettings:
            guard case .object(let object) = raw else { throw mismatch() }
            var lines = 3
            for (name, item) in object.sorted(by: { $0.key < $1.key }) {
                guard name == "supported_lines" else {
                    var detail = "unknown field `\(name)` in `[\(key)]` — it takes `supported_lines`"
                    if MetaKey(rawValue: name) != nil {
                        detail =
                            "`\(key).\(name)`: in TOML, keys after an `[\(key)]` table belong to it: move `\(name)` above "
                            + "the table"
                    }
                    throw mismatch(nil, detail)
                }
                guard case .int(let number) = item, (1...10).contains(number) else {
                    throw mismatch(
                        item, "`\(key).supported_lines` must be a whole number from 1 to 10, found \(kind(of: item))")
                }
                lines = number
            }
            return .upgradeSettings(supportedLines: lines)
        case .tierList:
            guard case .array(let items) = raw else { throw mismatch() }
            var tiers: [Tier] = []
            for item in items {
                guard case .string(let name) = item else { throw mismatch(item) }
                guard let tier = Tier(rawValue: name) else {
                    var detail = "'\(name)' is not a tier"
                    if let suggestion = Suggestion.closest(to: name, in: Tier.allCases.map(\.rawValue)) {
                        detail += " — did you mean `\(suggestion)`?"
                    }
                    throw mismatch(nil, detail)
                }
                tiers.append(tier)
            }
            return .tiers(tiers)
        }
    }

    /// A table field that must be a string when present.
    static func stringField(_ object: [String: JSONValue], _ field: String, key: String) throws(Mismatch) -> String? {
        guard let value = object[field] else { return nil }
        guard case .string(let text) = value else {
            throw Mismatch(message: "`\(key).\(field)` must be a string, found \(kind(of: value))")
        }
        return text
    }

    static func resolveHook(
        _ declared: String, key: String, context: ValidationContext
    ) throws(Mismatch) -> HookReference {
        // Inside the pack, symlinks followed: a hook is never a system file or another pack's.
        let url: URL
        do {
            url = try ContainedPath.resolve(declared, in: context.packDirectory, what: "`\(key)` hook")
        } catch {
            throw Mismatch(
                message: error.description + " (hooks are executables shipped in the pack, e.g. `hooks/setup.sh`)")
        }
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw Mismatch(message: "`\(key)` names hook `\(declared)`, which does not exist (looked for \(path))")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Mismatch(
                message:
                    "`\(key)` names hook `\(declared)`, which is not executable — run `chmod +x \(declared)` in the pack"
            )
        }
        return HookReference(declared: declared, path: path)
    }

    /// What a key's value must satisfy beyond its type: things that would otherwise fail a run
    /// as if the recipe were at fault.
    static func checkRules(_ value: MetaValue, key: MetaKey, name: String) throws(Mismatch) {
        switch (key, value) {
        case (.deployTimeout, .duration(let duration)) where duration == .zero:
            throw Mismatch(message: "`\(name)` is zero — no deploy converges in no time; use e.g. \"10m\"")
        case (.testTimeout, .duration(let duration)) where duration == .zero:
            throw Mismatch(message: "`\(name)` is zero — no test finishes in no time; use e.g. \"10m\"")
        case (.healthStatuses, .ints(let statuses)):
            guard !statuses.isEmpty else {
                throw Mismatch(message: "`\(name)` is empty — no answer could ever be healthy; list e.g. [200]")
            }
            if let bad = statuses.first(where: { !(100...599).contains($0) }) {
                throw Mismatch(message: "`\(name)` lists \(bad), which is not an HTTP status (100–599)")
            }
        case (.readyProbe, .probe(.http(_, let status, _, let timeout))):
            guard (100...599).contains(status) else {
                throw Mismatch(message: "`\(name).status` is \(status), which is not an HTTP status (100–599)")
            }
            guard timeout > .zero else { throw Mismatch(message: "`\(name).timeout` is zero — use e.g. \"2m\"") }
        case (.extraEnv, .stringMap(let map)), (.upgradeExtraEnv, .stringMap(let map)):
            for variable in map.keys.sorted() {
                if let problem = AppEnv.problem(withOverride: variable, value: map[variable]!) {
                    throw Mismatch(message: "`\(name).\(variable)`: \(problem)")
                }
            }
        case (.backupRetries, .int(let count)):
            guard (0...5).contains(count) else {
                throw Mismatch(message: "`\(name)` is \(count) — between 0 (never again) and 5")
            }
        case (.na, .naReasons(let reasons)):
            for tier in reasons.keys.sorted() {
                switch tier {
                case .install:
                    throw Mismatch(
                        message: "`\(name)` lists `install`, which always applies: every recipe must install")
                case .lint, .screenshot:
                    throw Mismatch(
                        message: "`\(name)` lists `\(tier.rawValue)`: L5 (lint + screenshot) is reached only by "
                            + "passing those checks, never by declaring them N/A")
                default:
                    continue
                }
            }
        case (.dependencies, .strings(let names)):
            for dependency in names {
                if let problem = RecipeName.problem(dependency) {
                    throw Mismatch(message: "`\(name)` lists '\(dependency)': \(problem)")
                }
            }
            if let repeated = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw Mismatch(message: "`\(name)` lists '\(repeated)' more than once")
            }
        default:
            return
        }
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: return "nothing"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a float"
        case .string(let text): return "a string (\"\(text.prefix(40))\")"
        case .array: return "an array"
        case .object: return "a table"
        }
    }
}

extension MetaValue {
    /// The tier names of an `[na]` value, in ladder order.
    var naTierNames: [String] {
        if case .naReasons(let reasons) = self { return reasons.keys.sorted().map(\.rawValue) }
        return []
    }
}

/// One problem in a `ccci.toml`.
public struct MetaProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(file: String, line: Int?, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}

/// Every problem found while loading a recipe's packs.
public struct MetaProblems: Error, Sendable, CustomStringConvertible {
    public let problems: [MetaProblem]

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

/// "Did you mean …?" suggestions.
public enum Suggestion {
    /// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(2, word.count / 3)
        return best.1 <= limit ? best.0 : nil
    }

    /// Levenshtein distance.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
