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
}
