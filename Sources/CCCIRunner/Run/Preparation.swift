import CCCICore
import CCCIDeploy
import CCCIGit
import CCCIStore
import CCCISystem
import Foundation

/// Everything a run reads before anything is deployed: the code under test, its releases, its
/// customization, its tests, the domains of its apps. A problem here is the recipe's or the
/// user's (exit 2), except a head that cannot be deployed at all — that is its install failure.
struct PreparedRun: Sendable {
    let naming: AppNaming
    let head: RecipeHead
    let recipe: String
    /// The head app's tree (at the head) and the upgrade app's tree.
    let headTree: URL
    let upgradeTree: URL
    let packs: [(name: String, directory: URL)]
    let meta: RecipeMeta
    let tests: [CustomTest]
    let manifest: Manifest
    let headDomain: AppDomain
    let upgradeDomain: AppDomain
    /// The apps of a path run again on fresh apps (`retry_failed`).
    let retryHeadDomain: AppDomain
    let retryUpgradeDomain: AppDomain
    /// Dependency recipe → the domain its app gets in this run.
    let dependencyDomains: [String: AppDomain]
    let stateFiles: RunStateFiles
    let opState: OpState
    let deployGuard: DeployGuard
    /// Where the env keys and secrets filled in at run time came from (for the manifest).
    let inputs = RunInputs()
    /// What each app's services ran (digests, image ids).
    let images = DeployedImages()
    let probe: HTTPSProbe
    let deployTimeout: Duration
    let packComposeFiles: [URL]
    let overlays: [String]
    /// The pull request under test (0: none), part of every app's domain.
    let pr: Int
    /// The releases the upgrade tier starts from (`upgrade_from`), newest first; empty when the
    /// tier does not apply.
    let upgradeBases: [ReleaseSet.Release]
    let upgradeBaseReason: String?
    /// What would make the upgrade tier apply, when there is no base.
    let upgradeBaseGap: String?
    /// Why the code under test cannot be deployed at all (its install fails for this reason).
    let headProblem: String?
    /// The secrets the head declares (what `extra_secrets` and `pre_deploy` may give values to).
    let headSecrets: [String]

    /// The first (newest) upgrade base: the one base of a one-base run.
    var upgradeBase: ReleaseSet.Release? { upgradeBases.first }

    /// The app of `role` for `attempt` (2: its path run again on fresh apps); for the upgrade,
    /// the app of base `base` (an index into ``upgradeBases``; the first base's app is the upgrade
    /// app of a one-base run).
    func domain(_ role: AppRole, attempt: Int, base: Int = 0) -> AppDomain {
        if role == .upgrade, base > 0, upgradeBases.indices.contains(base) {
            return naming.runAppDomain(
                recipe: recipe, pr: pr, ref: head.commit, role: .upgrade, attempt: attempt,
                base: upgradeBases[base].version.raw)
        }
        return switch (role, attempt > 1) {
        case (.head, false): headDomain
        case (.upgrade, false): upgradeDomain
        case (.head, true): retryHeadDomain
        case (.upgrade, true): retryUpgradeDomain
        }
    }

    /// The upgrade app's tree for `attempt` and base `base`.
    func upgradeTree(attempt: Int, base: Int = 0) -> URL {
        let suffix = (attempt > 1 ? "-attempt\(attempt)" : "") + (base > 0 ? "-base\(base + 1)" : "")
        return suffix.isEmpty
            ? upgradeTree
            : upgradeTree.deletingLastPathComponent().appendingPathComponent(upgradeTree.lastPathComponent + suffix)
    }
}

/// The preparation step.
struct Preparation {
    let context: RunContext

    var options: RunOptions { context.options }
    var config: NodeConfig { context.config }
    var git: any GitClient { context.git }
    var driver: any AppDriver { context.driver }
    var runID: String { context.runID }
    var workspace: URL { context.workspace }
    var runDirectory: URL { context.runDirectory }

