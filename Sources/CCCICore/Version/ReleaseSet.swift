/// One git tag of a recipe repository as cc-ci sees it.
public struct RecipeTag: Hashable, Sendable, Codable {
    /// The tag name (`1.2.0+1.31.1`).
    public let name: String
    /// The commit the tag points at (peeled for annotated tags).
    public let commit: String
    /// Whether the tag is annotated (`git tag -a`); only annotated tags are releases.
    public let annotated: Bool

    public init(name: String, commit: String, annotated: Bool) {
        self.name = name
        self.commit = commit
        self.annotated = annotated
    }

    /// The version the tag names, when it names one.
    public var version: RecipeVersion? { RecipeVersion(name) }
}

/// The releases of a recipe: its annotated version tags, oldest → newest, plus the tags that
/// look like versions but are not trusted as releases (lightweight) and the tags that are not
/// versions at all.
public struct ReleaseSet: Sendable {
    /// A release: an annotated tag whose name parses as a recipe version.
    public struct Release: Hashable, Sendable {
        public let version: RecipeVersion
        public let tag: RecipeTag
    }

    /// Annotated version tags, oldest → newest.
    public let releases: [Release]
    /// Version-shaped lightweight tags: reported, never trusted as releases.
    public let lightweight: [RecipeTag]
    /// Tags that do not parse as a recipe version (`latest`, `wip`, …).
    public let other: [RecipeTag]

    public init(tags: [RecipeTag]) {
        var releases: [Release] = []
        var lightweight: [RecipeTag] = []
        var other: [RecipeTag] = []
        for tag in tags {
            guard let version = tag.version else {
                other.append(tag)
                continue
            }
            if tag.annotated {
                releases.append(Release(version: version, tag: tag))
            } else {
                lightweight.append(tag)
            }
        }
        self.releases = releases.sorted { $0.version < $1.version }
        self.lightweight = lightweight.sorted { ($0.version!, $0.name) < ($1.version!, $1.name) }
        self.other = other.sorted { $0.name < $1.name }
    }

    /// The newest release.
    public var latest: Release? { releases.last }

    /// The newest release strictly older than `version`.
    public func previous(before version: RecipeVersion) -> Release? {
        releases.last { $0.version < version }
    }

    /// The release whose version equals `version`.
    public func release(_ version: RecipeVersion) -> Release? {
        releases.first { $0.version == version }
    }

    /// The releases whose tag points at `commit` (a commit can carry several tags).
    public func releases(at commit: String) -> [Release] {
        releases.filter { $0.tag.commit == commit || (commit.count >= 7 && $0.tag.commit.hasPrefix(commit)) }
    }

    /// Whether `commit` is a release (an annotated version tag points at it).
    public func isRelease(commit: String) -> Bool {
        !releases(at: commit).isEmpty
    }

    /// The base release an upgrade test starts from for a head at `headVersion`:
    /// the newest release older than the head; when the head *is* a release (its version equals
    /// a release's), that release's predecessor — one step back. `nil` when there is none.
    public func upgradeBase(forHead headVersion: RecipeVersion?) -> Release? {
        guard let headVersion else { return latest }
        return previous(before: headVersion)
    }

    /// The minor line of a version: `1.2` of `1.2.3+4.5.6`; a legacy version is a line of its own.
    public static func line(of version: RecipeVersion) -> String {
        if let semver = version.semver { return "\(semver.major).\(semver.minor)" }
        return version.raw
    }

    /// The base releases of `upgrade_from` for a head at `headVersion`, newest first, each once:
    /// `previous` is ``upgradeBase(forHead:)``; `all-supported` every release older than the head
    /// in its newest `supportedLines` minor lines; a version names that release. Empty when none
    /// applies (no release older than the head); throws for a version that is no release.
    public func upgradeBases(
        forHead headVersion: RecipeVersion?, from choices: [UpgradeBaseChoice], supportedLines: Int
    ) throws(UnknownRelease) -> [Release] {
        var bases: [Release] = []
        for choice in choices {
            switch choice {
            case .previous:
                if let base = upgradeBase(forHead: headVersion) { bases.append(base) }
            case .allSupported:
                let older = releases.filter { release in headVersion.map { release.version < $0 } ?? true }
                var lines: [String] = []
                for release in older.reversed() where !lines.contains(Self.line(of: release.version)) {
                    lines.append(Self.line(of: release.version))
                }
                let kept = Set(lines.prefix(max(supportedLines, 1)))
                bases += older.filter { kept.contains(Self.line(of: $0.version)) }
            case .version(let version):
                guard let release = release(version) else {
                    throw UnknownRelease(version: version, known: releases.map(\.version.raw))
                }
                bases.append(release)
            }
        }
        var seen = Set<RecipeVersion>()
        return bases.sorted { $0.version > $1.version }.filter { seen.insert($0.version).inserted }
    }
}

/// An `upgrade_from` version that is not a release of the recipe.
public struct UnknownRelease: Error, Sendable, CustomStringConvertible {
    public let version: RecipeVersion
    public let known: [String]

    public var description: String {
        "\(version.raw) is not a release (annotated version tag) of the recipe (releases: "
            + "\(known.isEmpty ? "none" : known.joined(separator: ", ")))"
    }
}
