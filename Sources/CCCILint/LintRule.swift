/// Every rule `ccci lint` checks: the rule table.
///
/// This enum is the registry, as ``MetaKey`` is for `ccci.toml`: each case's ``spec`` (an exhaustive
/// switch, so no rule ships without its severity, messages and rationale) is what the engine
/// reports and what `docs/lint.md` is generated from. Ids `R0xx` are abra's (`abra recipe lint`)
/// where the rule checks what abra's rule of that id checks; `C0xx` are cc-ci's own.
public enum LintRule: String, CaseIterable, Sendable, Codable, Hashable {
    case composeVersion = "R001"
    case healthcheck = "R002"
    case imageTag = "R003"
    case stableTag = "R004"
    case semverTag = "R005"
    case hasRelease = "R006"
    case readmeMetadata = "R007"
    case envSample = "R008"
    case appService = "R009"
    case traefikEnabled = "R010"
    case image = "R011"
    case configVersions = "R012"
    case annotatedTags = "R014"
    case secretNameLength = "R015"
    case composeValid = "C001"
    case composeFileList = "C002"
    case envSampleReadable = "C003"
    case envComplete = "C004"
    case secretVersions = "C005"
    case declaredReferences = "C006"
    case fileReferences = "C007"
    case swarmIgnoredKeys = "C008"
    case plaintextCredentials = "C009"
    case traefikRoute = "C010"
    case proxyNetwork = "C011"
    case serviceLabels = "C012"
    case versionLabel = "C013"
    case versionLabelRelease = "C014"
    case backupVolumes = "C015"
    case backupEffective = "C016"
    case releaseTagForm = "C017"
    case readmeAgrees = "C018"

    /// The rule's id (`R002`, `C004`).
    public var id: String { rawValue }

