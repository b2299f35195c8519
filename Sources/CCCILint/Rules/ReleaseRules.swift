import CCCICore

/// Rules about the repository's release tags (R006, R014, C017).
enum ReleaseRules {
    static let noRepository = "the checkout is not a git repository, so it has no tags to check"

    /// Why the tag rules cannot run.
    static func noTags(_ recipe: LintContext) -> String {
        recipe.snapshot.tagsUnreadable ?? noRepository
    }

    /// R014: no version tag is lightweight.
    static func annotated(_ recipe: LintContext) -> RuleOutcome {
        guard let tags = recipe.snapshot.tags else { return .skipped(noTags(recipe)) }
        return .findings(
            ReleaseSet(tags: tags).lightweight.map { tag in
                LintContext.finding(
                    .annotatedTags, "lightweight", file: nil, line: nil,
                    ["tag": tag.name, "commit": String(tag.commit.prefix(12))])
            })
    }

    /// R006: the repository has at least one release.
    static func hasRelease(_ recipe: LintContext) -> RuleOutcome {
        guard let tags = recipe.snapshot.tags else { return .skipped(noTags(recipe)) }
        guard ReleaseSet(tags: tags).releases.isEmpty else { return .findings([]) }
        return .findings([LintContext.finding(.hasRelease, "none", file: nil, line: nil)])
    }

    /// C017: releases are tagged `X.Y.Z+upstream`.
    static func tagForm(_ recipe: LintContext) -> RuleOutcome {
        guard let tags = recipe.snapshot.tags else { return .skipped(noTags(recipe)) }
        return .findings(
            ReleaseSet(tags: tags).releases.filter { !isCurrentForm($0.version) }.map { release in
                LintContext.finding(.releaseTagForm, "form", file: nil, line: nil, ["tag": release.tag.name])
            })
    }

    /// `1.2.3+4.5.6`: the recipe's semver, a `+`, the upstream version; no leading `v`.
    static func isCurrentForm(_ version: RecipeVersion) -> Bool {
        version.form == .semver && version.upstream != nil && !version.raw.hasPrefix("v")
    }
}

/// Rules about README.md's metadata block (R007, C018).
enum ReadmeRules {
    static let readme = "README.md"

    /// R007: README.md has the metadata block with every field filled in.
    static func metadata(_ recipe: LintContext) -> [LintFinding] {
        guard let text = recipe.snapshot.texts[readme] else {
            return [LintContext.finding(.readmeMetadata, "noReadme", file: readme, line: nil)]
        }
        guard let metadata = ReadmeMetadata(markdown: text) else {
            return [LintContext.finding(.readmeMetadata, "noBlock", file: readme, line: nil)]
        }
        let missing = ReadmeMetadata.fields.filter { !metadata.isFilledIn($0) }
        guard let first = missing.first else { return [] }
        return [
            LintContext.finding(
                .readmeMetadata, "fields", file: readme, line: metadata.line,
                ["fields": missing.joined(separator: ", "), "field": first])
        ]
    }

    /// C018: the block's Healthcheck and Backups say what the compose files do.
    static func agrees(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.evaluated, let text = recipe.snapshot.texts[readme],
            let metadata = ReadmeMetadata(markdown: text)
        else { return [] }
        var findings: [LintFinding] = []
        let running = project.serviceNames.compactMap { project.services[$0] }.filter { !$0.isOneShot }
        let checked = running.filter { $0.healthcheck.map { !$0.disabled } ?? false }
        if let said = metadata.answer("Healthcheck") {
            let actual: String? =
                said && checked.isEmpty
                ? "no service has a healthcheck"
                : (!said && !running.isEmpty && checked.count == running.count ? "every service has one" : nil)
            if let actual {
                findings.append(
                    LintContext.finding(
                        .readmeAgrees, "healthcheck", file: readme, line: metadata.lines["Healthcheck"],
                        ["said": said ? "Yes" : "No", "actual": actual]))
            }
        }
        if let said = metadata.answer("Backups") {
            let plan = BackupPlan(project: project)
            let actual: String? =
                said && plan == nil
                ? "no service sets backupbot.backup=true"
                : (!said && plan != nil
                    ? "service `\(plan?.services.first?.service ?? "")` sets backupbot.backup=true" : nil)
            if let actual {
                findings.append(
                    LintContext.finding(
                        .readmeAgrees, "backups", file: readme, line: metadata.lines["Backups"],
                        ["said": said ? "Yes" : "No", "actual": actual]))
            }
        }
        return findings
    }
}

/// The `<!-- metadata -->` … `<!-- endmetadata -->` block of a recipe README, as abra's template
/// writes it: one `* **Field**: value` line per field.
struct ReadmeMetadata {
    /// The fields abra's recipe template has.
    static let fields = ["Category", "Status", "Image", "Healthcheck", "Backups", "Email", "Tests", "SSO"]

    /// The line of `<!-- metadata -->`.
    let line: Int
    var values: [String: String] = [:]
    var lines: [String: Int] = [:]

    /// Reads the block; `nil` when the README has none.
    init?(markdown: String) {
        let textLines = markdown.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        func marker(_ line: Substring) -> String {
            line.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: " ", with: "")
        }
        guard let start = textLines.firstIndex(where: { marker($0) == "<!--metadata-->" }) else { return nil }
        line = start + 1
        for index in (start + 1)..<textLines.count {
            let text = textLines[index].trimmingCharacters(in: .whitespaces)
            if marker(textLines[index]) == "<!--endmetadata-->" { break }
            guard text.hasPrefix("*") || text.hasPrefix("-") else { continue }
            let body = text.dropFirst().trimmingCharacters(in: .whitespaces)
            guard body.hasPrefix("**"), let close = body.dropFirst(2).range(of: "**") else { continue }
            let name = String(body.dropFirst(2)[..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            var value = body[close.upperBound...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix(":") { value = value.dropFirst().trimmingCharacters(in: .whitespaces) }
            if name.hasSuffix(":") {
                values[String(name.dropLast())] = value
                lines[String(name.dropLast())] = index + 1
            } else {
                values[name] = value
                lines[name] = index + 1
            }
        }
    }

    /// Whether `field` has a value (abra's template's `?` placeholders do not count).
    func isFilledIn(_ field: String) -> Bool {
        guard let value = values[field] else { return false }
        return !value.isEmpty && value != "?"
    }

    /// A Yes/No field's answer; `nil` when it says something else ("partial", "1, alpha").
    func answer(_ field: String) -> Bool? {
        guard let value = values[field]?.lowercased() else { return nil }
        if value.hasPrefix("yes") { return true }
        if value.hasPrefix("no") { return false }
        return nil
    }
}
