import CCCICore
import CCCIGit
import Foundation

/// `ccci lint` and the lint tier: a recipe checkout in, findings out.
///
/// ```swift
/// let report = try await RecipeLinter.lint(checkout: checkoutURL)   // reads files and tags
/// report.passed        // no errors: the tier passes (warnings are reported, not failed on)
/// report.findings      // rule, severity, file, line, message — in a stable order
/// ```
///
/// ``lint(_:)`` is the pure part: it takes a ``RecipeSnapshot`` and runs every rule of
/// ``LintRule`` over it; nothing it reads comes from anywhere else.
public enum RecipeLinter {
    /// Reads the checkout at `root` (files, and tags when it is a git repository) and lints it.
    /// Throws only when `root` is not a recipe at all (no directory, no compose file).
    public static func lint(checkout root: URL, git: any GitClient = Git()) async throws(LintError) -> LintReport {
        lint(try await RecipeSnapshot.read(checkout: root, git: git))
    }

    /// Runs every rule over `snapshot`. Never throws and never crashes, whatever the files say.
    public static func lint(_ snapshot: RecipeSnapshot) -> LintReport {
        let recipe = LintContext(snapshot)
        var findings: [LintFinding] = []
        var skipped: [LintReport.Skipped] = []
        for rule in LintRule.allCases {
            // After a file the merge needs does not read, only what can still be known is said.
            if let reason = recipe.mergeUnavailable, rule.readsMergedProject {
                skipped.append(LintReport.Skipped(rule: rule, reason: reason))
                continue
            }
            switch rule.check(recipe) {
            case .findings(let found): findings += found
            case .skipped(let reason): skipped.append(LintReport.Skipped(rule: rule, reason: reason))
            }
        }
        return LintReport(recipe: snapshot.name, findings: findings, skipped: skipped)
    }
}

extension LintRule {
    /// Whether the rule reads the merged project (every file a deploy merges), and so cannot run
    /// when one of those files does not read.
    var readsMergedProject: Bool {
        switch self {
        case .healthcheck, .imageTag, .stableTag, .semverTag, .appService, .traefikEnabled, .image,
            .configVersions, .secretNameLength, .secretVersions, .declaredReferences, .fileReferences,
            .traefikRoute, .proxyNetwork, .versionLabel, .versionLabelRelease, .backupVolumes, .backupEffective,
            .readmeAgrees:
            return true
        case .composeVersion, .hasRelease, .readmeMetadata, .envSample, .annotatedTags, .composeValid,
            .composeFileList, .envSampleReadable, .envComplete, .swarmIgnoredKeys, .plaintextCredentials,
            .serviceLabels, .releaseTagForm:
            return false
        }
    }
}

/// What one rule made of a recipe.
enum RuleOutcome {
    case findings([LintFinding])
    /// The rule could not be checked (its input is absent: tags of a checkout that is no repository).
    case skipped(String)
}

extension LintRule {
    /// Runs the rule (an exhaustive switch: no rule in the table lacks its check).
    func check(_ recipe: LintContext) -> RuleOutcome {
        switch self {
        case .composeVersion: return .findings(ComposeRules.version(recipe))
        case .healthcheck: return .findings(ServiceRules.healthcheck(recipe))
        case .imageTag, .stableTag, .semverTag: return .findings(ServiceRules.imageTags(self, recipe))
        case .hasRelease: return ReleaseRules.hasRelease(recipe)
        case .readmeMetadata: return .findings(ReadmeRules.metadata(recipe))
        case .envSample: return .findings(EnvRules.present(recipe))
        case .appService: return .findings(ServiceRules.appService(recipe))
        case .traefikEnabled: return LabelRules.traefikEnabled(recipe)
        case .image: return .findings(ServiceRules.image(recipe))
        case .configVersions: return .findings(EnvRules.configVersions(recipe))
        case .annotatedTags: return ReleaseRules.annotated(recipe)
        case .secretNameLength: return .findings(EnvRules.secretNameLength(recipe))
        case .composeValid: return .findings(ComposeRules.valid(recipe))
        case .composeFileList: return .findings(EnvRules.composeFileList(recipe))
        case .envSampleReadable: return .findings(EnvRules.readable(recipe))
        case .envComplete: return .findings(EnvRules.complete(recipe))
        case .secretVersions: return .findings(EnvRules.secretVersions(recipe))
        case .declaredReferences: return .findings(ComposeRules.declaredReferences(recipe))
        case .fileReferences: return .findings(ComposeRules.fileReferences(recipe))
        case .swarmIgnoredKeys: return .findings(ComposeRules.swarmIgnoredKeys(recipe))
        case .plaintextCredentials: return .findings(ComposeRules.plaintextCredentials(recipe))
        case .traefikRoute: return .findings(LabelRules.traefikRoute(recipe))
        case .proxyNetwork: return .findings(LabelRules.proxyNetwork(recipe))
        case .serviceLabels: return .findings(ComposeRules.serviceLabels(recipe))
        case .versionLabel: return .findings(LabelRules.versionLabelPresent(recipe))
        case .versionLabelRelease: return LabelRules.versionLabelRelease(recipe)
        case .backupVolumes: return .findings(LabelRules.backupVolumes(recipe))
        case .backupEffective: return .findings(LabelRules.backupEffective(recipe))
        case .releaseTagForm: return ReleaseRules.tagForm(recipe)
        case .readmeAgrees: return .findings(ReadmeRules.agrees(recipe))
        }
    }
}
