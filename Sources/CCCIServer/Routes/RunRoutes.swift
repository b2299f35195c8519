import CCCICore
import CCCIStore
import Foundation
import Hummingbird

#if canImport(Glibc)
import Glibc
#endif

/// Jobs and runs' files: `GET /jobs/{id}` (a job as JSON), `/runs/{id}/results.json`,
/// `/runs/{id}/log`, `/runs/{id}/junit.xml`, `/runs/{id}/screenshot` — the links in replies and
/// on the run page (`/runs/{id}` itself is the dashboard's). Every file comes through
/// ``RunFiles``: a run id is checked before it names a directory, and a file is served only when
/// its real path lies inside that run's directory and it is a regular file.
struct RunRoutes {
    let store: SQLiteStore
    let config: NodeConfig
    let links: Links

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/jobs/:id") { _, context -> Response in
            guard let id = context.parameters.get("id").flatMap(Int64.init), let job = try await store.job(id) else {
                return .text(.notFound, "no such job")
            }
            return .json(try JSONCoding.prettyEncoder.encode(JobView(job, links: links)))
        }
        router.get("/runs/:id/results.json") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")) else {
                return .text(.notFound, "no such run")
            }
            guard let data = RunFiles.read("results.json", in: directory) else {
                return .text(.accepted, "run \(directory.lastPathComponent) has not finished yet")
            }
            return .json(data)
        }
        router.get("/runs/:id/log") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")) else {
                return .text(.notFound, "no such run")
            }
            guard let log = RunFiles.log(in: directory), let data = RunFiles.read(log.lastPathComponent, in: directory)
            else {
                return .text(.notFound, "run \(directory.lastPathComponent) has no log yet")
            }
            return .body(.ok, data, type: "text/plain; charset=utf-8")
        }
        router.get("/runs/:id/junit.xml") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")),
                let data = RunFiles.read("junit.xml", in: directory)
            else { return .text(.notFound, "no JUnit report for this run") }
            return .body(.ok, data, type: "application/xml")
        }
        router.get("/runs/:id/screenshot") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")),
                let document = RunFiles.read("results.json", in: directory),
                let results = try? JSONCoding.decoder.decode(RunResults.self, from: document),
                let relative = results.artifacts.screenshot, let data = RunFiles.read(relative, in: directory)
            else { return .text(.notFound, "no screenshot for this run") }
            return .body(.ok, data, type: relative.hasSuffix(".jpg") ? "image/jpeg" : "image/png")
        }
    }

    func runDirectory(_ id: String?) -> URL? { RunFiles.directory(id, config: config) }
}

/// A run's files as the server serves them — the one way every route, page and stream reaches
/// them. A run directory can hold what a run's own processes wrote (a recipe's tests run there),
/// so nothing is trusted: a run id is checked before it names a directory, and a path is served
/// only when its real path (symlinks followed) lies inside the run's real directory and names a
/// regular file (not a FIFO a read would block on, not a device).
enum RunFiles {
    /// The directory of run `id`, when `id` is a run id and the directory exists inside the runs
    /// directory.
    static func directory(_ id: String?, config: NodeConfig) -> URL? {
        guard let id, RunID.isValid(id),
            let directory = try? ContainedPath.resolve(id, in: config.runsDirectory, what: "run directory")
        else { return nil }
        var info = stat()
        guard stat(directory.path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
        return directory
    }

    /// `relative` inside run directory `directory`, when it is a regular file there.
    static func file(_ relative: String, in directory: URL) -> URL? {
        guard let file = try? ContainedPath.resolve(relative, in: directory, what: "run file") else { return nil }
        var info = stat()
        guard stat(file.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return file
    }

    /// The bytes of `relative` inside `directory` (``file(_:in:)``).
    static func read(_ relative: String, in directory: URL) -> Data? {
        file(relative, in: directory).flatMap { try? Data(contentsOf: $0) }
    }

    /// The log of the run in `directory`: its own `run.log`, else the worker's `job.log` (a run
    /// that failed to start).
    static func log(in directory: URL) -> URL? {
        ["run.log", "job.log"].lazy.compactMap { file($0, in: directory) }.first
    }
}

extension NodeConfig {
    /// The results document of finished run `id`: its run directory's `results.json`, else the
    /// store's copy (run directories are collected long before history is). `nil`: not finished.
    func resultsDocument(_ id: String, store: SQLiteStore) async throws -> Data? {
        if let directory = RunFiles.directory(id, config: self), let data = RunFiles.read("results.json", in: directory)
        {
            return data
        }
        return try await store.results(runID: id).map { try $0.encoded() }
    }
}

/// A job as `GET /jobs/{id}` shows it.
struct JobView: Encodable {
    let id: Int64
    let recipe: String
    let repository: String
    let pr: Int
    let headSHA: String
    let stages: String?
    let requester: String
    let state: String
    let attempt: Int
    let queuedAt: Date
    let startedAt: Date?
    let finishedAt: Date?
    let runID: String?
    let runURL: String?
    let exitCode: Int?
    let level: Int?
    let note: String?
    let replyError: String?

    init(_ job: Job, links: Links) {
        id = job.number
        recipe = job.recipe
        repository = job.repository
        pr = job.pr
        headSHA = job.headSHA
        stages = job.stages
        requester = job.requester
        state = job.state.rawValue
        attempt = job.attempt
        queuedAt = job.queuedAt
        startedAt = job.startedAt
        finishedAt = job.finishedAt
        runID = job.runID
        runURL = job.runID.map { links.run($0) }
        exitCode = job.exitCode
        level = job.level
        note = job.note
        replyError = job.replyError
    }

    enum CodingKeys: String, CodingKey {
        case id, recipe, repository, pr, stages, requester, state, attempt, level, note
        case headSHA = "head_sha"
        case queuedAt = "queued_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case runID = "run_id"
        case runURL = "run_url"
        case exitCode = "exit_code"
        case replyError = "reply_error"
    }
}
