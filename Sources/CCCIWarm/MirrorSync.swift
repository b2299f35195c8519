import CCCICore
import CCCIGit
import CCCISystem
import Foundation

/// Faithful mirror sync (SPEC F-MIRROR), before the sweep fetches a recipe tested from a mirror.
///
/// Invariant: the mirror's branch becomes the upstream's and every upstream tag is the
/// upstream's; nothing else is ever pushed — only refs just fetched from the upstream. A pull
/// request on the mirror is closed only when merging it into the new branch would change
/// nothing (its merge's tree *is* the upstream branch's tree); every other one is left alone.
/// Any git failure is thrown (the sweep's `SYNC-FAILED`), never swallowed. A private upstream's
/// token is read from its file and sent per command as a header (`GitCredentials`), registered
/// for redaction; it is never written into a URL, a remote or a log.
public struct MirrorSync: Sendable {
    public let runner: ProcessRunner
    /// The node's forge, where the mirrors' pull requests are (`nil`: none configured).
    public let forge: (any Forge)?

    public init(runner: ProcessRunner = ProcessRunner(), forge: (any Forge)?) {
        self.runner = runner
        self.forge = forge
    }

    /// What a sync did.
    public struct Report: Sendable, Hashable {
        /// The mirror branch before (`nil`: it had none) and after (the upstream's).
        public let before: String?
        public let after: String
        public let tags: Int
        public let closed: [Int]
        public let leftOpen: [Int]
        /// Why pull requests were not looked at, if they were not.
        public let pullRequestsSkipped: String?

        public var summary: String {
            var parts = [
                before == after
                    ? "mirror up to date (\(after.prefix(12)))"
                    : "mirror \(before.map { String($0.prefix(12)) } ?? "empty") → \(after.prefix(12))",
                "\(tags) tag\(tags == 1 ? "" : "s")",
            ]
            if !closed.isEmpty {
                parts.append(
                    "closed no-op PR\(closed.count == 1 ? "" : "s") #\(closed.map(String.init).joined(separator: ", #"))"
                )
            }
            if !leftOpen.isEmpty { parts.append("\(leftOpen.count) PR\(leftOpen.count == 1 ? "" : "s") left open") }
            if let pullRequestsSkipped { parts.append(pullRequestsSkipped) }
            return parts.joined(separator: ", ")
        }
    }

