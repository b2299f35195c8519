import CCCICore

/// Rules about service labels: traefik routing, the deployed-version label, backupbot
/// (R010, C010, C011, C013, C014, C015, C016). Label values are read as a deploy of `.env.sample`
/// fills them in (``LintContext/evaluated``): `backupbot.backup: ${ENABLE_BACKUPS:-true}` is on.
enum LabelRules {
    static let versionLabel = "coop-cloud.${STACK_NAME}.version"

    static func labelPath(_ service: String, _ label: String) -> [String] {
        ["services", service, "deploy", "labels", label]
    }

    /// The services with `traefik.enable=true`, in name order.
    static func routed(_ project: ComposeProject) -> [ComposeService] {
        project.serviceNames.compactMap { project.services[$0] }.filter {
            $0.deployLabels["traefik.enable"]?.lowercased() == "true"
        }
    }

    /// R010: a service opts in to traefik — unless `.env.sample` sets no `DOMAIN` (abra's skip
    /// condition: a recipe that serves no domain).
    static func traefikEnabled(_ recipe: LintContext) -> RuleOutcome {
        if let env = recipe.env, env["DOMAIN"] == nil {
            return .skipped(".env.sample sets no DOMAIN, so the recipe serves no domain (abra skips R010 too)")
        }
        guard let project = recipe.evaluated, routed(project).isEmpty else { return .findings([]) }
        return .findings([recipe.finding(.traefikEnabled, "none", at: recipe.locateFirst(["services"]))])
    }

    /// C010: each routed service has a router rule with `Host(…)` and a backend port.
    static func traefikRoute(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.evaluated else { return [] }
        let routerPrefix = "traefik.http.routers."
        let portPrefix = "traefik.http.services."
        let portSuffix = ".loadbalancer.server.port"
        var findings: [LintFinding] = []
        for service in routed(project) {
            let labels = service.deployLabels
            let name = service.name
            let enable = recipe.locate(labelPath(name, "traefik.enable"))
            let ruleLabels = labels.keys.filter { $0.hasPrefix(routerPrefix) && $0.hasSuffix(".rule") }.sorted()
            if ruleLabels.isEmpty {
                // A service routed only over TCP or UDP has no HTTP router to check.
                let otherRouters = labels.keys.contains { $0.hasPrefix("traefik.tcp.") || $0.hasPrefix("traefik.udp.") }
                if !otherRouters {
                    findings.append(recipe.finding(.traefikRoute, "noRule", at: enable, ["service": name]))
                }
                continue
            }
            let routes = TraefikRoute.routes(for: service)
            for label in ruleLabels {
                let router = String(label.dropFirst(routerPrefix.count).dropLast(".rule".count))
                guard !routes.contains(where: { $0.router == router }) else { continue }
                // A rule made of a variable .env.sample does not set cannot be judged here (C004
                // says the variable is missing).
                if let written = recipe.project?.services[name]?.deployLabels[label], recipe.evaluate(written) == nil {
                    continue
                }
                findings.append(
                    recipe.finding(
                        .traefikRoute, "noHost", at: recipe.locate(labelPath(name, label)),
                        ["router": router, "service": name]))
            }
            // Routers that hand their requests to another provider's service (`api@internal`,
            // `x@file`) use no port of this one.
            let routers = ruleLabels.map { String($0.dropFirst(routerPrefix.count).dropLast(".rule".count)) }
            let elsewhere = routers.filter { labels["\(routerPrefix)\($0).service"]?.contains("@") == true }
            if !routers.isEmpty, elsewhere.count == routers.count { continue }
            let portLabels = labels.keys.filter { $0.hasPrefix(portPrefix) && $0.hasSuffix(portSuffix) }.sorted()
            guard !portLabels.isEmpty else {
                findings.append(recipe.finding(.traefikRoute, "noPort", at: enable, ["service": name]))
                continue
            }
            var allNumeric = true
            for label in portLabels {
                let value = labels[label, default: ""].trimmingCharacters(in: .whitespaces)
                if value.contains("$") {
                    allNumeric = false
                } else if !(Int(value).map { (1...65535).contains($0) } ?? false) {
                    allNumeric = false
                    findings.append(
                        recipe.finding(
                            .traefikRoute, "badPort", at: recipe.locate(labelPath(name, label)),
                            ["label": label, "value": value]))
                }
            }
            for route in routes where route.port == nil && allNumeric && !elsewhere.contains(route.router) {
                findings.append(
                    recipe.finding(
                        .traefikRoute, "ambiguousPort",
                        at: recipe.locate(labelPath(name, "traefik.http.routers.\(route.router).rule")),
                        ["router": route.router, "service": name]))
            }
        }
        return findings
    }

    /// C011: routed services are on the `proxy` network, declared external.
    static func proxyNetwork(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.evaluated else { return [] }
        let services = routed(project)
        var findings: [LintFinding] = services.filter { !$0.networks.contains("proxy") }.map { service in
            recipe.finding(
                .proxyNetwork, "notJoined", at: recipe.locateFirst(["services", service.name, "networks"]),
                ["service": service.name])
        }
        if !services.isEmpty, let proxy = project.networks["proxy"], !proxy.external {
            findings.append(recipe.finding(.proxyNetwork, "notExternal", at: recipe.locate(["networks", "proxy"])))
        }
        return findings
    }