    func prepare() async throws -> PreparedRun {
        let journal = context.journal
        let naming: AppNaming
        do {
            naming = try config.naming()
        } catch {
            throw RunSetupError.recipe(error.description)
        }
        let source = try RecipeSource.resolve(options.recipe, config: config)
        for secret in source.credentials?.secrets ?? [] { context.secrets.register(secret) }
        journal.line("run \(runID): recipe \(source.name) from \(source.location)")
        let checkout = RecipeCheckout(git: git, source: source)
        let headTree = workspace.appendingPathComponent("head/\(source.name)")
        let upgradeTree = workspace.appendingPathComponent("upgrade/\(source.name)")
        do {
            try await checkout.clone(to: headTree, commit: nil)
        } catch {
            throw RunSetupError.recipe("cannot clone recipe \(source.name) from \(source.location): \(error)")
        }
        let commit = try await checkout.headCommit(ref: options.ref, pr: options.pr, in: headTree)
        try await git.checkout(commit, in: headTree, force: true)
        if let local = source.localPath, options.ref == nil, (try? await git.isDirty(local)) == true {
            journal.line(
                "note: \(local.path) has uncommitted changes; the run tests its HEAD commit \(commit.prefix(8))")
        }
        let head = try await checkout.readHead(commit: commit, clone: headTree, naming: naming)

        // Customization: the recipe's own pack, then the CI's pack (which overrides it key by key).
        // The recipe's pack comes from the code under test: it must be a directory of the recipe.
        guard ContainedPath.isInside(headTree.appendingPathComponent("tests"), root: headTree) else {
            throw RunSetupError.recipe(
                "recipe \(source.name) at \(commit.prefix(8)): tests/ is a symlink out of the recipe — a test pack "
                    + "must be a directory of the recipe")
        }
        let packs: [(name: String, directory: URL)] = [
            ("recipe", headTree.appendingPathComponent("tests")),
            ("ci", config.packsDirectory.appendingPathComponent(source.name)),
        ]
        let meta: RecipeMeta
        do {
            meta = try MetaLoader.load(packDirectories: packs.map(\.directory))
        } catch {
            throw RunSetupError.meta(error)
        }
        let tests = TestDiscovery.discover(packs: packs)
        var packComposeFiles: [URL] = []
        for pack in packs {
            do {
                let file = try ContainedPath.resolve(
                    meta.composeOverlay, in: pack.directory, what: "compose_overlay of the \(pack.name) pack")
                if FileManager.default.fileExists(atPath: file.path) { packComposeFiles.append(file) }
            } catch {
                throw RunSetupError.recipe(error.description)
            }
        }
        try DependencyCheck(config: config).check(dependencies: meta.dependencies, of: source.name)
        try DependencyCheck(config: config).checkCycles(of: source.name, dependencies: meta.dependencies)
        let overlays = packComposeFiles.map { "\($0.path) (pack)" } + driver.generatedOverlays
        let manifest = Manifest(
            meta: meta, overlays: overlays, customTests: tests.map(\.displayName), envOverrides: meta.extraEnv)

        let headDomain = naming.runAppDomain(recipe: source.name, pr: options.pr, ref: commit, role: .head)
        let upgradeDomain = naming.runAppDomain(recipe: source.name, pr: options.pr, ref: commit, role: .upgrade)
        let retryHeadDomain = naming.runAppDomain(
            recipe: source.name, pr: options.pr, ref: commit, role: .head, attempt: 2)
        let retryUpgradeDomain = naming.runAppDomain(
            recipe: source.name, pr: options.pr, ref: commit, role: .upgrade, attempt: 2)
        // Whether the code under test can be deployed at all. When it cannot (a pull request that
        // breaks its own compose.yml), that is the install tier's failure, recorded like any other.
        var headProblem: String?
        var headSecrets: [String] = []
        do {
            headSecrets = try ResolvedAppEnv.load(
                recipeRoot: headTree, recipe: source.name, domain: headDomain.name, overrides: meta.extraEnv,
                extraComposeFiles: packComposeFiles
            ).secrets.map(\.name).sorted()
        } catch {
            headProblem = "recipe \(source.name) at \(commit.prefix(8)) cannot be deployed: \(error)"
        }
        if headProblem == nil, let unknown = meta.extraSecrets.keys.sorted().first(where: { !headSecrets.contains($0) })
        {
            throw RunSetupError.recipe(
                "`extra_secrets.\(unknown)`: \(source.name) declares no secret `\(unknown)` (its secrets: "
                    + "\(headSecrets.isEmpty ? "none" : headSecrets.joined(separator: ", "))) — name a secret of its compose files"
            )
        }

        var upgradeBases: [ReleaseSet.Release] = []
        var upgradeBaseReason: String?
        var upgradeBaseGap: String?
        do {
            upgradeBases = try head.releases.upgradeBases(
                forHead: head.version, from: meta.upgradeFrom, supportedLines: meta.supportedLines)
        } catch {
            let key = meta.upgradeBaseVersion != nil ? "upgrade_base_version" : "upgrade_from"
            throw RunSetupError.recipe(
                "\(key) \(error.version.raw) is not a release of \(source.name) (releases: "
                    + "\(error.known.isEmpty ? "none" : error.known.joined(separator: ", "))) — name a release tag, "
                    + "or \"previous\"")
        }
        if upgradeBases.isEmpty {
            upgradeBaseReason =
                head.releases.releases.isEmpty
                ? "the recipe has no release (annotated version tag) to upgrade from"
                : "no release is older than the head \(head.version?.raw ?? "")"
            upgradeBaseGap =
                head.releases.releases.isEmpty ? NACoverage.Gap.noRelease : NACoverage.Gap.noOlderRelease
        }

        let stateDirectory = runDirectory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let stateFiles = RunStateFiles(directory: stateDirectory, runID: runID)
        let probe: HTTPSProbe =
            config.ingress == .lab
            ? HTTPSProbe(target: .lab(address: "127.0.0.1", caCertificate: config.labCACertificate))
            : HTTPSProbe(target: .production)
        let prepared = PreparedRun(
            naming: naming, head: head, recipe: source.name, headTree: headTree,
            upgradeTree: upgradeTree, packs: packs, meta: meta, tests: tests, manifest: manifest,
            headDomain: headDomain, upgradeDomain: upgradeDomain, retryHeadDomain: retryHeadDomain,
            retryUpgradeDomain: retryUpgradeDomain,
            dependencyDomains: Dictionary(
                meta.dependencies.map { name in
                    (name, naming.runAppDomain(recipe: name, pr: options.pr, ref: "\(commit)|dep:\(source.name)"))
                }, uniquingKeysWith: { first, _ in first }),
            stateFiles: stateFiles,
            opState: try OpState(file: stateFiles.opState), deployGuard: try DeployGuard(file: stateFiles.deployCount),
            probe: probe, deployTimeout: options.deployTimeout ?? meta.deployTimeout,
            packComposeFiles: packComposeFiles, overlays: overlays, pr: options.pr, upgradeBases: upgradeBases,
            upgradeBaseReason: upgradeBaseReason, upgradeBaseGap: upgradeBaseGap, headProblem: headProblem,
            headSecrets: headSecrets)
        try checkNotKept(prepared)
        try AtomicFile.write("{}\n", to: stateFiles.deps, permissions: 0o600)
        await printHeader(prepared)
        return prepared
    }

