import CCCIAPI
import CCCICore
import CCCIStore
import Foundation
import OpenAPIRuntime

/// The JSON API `/api/v1/…` (SPEC F-DASH): the generated ``APIProtocol`` of `openapi.yaml`
/// implemented over the store. Every response is a generated type, so what the server sends is
/// what the document describes; parameters the types cannot check (a recipe name's pattern,
/// the limit's range) are checked here and answered with 400.
struct APIHandler: APIProtocol {
    let store: any NodeStore
    let artifacts: any RunArtifacts

    func listRecipes(_ input: Operations.ListRecipes.Input) async throws -> Operations.ListRecipes.Output {
        let recipes = try await store.recipeMatrix().map { status in
            Components.Schemas.RecipeStatus(
                recipe: status.recipe, level: status.latest.level, outcome: Self.outcome(status.latest.outcome),
                lastRunId: status.latest.runID, lastRunAt: status.latest.startedAt,
                tiers: Self.verdicts(status.latest.tiers), trend: status.trend)
        }
        return .ok(.init(body: .json(.init(recipes: recipes))))
    }

    func listRuns(_ input: Operations.ListRuns.Input) async throws -> Operations.ListRuns.Output {
        let limit = input.query.limit ?? 50
        guard (1...1000).contains(limit) else {
            return .badRequest(.init(body: .json(.init(error: "limit must be between 1 and 1000, not \(limit)"))))
        }
        if let recipe = input.query.recipe, let problem = RecipeName.problem(recipe) {
            return .badRequest(.init(body: .json(.init(error: problem))))
        }
        let runs = try await store.runs(recipe: input.query.recipe, limit: limit).map { run in
            Components.Schemas.RunSummary(
                runId: run.runID, recipe: run.recipe, headCommit: run.headCommit, headVersion: run.headVersion,
                outcome: Self.outcome(run.outcome), exitCode: run.exitCode, level: run.level, startedAt: run.startedAt,
                durationS: run.durationSeconds, tiers: Self.verdicts(run.tiers))
        }
        return .ok(.init(body: .json(.init(runs: runs))))
    }

    func getRun(_ input: Operations.GetRun.Input) async throws -> Operations.GetRun.Output {
        let id = input.path.id
        guard RunID.isValid(id) else { return .notFound(.init(body: .json(.init(error: "that is not a run id")))) }
        guard let document = try await artifacts.resultsDocument(id, history: store) else {
            return .notFound(.init(body: .json(.init(error: "no finished run \(id)"))))
        }
        // The document as the schema types it (the full schema is schemas/results.schema.json).
        let results = try JSONCoding.decoder.decode(Components.Schemas.RunResults.self, from: document)
        return .ok(.init(body: .json(results)))
    }

    func getQueue(_ input: Operations.GetQueue.Input) async throws -> Operations.GetQueue.Output {
        let limit = input.query.limit ?? 100
        let offset = input.query.offset ?? 0
        guard (1...1000).contains(limit) else {
            return .badRequest(.init(body: .json(.init(error: "limit must be between 1 and 1000, not \(limit)"))))
        }
        guard (0...1_000_000_000).contains(offset) else {
            return .badRequest(
                .init(body: .json(.init(error: "offset must be between 0 and 1000000000, not \(offset)"))))
        }
        let running = try await store.jobs(in: [.running]).map(Self.job)
        let total = try await store.jobCount(in: .queued)
        let queued = try await store.jobs(in: [.queued], limit: limit, offset: offset).map(Self.job)
        return .ok(
            .init(body: .json(.init(running: running, queued: queued, totalQueued: total, offset: offset))))
    }

    static func outcome(_ outcome: RunOutcome) -> Components.Schemas.Outcome {
        Components.Schemas.Outcome(rawValue: outcome.rawValue) ?? .error
    }

    static func verdicts(_ tiers: [String: TierStatus]) -> Components.Schemas.TierVerdicts {
        .init(
            additionalProperties: tiers.compactMapValues { Components.Schemas.TierStatus(rawValue: $0.rawValue) })
    }

    static func job(_ job: Job) -> Components.Schemas.Job {
        Components.Schemas.Job(
            id: Int(job.number), recipe: job.recipe, repository: job.repository, pr: job.pr, headSha: job.headSHA,
            stages: job.stages, requester: job.requester,
            state: Components.Schemas.Job.StatePayload(rawValue: job.state.rawValue) ?? .queued, attempt: job.attempt,
            queuedAt: job.queuedAt, startedAt: job.startedAt, runId: job.runID)
    }
}
