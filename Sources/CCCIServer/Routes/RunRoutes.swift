import CCCICore
import CCCIStore
import Foundation
import Hummingbird

/// Jobs and runs' files: `GET /jobs/{id}` (a job as JSON), `/runs/{id}/results.json`,
/// `/runs/{id}/log`, `/runs/{id}/junit.xml`, `/runs/{id}/screenshot` — the links in replies and
/// on the run page (`/runs/{id}` itself is the dashboard's). Every file comes through
/// ``RunArtifacts``, by run id and name: never a path a request could steer.
struct RunRoutes {
    let store: any NodeStore
    let artifacts: any RunArtifacts
    let links: Links

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/jobs/:id") { _, context -> Response in
            guard let id = context.parameters.get("id").flatMap(Int64.init), let job = try await store.job(id) else {
                return .text(.notFound, "no such job")
            }
            return .json(try JSONCoding.prettyEncoder.encode(JobView(job, links: links)))
        }
        router.get("/runs/:id/results.json") { _, context -> Response in
            guard let id = await run(context.parameters.get("id")) else { return .text(.notFound, "no such run") }
            guard let data = await artifacts.read("results.json", of: id) else {
                return .text(.accepted, "run \(id) has not finished yet")
            }
            return .json(data)
        }
        router.get("/runs/:id/log") { _, context -> Response in
            guard let id = await run(context.parameters.get("id")) else { return .text(.notFound, "no such run") }
            guard let data = await artifacts.log(of: id, from: 0) else {
                return .text(.notFound, "run \(id) has no log yet")
            }
            return .body(.ok, data, type: "text/plain; charset=utf-8")
        }
        router.get("/runs/:id/junit.xml") { _, context -> Response in
            guard let id = await run(context.parameters.get("id")),
                let data = await artifacts.read("junit.xml", of: id)
            else { return .text(.notFound, "no JUnit report for this run") }
            return .body(.ok, data, type: "application/xml")
        }
        router.get("/runs/:id/screenshot") { _, context -> Response in
            guard let id = await run(context.parameters.get("id")),
                let document = await artifacts.read("results.json", of: id),
                let results = try? JSONCoding.decoder.decode(RunResults.self, from: document),
                let relative = results.artifacts.screenshot, let data = await artifacts.read(relative, of: id)
            else { return .text(.notFound, "no screenshot for this run") }
            return .body(.ok, data, type: relative.hasSuffix(".jpg") ? "image/jpeg" : "image/png")
        }
    }

    /// `id`, when it names a run with files here.
    func run(_ id: String?) async -> String? {
        guard let id, await artifacts.hasRun(id) else { return nil }
        return id
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