    func printHeader(_ prepared: PreparedRun) async {
        let reporter = context.reporter
        let head = prepared.head
        var lines = [
            "cc-ci run \(runID)",
            "  recipe   \(prepared.recipe)  \(head.source.location) @ \(head.commit.prefix(12))\(options.pr > 0 ? " (PR #\(options.pr))" : "")",
            "  head     \(head.version?.raw ?? "unversioned")\(head.isRelease ? " (release)" : " (untagged)")"
                + "   upgrade \(prepared.upgradeBases.count > 1 ? "bases" : "base") "
                + "\(prepared.upgradeBases.isEmpty ? "none" : prepared.upgradeBases.map(\.version.raw).joined(separator: ", "))",
            "  apps     \(prepared.headDomain) (head)"
                + (options.stages.contains(.upgrade)
                    ? prepared.upgradeBases.indices.dropFirst().reduce(", \(prepared.upgradeDomain) (upgrade)") {
                        $0 + ", \(prepared.domain(.upgrade, attempt: 1, base: $1)) (upgrade from "
                            + "\(prepared.upgradeBases[$1].version.raw))"
                    } : ""),
            "  stages   \(options.stages.map(\.rawValue).joined(separator: ", "))   driver \(driver.name)   deploy timeout \(DurationText.format(prepared.deployTimeout))",
            "  run dir  \(runDirectory.path)",
        ]
        lines += prepared.manifest.renderLines().map { "  " + $0 }
        lines.append("")
        await reporter.print(lines)
        for line in lines { context.journal.line(line) }
    }
}

extension Preparation {
    /// An app kept for inspection (`--keep-on-failure`) is never silently destroyed by a rerun of
    /// the same recipe, PR and ref (which would create the same domains): the run refuses and
    /// names the command that removes it.
    func checkNotKept(_ prepared: PreparedRun) throws(RunSetupError) {
        let domains =
            [prepared.headDomain, prepared.upgradeDomain]
            + prepared.upgradeBases.indices.dropFirst().map { prepared.domain(.upgrade, attempt: 1, base: $0) }
            + prepared.dependencyDomains.values.sorted()
        for domain in domains {
            guard let until = driver.keptUntil(domain), until > Date() else { continue }
            throw .kept(domain: domain.name)
        }
    }
}