    /// The rule's severity, messages and rationale.
    public var spec: LintRuleSpec {
        switch self {
        case .composeVersion:
            return LintRuleSpec(
                .warning, "compose files declare version 3.8", abra: true,
                messages: [
                    "missing": "{file} declares no `version` — add `version: \"3.8\"` as Co-op Cloud recipes do",
                    "other": "`version` is \"{version}\" — Co-op Cloud recipes use \"3.8\"",
                ],
                rationale: "abra expects `version: \"3.8\"` in every compose file, and `docker stack deploy` refuses "
                    + "files of one deploy whose versions differ, so an overlay with another version breaks the deploy."
            )
        case .healthcheck:
            return LintRuleSpec(
                .warning, "every service has a healthcheck", abra: true,
                messages: [
                    "missing": "service `{service}` has no healthcheck — add one so deploys converge on health",
                    "disabled":
                        "service `{service}` disables its healthcheck — enable one so deploys converge on health",
                ],
                rationale: "A deploy converges when every task is running and healthy; without a healthcheck a task "
                    + "counts as up the moment its process starts, so a broken app looks deployed and an upgrade's "
                    + "`start-first` rollout cannot wait for the new version. One-shot services "
                    + "(`restart_policy.condition: none`) are exempt: they complete rather than serve. A healthcheck "
                    + "in the image itself is not visible to lint, as it is not to abra.")
        case .imageTag:
            return LintRuleSpec(
                .warning, "every image names a tag", abra: true,
                messages: [
                    "missing": "image `{image}` of service `{service}` has no tag — pin a version, e.g. `{image}:1.2.3`"
                ],
                rationale: "An image without a tag is `:latest`: what a release deploys changes whenever upstream "
                    + "pushes, so the release cannot be reproduced and abra cannot offer upgrades by tag.")
        case .stableTag:
            return LintRuleSpec(
                .warning, "no image uses the `latest` tag", abra: true,
                messages: ["latest": "image `{image}` of service `{service}` uses `latest` — pin a version"],
                rationale:
                    "`latest` moves: two deploys of the same release may run different code, and an upgrade test "
                    + "of the release proves nothing about the next deploy. abra warns about unstable tags.")
        case .semverTag:
            return LintRuleSpec(
                .warning, "image tags are versions", abra: true,
                messages: [
                    "tag":
                        "image `{image}` of service `{service}` has tag `{tag}`, which is not a version — use a tag like `1.2.3`"
                ],
                rationale: "abra compares image tags as versions to propose upgrades (`abra recipe upgrade`); a tag "
                    + "that does not start with a version number (`main`, `stable`) cannot be compared. Images pinned "
                    + "by digest are exempt.")
        case .hasRelease:
            return LintRuleSpec(
                .warning, "the recipe has a release", abra: true,
                messages: [
                    "none":
                        "the repository has no release (no annotated version tag) — release one with `abra recipe release`"
                ],
                rationale:
                    "Operators deploy releases, and the upgrade tier starts from the previous one; a recipe with "
                    + "no release can only be deployed from a checkout (`--chaos`). Modelled on abra's \"has published "
                    + "catalogue version\", judged from the repository's tags (lint reads no catalogue).")
        case .readmeMetadata:
            return LintRuleSpec(
                .error, "README.md carries the metadata block", abra: true,
                messages: [
                    "noReadme":
                        "the recipe has no README.md — add one with the `<!-- metadata -->` block abra's template has",
                    "noBlock": "README.md has no `<!-- metadata -->` … `<!-- endmetadata -->` block — add it with "
                        + "Category, Status, Image, Healthcheck, Backups, Email, Tests and SSO",
                    "fields": "the metadata block does not fill in {fields} — add `* **{field}**: …` lines",
                ],
                rationale: "abra and the recipe catalogue read the recipe's category, status and features from the "
                    + "block between `<!-- metadata -->` and `<!-- endmetadata -->`; a recipe without it has no "
                    + "catalogue entry operators can judge it by.")
        case .envSample:
            return LintRuleSpec(
                .error, ".env.sample exists", abra: true,
                messages: [
                    "missing": "the recipe has no .env.sample — add one: `abra app new` copies it into every app's env"
                ],
                rationale: "`abra app new` creates an app's env file from `.env.sample`; without it no app can be "
                    + "created, and cc-ci cannot build an app env to deploy.")
        case .appService:
            return LintRuleSpec(
                .error, "a service is named `app`", abra: true,
                messages: ["missing": "no service is named `app` — name the main service `app`"],
                rationale: "abra's commands (`abra app logs`, `abra app cmd`, the deployed version label) address the "
                    + "main service as `app`.")
        case .traefikEnabled:
            return LintRuleSpec(
                .error, "a service is routed by traefik", abra: true,
                messages: [
                    "none":
                        "no service sets `traefik.enable=true` in deploy.labels — route the app's web service through traefik"
                ],
                rationale: "Co-op Cloud's traefik only routes services that opt in with `traefik.enable=true` (its "
                    + "`exposedByDefault` is off); without it the app's domain answers 404. Skipped, as abra skips "
                    + "it, when `.env.sample` sets no `DOMAIN`: such a recipe serves no domain.")
        case .image:
            return LintRuleSpec(
                .error, "every service has an image", abra: true,
                messages: [
                    "missing": "service `{service}` has no `image` — swarm cannot build images; name a published one"
                ],
                rationale: "`docker stack deploy` ignores `build:`; a service without `image` cannot be deployed.")
        case .configVersions:
            return LintRuleSpec(
                .error, "config versions are vendored in abra.sh", abra: true,
                messages: [
                    "notExported": "config `{config}` is named with `${{variable}}`, which abra.sh does not export — "
                        + "add `export {variable}=v1` to abra.sh",
                    "unversioned": "config `{config}` has no version variable in its name — name it "
                        + "`${STACK_NAME}_{config}_${{suggestion}}` and export {suggestion} from abra.sh",
                ],
                rationale: "Swarm configs cannot change once created, so a recipe names each one with a version "
                    + "(`${STACK_NAME}_nginx_conf_${NGINX_CONF_VERSION}`) that `abra.sh` exports and the maintainer "
                    + "bumps when the file changes; an unset version names every release's config the same, and the "
                    + "deploy of a changed file fails.")
        case .annotatedTags:
            return LintRuleSpec(
                .error, "release tags are annotated", abra: true,
                messages: [
                    "lightweight": "tag `{tag}` is a lightweight tag, so it is not a release — re-create it annotated: "
                        + "`git tag -d {tag} && git tag -a {tag} {commit} -m 'Release {tag}'`"
                ],
                rationale: "abra and cc-ci take only annotated tags as releases (a lightweight tag carries no tagger "
                    + "or message and is often a local leftover); a version tag that is lightweight is a release "
                    + "nobody can deploy by version.")
        case .secretNameLength:
            return LintRuleSpec(
                .warning, "secret names are at most 12 characters", abra: true,
                messages: ["long": "secret `{secret}` has a {length}-character name — use at most 12"],
                rationale: "A secret's docker name is `<stack>_<secret>_<version>` and docker allows 64 characters; "
                    + "the stack name comes from the app's domain, so abra keeps secret names short to leave it room.")
        case .composeValid:
            return LintRuleSpec(
                .error, "compose files are valid", abra: false,
                messages: [
                    "yaml": "{file} is not valid YAML: {reason}",
                    "invalid": "{reason}",
                    "interpolation":
                        "`{text}` is not a valid variable reference — use ${NAME}, ${NAME:-default} or $$ for a literal $",
                    "noServices": "the compose files declare no services",
                    "serviceNotMapping": "service `{service}` is not a mapping of settings",
                ],
                rationale: "A compose file `docker stack deploy` cannot read fails every deploy; nothing else about "
                    + "the recipe can be checked until it reads.")
        case .composeFileList:
            return LintRuleSpec(
                .error, "COMPOSE_FILE names files of the recipe", abra: false,
                messages: [
                    "missing":
                        "COMPOSE_FILE names `{file}`, which the recipe does not have — add it or fix COMPOSE_FILE",
                    "outside": "COMPOSE_FILE names `{file}`, which is outside the recipe — name a file inside it",
                ],
                rationale: "abra deploys the files `COMPOSE_FILE` lists; a missing one fails every deploy of a new app."
            )
        case .envSampleReadable:
            return LintRuleSpec(
                .error, ".env.sample is a readable env file", abra: false,
                messages: ["unreadable": "{reason}"],
                rationale: "abra copies `.env.sample` into every new app's env file; a line it cannot read breaks "
                    + "every app made from it.")
        case .envComplete:
            return LintRuleSpec(
                .error, ".env.sample sets every variable compose needs", abra: false,
                messages: [
                    "interpolated": "`{reference}` has no default and .env.sample does not set {variable} — add "
                        + "`{variable}=…` to .env.sample (commented out if optional) or write `${{variable}:-default}`",
                    "required":
                        "`{reference}` requires {variable}, which .env.sample does not set — add `{variable}=…`",
                ],
                rationale: "Compose replaces an unset variable with an empty string, silently: a label, a name or a "
                    + "setting ends up empty on every app made from `.env.sample`. A variable counts as set when "
                    + ".env.sample assigns it, mentions it commented out (`#VAR=…`, the convention for optional "
                    + "settings), abra.sh exports it, or abra sets it (`STACK_NAME`, `DOMAIN`). Config and secret "
                    + "version variables are checked by R012 and C005. A bare `- VAR` in `environment:` is not "
                    + "checked: docker passes an unset one as unset (the app sees no VAR, not an empty one), which "
                    + "is what the recipe asks for.")
        case .secretVersions:
            return LintRuleSpec(
                .error, "secrets are versioned in .env.sample", abra: false,
                messages: [
                    "missing": "secret `{secret}` is named with {variable}, which .env.sample does not mention — "
                        + "add `{variable}=v1` (`#{variable}=v1` when its overlay is optional)",
                    "name": "secret `{secret}` is named `{name}`, whose last part is not a version variable — name it "
                        + "`${STACK_NAME}_{secret}_${{variable}}`",
                    "length": "{variable} has `length={length}`, which is not a length between 1 and 4096",
                ],
                rationale:
                    "abra creates each external secret under its compose `name:`, interpolated from the app env, "
                    + "and takes its version from the name's last `_` segment (`<stack>_<secret>_<version>`): a "
                    + "name that does not end in a version variable cannot be rotated, and one whose variable is "
                    + "unset comes out ending in `_`, which abra refuses. The `name:` decides the variable, not the "
                    + "compose key (a key may be spelled otherwise); a commented line (`#SECRET_<NAME>_VERSION=v1`) "
                    + "documents the secret of an optional overlay, as C004 accepts `#VAR=…`; `# length=N` must be "
                    + "a length.")
        case .declaredReferences:
            return LintRuleSpec(
                .error, "services use only declared volumes, secrets, configs and networks", abra: false,
                messages: [
                    "undeclared": "service `{service}` uses {kind} `{name}`, which the compose files do not declare — "
                        + "add it under top-level `{section}:`"
                ],
                rationale: "`docker stack deploy` rejects a service that mounts a volume or uses a secret, config or "
                    + "network the project does not declare.")
        case .fileReferences:
            return LintRuleSpec(
                .error, "config and secret files exist in the recipe", abra: false,
                messages: [
                    "missing":
                        "{kind} `{name}` is made from `{path}`, which the recipe does not have — add the file or fix `file:`",
                    "outside":
                        "{kind} `{name}` is made from `{path}`, which is outside the recipe — name a file inside it",
                ],
                rationale: "`docker stack deploy` creates configs and secrets from their `file:`; a missing file fails "
                    + "the deploy, and a file outside the recipe would upload a file of the deploying host.")
        case .swarmIgnoredKeys:
            return LintRuleSpec(
                .warning, "services use no keys swarm ignores", abra: false,
                messages: [
                    "ignored": "service `{service}` sets `{key}`, which `docker stack deploy` ignores — {advice}"
                ],
                rationale: "Swarm ignores `build`, `container_name`, `restart`, `links`, `external_links` and "
                    + "`network_mode`: `docker stack deploy` prints \"Ignoring unsupported options\" (for "
                    + "`container_name`, \"not supported\") and deploys without them, so a recipe that relies on "
                    + "them behaves differently from what it says.")
        case .plaintextCredentials:
            return LintRuleSpec(
                .warning, "no credentials in plain environment values", abra: false,
                messages: [
                    "plain": "environment `{variable}` of service `{service}` holds a credential in plain text — pass "
                        + "it as a secret abra generates (the app reads it from /run/secrets/…)"
                ],
                rationale: "A value in `environment:` is visible to anyone who can inspect the service, is the same "
                    + "on every app made from the recipe, and cannot be rotated; Co-op Cloud recipes pass credentials "
                    + "as secrets. Names are judged as cc-ci's redaction judges them (SECRET, PASSWORD, TOKEN, "
                    + "CREDENTIAL, or a KEY word); `_FILE` variables, which name a secret's path, are fine, and so "
                    + "is a value that is only a variable (`${TOKEN:-}`): the credential is the app env's, not the "
                    + "recipe's.")
        case .traefikRoute:
            return LintRuleSpec(
                .error, "traefik routes have a Host rule and a port", abra: false,
                messages: [
                    "noRule": "service `{service}` enables traefik but has no `traefik.http.routers.<name>.rule` — add "
                        + "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)",
                    "noHost":
                        "router `{router}` of service `{service}` has no Host(`…`) in its rule — route the app's domain",
                    "noPort":
                        "service `{service}` enables traefik but has no `traefik.http.services.<name>.loadbalancer.server.port` "
                        + "— add the port the app listens on",
                    "badPort": "`{label}` is `{value}`, which is not a port — give the port the app listens on",
                    "ambiguousPort": "router `{router}` of service `{service}` does not say which port it uses — add "
                        + "`traefik.http.routers.{router}.service`",
                ],
                rationale: "Traefik's swarm provider needs a router rule naming the app's domain and the backend port "
                    + "(it cannot guess ports in swarm mode); without them the domain answers 404, and a wrong port 502. "
                    + "A router whose `service` is another provider's (`api@internal`, `…@file`) needs no port of "
                    + "this service; label values are read as a deploy of `.env.sample` fills them in.")
        case .proxyNetwork:
            return LintRuleSpec(
                .error, "routed services are on the external `proxy` network", abra: false,
                messages: [
                    "notJoined":
                        "service `{service}` enables traefik but is not on the `proxy` network — add `proxy` to its networks",
                    "notExternal":
                        "network `proxy` is not declared `external: true` — declare it external, as traefik's network",
                ],
                rationale: "Co-op Cloud's traefik reaches apps over the shared overlay network `proxy`, which exists "
                    + "before any app; a routed service elsewhere is unreachable, and a `proxy` the stack creates is a "
                    + "different network from traefik's.")
        case .serviceLabels:
            return LintRuleSpec(
                .error, "traefik, backupbot and coop-cloud labels are service labels", abra: false,
                messages: [
                    "container":
                        "label `{label}` of service `{service}` is a container label — move it under `deploy.labels`"
                ],
                rationale: "Traefik's swarm provider, backup-bot-two and abra read *service* labels (`deploy.labels`); "
                    + "under `labels:` they land on containers and nothing sees them.")
        case .versionLabel:
            return LintRuleSpec(
                .error, "the app service carries the `coop-cloud.${STACK_NAME}.version` label", abra: false,
                messages: [
                    "missing": "service `app` has no `coop-cloud.${STACK_NAME}.version` label — add "
                        + "`coop-cloud.${STACK_NAME}.version=<recipe version>` to its deploy.labels",
                    "malformed":
                        "`coop-cloud.${STACK_NAME}.version` is `{value}`, which is not a version like 1.2.0+3.4.5",
                    "elsewhere": "the `coop-cloud.${STACK_NAME}.version` label is on service `{service}`, not `app` "
                        + "— move it to `app`'s deploy.labels",
                    "legacy": "service `app` carries the 2021 form `{label}` — rename it "
                        + "`coop-cloud.${STACK_NAME}.version`, the label abra reads now",
                    "empty": "`coop-cloud.${STACK_NAME}.version` is empty, as the recipe template ships it — "
                        + "`abra recipe release` fills it in at the first release",
                ],
                warnings: ["legacy", "empty"],
                rationale: "abra reads the deployed version of an app from this label (and `abra recipe release` "
                    + "writes it); without it operators and cc-ci cannot tell which release runs, or upgrade from it. "
                    + "Two forms are warnings: the 2021 per-service label (`coop-cloud.${STACK_NAME}.app.version`, "
                    + "which older recipes still carry) and an empty value in a recipe with no release yet (what "
                    + "the template ships; an empty label once there are releases is an error).")
        case .versionLabelRelease:
            return LintRuleSpec(
                .error, "the version label matches the release tag", abra: false,
                messages: [
                    "mismatch": "the checkout is release {tag} but its `coop-cloud.${STACK_NAME}.version` label says "
                        + "{value} — make them agree"
                ],
                rationale: "An app deployed from a release reports the label's version; when it differs from the tag, "
                    + "operators are told they run a version they do not, and upgrades start from the wrong place.")
        case .backupVolumes:
            return LintRuleSpec(
                .error, "backupbot labels name volumes the service mounts", abra: false,
                messages: [
                    "unknownVolume": "`{label}` names volume `{volume}`, which service `{service}` does not mount — "
                        + "name one of its volumes ({mounted})",
                    "pathOutside": "`backupbot.backup.path` names `{path}`, which is in no volume service `{service}` "
                        + "mounts — back up paths inside its volumes",
                ],
                rationale: "backup-bot-two backs up the named volumes of a `backupbot.backup=true` service; a label "
                    + "naming a volume (or path) the service does not mount backs up nothing, silently, until a "
                    + "restore finds the data missing.")
        case .backupEffective:
            return LintRuleSpec(
                .warning, "backupbot labels take effect", abra: false,
                messages: [
                    "notEnabled": "service `{service}` has backupbot labels but not `backupbot.backup=true` — they do "
                        + "nothing without it",
                    "nothing": "service `{service}` sets `backupbot.backup=true` but backs up no volume — mount the "
                        + "data's volume, or drop the label",
                ],
                rationale: "Labels that cannot produce a snapshot give operators a backup they do not have.")
        case .releaseTagForm:
            return LintRuleSpec(
                .warning, "release tags are in X.Y.Z+upstream form", abra: false,
                messages: [
                    "form": "release tag `{tag}` is not in `X.Y.Z+<upstream version>` form — tag the next release like "
                        + "`1.2.3+4.5.6` (abra recipe release does)"
                ],
                rationale: "Co-op Cloud recipe versions are the recipe's semver plus the packaged upstream version "
                    + "(`1.13.0+1.31.1`); abra orders and offers upgrades by it. Older forms (`1.2.0`, `v1.2.0`, "
                    + "`1.14.1_1`) still order, so this is a warning: published tags are not rewritten.")
        case .readmeAgrees:
            return LintRuleSpec(
                .warning, "README metadata agrees with the compose files", abra: false,
                messages: [
                    "healthcheck": "the metadata says Healthcheck: {said}, but {actual} — correct the metadata",
                    "backups": "the metadata says Backups: {said}, but {actual} — correct the metadata",
                ],
                rationale: "Operators choose recipes by the catalogue's features, which come from this block; a "
                    + "recipe claiming healthchecks or backups it does not have misleads them.")
        }
    }
}

