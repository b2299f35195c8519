import CCCICore
import CCCIStore
import Foundation
import Hummingbird

/// Jobs and runs' files: `GET /jobs/{id}` (a job as JSON), `/runs/{id}/results.json`,
/// `/runs/{id}/log`, `/runs/{id}/junit.xml`, `/runs/{id}/screenshot` — the links in replies and
/// on the run page (`/runs/{id}` itself is the dashboard's). Run ids are checked before they name
/// a directory; files come only from that run's directory.
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
            guard let data = try? Data(contentsOf: directory.appendingPathComponent("results.json")) else {
                return .text(.accepted, "run \(directory.lastPathComponent) has not finished yet")
            }
            return .json(data)
        }
        router.get("/runs/:id/log") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")) else {
                return .text(.notFound, "no such run")
            }
            guard let log = NodeConfig.runLog(in: directory), let data = try? Data(contentsOf: log) else {
                return .text(.notFound, "run \(directory.lastPathComponent) has no log yet")
            }
            return .body(.ok, data, type: "text/plain; charset=utf-8")
        }
        router.get("/runs/:id/junit.xml") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")),
                let data = try? Data(contentsOf: directory.appendingPathComponent("junit.xml"))
            else { return .text(.notFound, "no JUnit report for this run") }
            return .body(.ok, data, type: "application/xml")
        }
        router.get("/runs/:id/screenshot") { _, context -> Response in
            guard let directory = runDirectory(context.parameters.get("id")),
                let results = try? JSONCoding.decoder.decode(
                    RunResults.self, from: Data(contentsOf: directory.appendingPathComponent("results.json"))),
                let relative = results.artifacts.screenshot
            else { return .text(.notFound, "no screenshot for this run") }
            let file = directory.appendingPathComponent(relative)
            guard ContainedPath.isInside(file, root: directory), let data = try? Data(contentsOf: file) else {
                return .text(.notFound, "no screenshot for this run")
            }
            return .body(.ok, data, type: relative.hasSuffix(".jpg") ? "image/jpeg" : "image/png")
        }
    }

    func runDirectory(_ id: String?) -> URL? { config.existingRunDirectory(id) }
}

extension NodeConfig {
    /// The directory of run `id`, when `id` is a run id and the directory exists: an id is checked
    /// before it names a path.
    func existingRunDirectory(_ id: String?) -> URL? {
        guard let id, RunID.isValid(id) else { return nil }
        let directory = runsDirectory.appendingPathComponent(id)
        return FileManager.default.fileExists(atPath: directory.path) ? directory : nil
    }

    /// The results document of finished run `id`: its run directory's `results.json`, else the
    /// store's copy (run directories are collected long before history is). `nil`: not finished.
    func resultsDocument(_ id: String, store: SQLiteStore) async throws -> Data? {
        if let directory = existingRunDirectory(id),
            let data = try? Data(contentsOf: directory.appendingPathComponent("results.json"))
        {
            return data
        }
        return try await store.results(runID: id).map { try $0.encoded() }
    }

    /// The log of the run in `directory`: its own `run.log`, else the worker's `job.log` (a run
    /// that failed to start).
    static func runLog(in directory: URL) -> URL? {
        ["run.log", "job.log"].map { directory.appendingPathComponent($0) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
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