    /// A sync that failed: the step and git's words (credentials redacted).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Makes the mirror at `mirrorURL` the upstream's, working in `workspace` (a scratch
    /// repository, removed after).
    public func sync(
        recipe: String, mirror: MirrorConfig, mirrorURL: String, secrets: SecretRegistry, workspace: URL
    ) async throws(Failure) -> Report {
        let (upstreamURL, urlCredentials) = GitCredentials.split(mirror.upstream)
        let (mirrorLocation, mirrorCredentials) = GitCredentials.split(mirrorURL)
        var upstreamCredentials = urlCredentials
        if let file = mirror.tokenFile {
            do {
                upstreamCredentials = GitCredentials(user: "ccci", secret: try SecretFile.read(file))
            } catch {
                throw Failure(description: "the upstream token file \(file) (`mirror.\(recipe).token_file`) \(error)")
            }
        }
        for credentials in [upstreamCredentials, mirrorCredentials].compactMap({ $0 }) {
            for secret in credentials.secrets { secrets.register(secret) }
        }
        let upstream = Git(runner: runner, credentials: upstreamCredentials)
        let toMirror = Git(runner: runner, credentials: mirrorCredentials)
        let branch = mirror.branch
        try? FileManager.default.removeItem(at: workspace)
        defer { try? FileManager.default.removeItem(at: workspace) }
        func step<T>(_ what: String, _ body: () async throws -> T) async throws(Failure) -> T {
            do {
                return try await body()
            } catch {
                throw Failure(description: secrets.redact("\(what) failed: \(error)"))
            }
        }
        try await step("creating the scratch repository") {
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            try await upstream.run(["init", "--quiet", "--bare"], in: workspace)
        }
        try await step("fetching \(branch) and the tags from the upstream \(GitCredentials.masked(upstreamURL))") {
            try await upstream.run(
                [
                    "fetch", "--quiet", "--no-tags", upstreamURL, "+refs/heads/\(branch):refs/upstream/\(branch)",
                    "+refs/tags/*:refs/tags/*",
                ], in: workspace)
        }
        let before = try? await toMirror.run(
            ["ls-remote", "--heads", mirrorLocation, "refs/heads/\(branch)"], in: workspace
        )
        .split(separator: "\t").first.map(String.init)
        let after = try await step("reading the upstream \(branch)") {
            try await upstream.commit(of: "refs/upstream/\(branch)", in: workspace)
        }
        // Only what was just fetched from the upstream: its branch, forced; then its tags, exactly
        // (`--prune`: a tag the upstream does not have — deleted there, or made on the mirror — goes).
        try await step("pushing the upstream \(branch) to the mirror \(GitCredentials.masked(mirrorLocation))") {
            try await toMirror.run(
                ["push", "--quiet", "--force", mirrorLocation, "refs/upstream/\(branch):refs/heads/\(branch)"],
                in: workspace)
        }
        try await step("pushing the upstream tags to the mirror \(GitCredentials.masked(mirrorLocation))") {
            try await toMirror.run(
                ["push", "--quiet", "--force", "--prune", mirrorLocation, "+refs/tags/*:refs/tags/*"], in: workspace)
        }
        let tags = (try? await upstream.run(["tag", "--list"], in: workspace))?.split(separator: "\n").count ?? 0
        guard let forge, let name = mirror.repository else {
            return Report(
                before: before, after: after, tags: tags, closed: [], leftOpen: [],
                pullRequestsSkipped: mirror.repository == nil
                    ? nil : "pull requests not looked at (no forge configured: [serve] forge_url)")
        }
        guard let repository = RepositoryRef(fullName: name) else {
            return Report(
                before: before, after: after, tags: tags, closed: [], leftOpen: [],
                pullRequestsSkipped: "pull requests not looked at ('\(name)' is not an owner/name repository)")
        }
        let open = try await step("listing the open pull requests of \(repository)") {
            try await forge.openPullRequests(in: repository)
        }
        let upstreamTree = try await step("reading the upstream tree") {
            try await upstream.run(["rev-parse", "refs/upstream/\(branch)^{tree}"], in: workspace)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var closed: [Int] = []
        var leftOpen: [Int] = []
        for pull in open.sorted(by: { $0.number < $1.number }) {
            // Only pull requests into the synced branch; one into another branch is not ours to judge.
            guard pull.baseRef == nil || pull.baseRef == branch else {
                leftOpen.append(pull.number)
                continue
            }
            // Its head, from the mirror (where the forge keeps `refs/pull/<n>/head`).
            let merged = try await step("checking pull request #\(pull.number)") { () -> String? in
                try await toMirror.run(
                    [
                        "fetch", "--quiet", "--no-tags", mirrorLocation,
                        "+refs/pull/\(pull.number)/head:refs/pr/\(pull.number)",
                    ],
                    in: workspace)
                let result = try await runner.run(
                    Command(
                        "git",
                        [
                            "-C", workspace.path, "merge-tree", "--write-tree", "refs/upstream/\(branch)",
                            "refs/pr/\(pull.number)",
                        ],
                        environment: ["LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"]))
                // Exit 1: the merge conflicts — certainly not a no-op. Anything else is git failing.
                if result.status == 1 { return nil }
                guard result.status == 0 else { throw CommandError(result: result) }
                return result.output.split(separator: "\n").first.map(String.init)
            }
            guard merged == upstreamTree else {
                leftOpen.append(pull.number)
                continue
            }
            try await step("closing pull request #\(pull.number)") {
                _ = try await forge.postComment(
                    "Closed by cc-ci's mirror sync: merging this into `\(branch)` would change nothing — its changes "
                        + "are in the upstream `\(branch)` (\(after.prefix(12))).",
                    on: pull.number, in: repository)
                try await forge.closePullRequest(pull.number, in: repository)
            }
            closed.append(pull.number)
        }
        return Report(
            before: before, after: after, tags: tags, closed: closed, leftOpen: leftOpen, pullRequestsSkipped: nil)
    }
}
