import CCCICore

/// Rules about the merged project's services: an `app`, an image, pinned tags, a healthcheck
/// (R002, R003, R004, R005, R009, R011).
enum ServiceRules {
    /// R009: a service is named `app`.
    static func appService(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project, project.services["app"] == nil else { return [] }
        return [recipe.finding(.appService, "missing", at: recipe.locateFirst(["services"]))]
    }

    /// R011: every service names an image.
    static func image(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        return project.serviceNames.filter { project.services[$0]?.image?.isEmpty ?? true }.map { name in
            recipe.finding(.image, "missing", at: recipe.locateFirst(["services", name]), ["service": name])
        }
    }

    /// R002: every service that keeps running has an enabled healthcheck.
    static func healthcheck(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        var findings: [LintFinding] = []
        for name in project.serviceNames {
            guard let service = project.services[name], !service.isOneShot else { continue }
            if let check = service.healthcheck {
                if check.disabled {
                    findings.append(
                        recipe.finding(
                            .healthcheck, "disabled", at: recipe.locate(["services", name, "healthcheck"]),
                            ["service": name]))
                }
            } else {
                findings.append(
                    recipe.finding(
                        .healthcheck, "missing", at: recipe.locateFirst(["services", name]), ["service": name]))
            }
        }
        return findings
    }

    /// R003, R004, R005: images are pinned to a version tag (or a digest).
    static func imageTags(_ rule: LintRule, _ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.project else { return [] }
        var findings: [LintFinding] = []
        for name in project.serviceNames {
            guard let written = project.services[name]?.image, !written.isEmpty,
                let image = ImageReference(resolving: written, in: recipe)
            else { continue }
            let location = recipe.locate(["services", name, "image"])
            let values = ["image": image.text, "service": name, "tag": image.tag ?? ""]
            switch rule {
            case .imageTag where image.tag == nil && image.digest == nil:
                findings.append(recipe.finding(.imageTag, "missing", at: location, values))
            case .stableTag where image.tag?.lowercased() == "latest":
                findings.append(recipe.finding(.stableTag, "latest", at: location, values))
            case .semverTag:
                guard let tag = image.tag, image.digest == nil, tag.lowercased() != "latest",
                    !ImageReference.isVersionLike(tag)
                else { continue }
                findings.append(recipe.finding(.semverTag, "tag", at: location, values))
            default:
                continue
            }
        }
        return findings
    }
}

/// An image reference split into name, tag and digest (`ghcr.io/a/b:1.2@sha256:…`).
struct ImageReference {
    /// The reference as a deploy would use it (variables filled in from `.env.sample` and abra.sh).
    let text: String
    let tag: String?
    let digest: String?

    /// `written`, with `${VARIABLES}` filled in as a new app's deploy would fill them; `nil` when
    /// that cannot be known (a variable without a value in the recipe).
    init?(resolving written: String, in recipe: LintContext) {
        guard let text = recipe.evaluate(written), !text.isEmpty else { return nil }
        self.text = text
        var name = Substring(text)
        if let at = name.firstIndex(of: "@") {
            digest = String(name[name.index(after: at)...])
            name = name[..<at]
        } else {
            digest = nil
        }
        // A tag follows the last `:` after the last `/` (a registry's `host:port/` is not a tag).
        let lastSlash = name.lastIndex(of: "/") ?? name.startIndex
        if let colon = name[lastSlash...].lastIndex(of: ":") {
            tag = String(name[name.index(after: colon)...])
        } else {
            tag = nil
        }
    }

    /// Whether a tag starts with a version number (`1.2.3`, `v2`, `8.0-fpm-alpine3.13`, `10.6`).
    static func isVersionLike(_ tag: String) -> Bool {
        var rest = Substring(tag)
        if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }
        guard let first = rest.first, first.isASCII, first.isNumber else { return false }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let after = rest.dropFirst(number.count)
        return !number.hasSuffix(".") && (after.first.map { "-_+".contains($0) } ?? true)
    }
}