    /// C013: the `app` service carries `coop-cloud.${STACK_NAME}.version=<version>` — the 2021
    /// per-service form and an empty value before the first release are warnings.
    static func versionLabelPresent(_ recipe: LintContext) -> [LintFinding] {
        guard let app = recipe.evaluated?.services["app"] else { return [] }
        guard let value = app.deployLabels[versionLabel] else {
            let legacy = "coop-cloud.${STACK_NAME}.app.version"
            if app.deployLabels[legacy] != nil {
                return [
                    recipe.finding(
                        .versionLabel, "legacy", at: recipe.locate(labelPath("app", legacy)), ["label": legacy])
                ]
            }
            let carrier = recipe.evaluated?.serviceNames.first {
                recipe.evaluated?.services[$0]?.deployLabels[versionLabel] != nil
            }
            if let carrier {
                return [
                    recipe.finding(
                        .versionLabel, "elsewhere", at: recipe.locate(labelPath(carrier, versionLabel)),
                        ["service": carrier])
                ]
            }
            return [
                recipe.finding(
                    .versionLabel, "missing", at: recipe.locateFirst(["services", "app", "deploy", "labels"]))
            ]
        }
        let location = recipe.locate(labelPath("app", versionLabel))
        let released = recipe.snapshot.tags.map { !ReleaseSet(tags: $0).releases.isEmpty } ?? false
        if value.trimmingCharacters(in: .whitespaces).isEmpty, !released {
            return [recipe.finding(.versionLabel, "empty", at: location)]
        }
        guard !value.contains("$"), RecipeVersion(value) == nil else { return [] }
        return [recipe.finding(.versionLabel, "malformed", at: location, ["value": value])]
    }

    /// C014: when the checkout is a release, the version label names that release.
    static func versionLabelRelease(_ recipe: LintContext) -> RuleOutcome {
        guard let tags = recipe.snapshot.tags else { return .skipped(ReleaseRules.noTags(recipe)) }
        guard let head = recipe.snapshot.headCommit else { return .findings([]) }
        let releases = ReleaseSet(tags: tags).releases(at: head)
        guard !releases.isEmpty, let value = recipe.evaluated?.services["app"]?.deployLabels[versionLabel],
            let version = RecipeVersion(value), !releases.contains(where: { $0.version == version })
        else { return .findings([]) }
        return .findings([
            recipe.finding(
                .versionLabelRelease, "mismatch", at: recipe.locate(labelPath("app", versionLabel)),
                ["tag": releases.map(\.tag.name).joined(separator: ", "), "value": value])
        ])
    }

    /// C015: backupbot labels name volumes (and paths) the service mounts.
    static func backupVolumes(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.evaluated else { return [] }
        let volumePrefix = "backupbot.backup.volumes."
        var findings: [LintFinding] = []
        for name in project.serviceNames {
            guard let service = project.services[name] else { continue }
            let mounts = service.namedVolumes
            let mounted = Set(mounts.compactMap(\.source))
            let list = mounted.isEmpty ? "it mounts none" : mounted.sorted().joined(separator: ", ")
            for label in service.deployLabels.keys.sorted() where label.hasPrefix(volumePrefix) {
                var volume = String(label.dropFirst(volumePrefix.count))
                if volume.hasSuffix(".path") { volume = String(volume.dropLast(".path".count)) }
                guard !mounted.contains(volume) else { continue }
                findings.append(
                    recipe.finding(
                        .backupVolumes, "unknownVolume", at: recipe.locate(labelPath(name, label)),
                        ["label": label, "volume": volume, "service": name, "mounted": list]))
            }
            let legacy = service.deployLabels["backupbot.backup.path"] ?? ""
            for path in legacy.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !path.isEmpty {
                let inside = mounts.contains {
                    path == $0.target || path.hasPrefix($0.target + "/") || $0.target == "/"
                }
                if !inside {
                    findings.append(
                        recipe.finding(
                            .backupVolumes, "pathOutside", at: recipe.locate(labelPath(name, "backupbot.backup.path")),
                            ["path": path, "service": name]))
                }
            }
        }
        return findings
    }

    /// C016: backupbot labels are enabled, and an enabled service backs something up.
    static func backupEffective(_ recipe: LintContext) -> [LintFinding] {
        guard let project = recipe.evaluated else { return [] }
        var findings: [LintFinding] = []
        for name in project.serviceNames {
            guard let labels = project.services[name]?.deployLabels else { continue }
            let others = labels.keys.filter { $0.hasPrefix("backupbot.") && $0 != "backupbot.backup" }.sorted()
            if labels["backupbot.backup"]?.lowercased() != "true", let first = others.first {
                findings.append(
                    recipe.finding(
                        .backupEffective, "notEnabled", at: recipe.locate(labelPath(name, first)), ["service": name]))
            }
        }
        for service in BackupPlan(project: project)?.services ?? [] where service.volumes.isEmpty {
            findings.append(
                recipe.finding(
                    .backupEffective, "nothing", at: recipe.locate(labelPath(service.service, "backupbot.backup")),
                    ["service": service.service]))
        }
        return findings
    }
}