/// How serious a finding is: errors fail the lint tier, warnings are reported.
public enum LintSeverity: String, Sendable, Codable, Hashable {
    case error
    case warning
}

/// The registry entry of one rule.
public struct LintRuleSpec: Sendable {
    public let severity: LintSeverity
    /// What the rule checks, as a claim that holds when it passes ("every service has a healthcheck").
    public let summary: String
    /// Whether the rule checks what abra's rule of the same id checks.
    public let modelledOnAbra: Bool
    /// The message patterns, by variant; `{name}` placeholders are filled in by the rule.
    public let messages: [(variant: String, pattern: String)]
    /// Variants that are warnings although the rule's ``severity`` is error (a form abra still
    /// reads, something only a release completes).
    public let warnings: Set<String>
    public let rationale: String

    init(
        _ severity: LintSeverity, _ summary: String, abra: Bool, messages: KeyValuePairs<String, String>,
        warnings: Set<String> = [], rationale: String
    ) {
        self.severity = severity
        self.summary = summary
        self.modelledOnAbra = abra
        self.messages = messages.map { (variant: $0.key, pattern: $0.value) }
        self.warnings = warnings
        self.rationale = rationale
    }

    /// The pattern of `variant`.
    func pattern(_ variant: String) -> String? {
        messages.first { $0.variant == variant }?.pattern
    }

    /// The severity of a finding of `variant`.
    func severity(of variant: String) -> LintSeverity {
        warnings.contains(variant) ? .warning : severity
    }
}
