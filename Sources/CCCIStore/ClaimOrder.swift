/// The order a node claims queued jobs in — the oldest whose pull request has no running job,
/// preferring recipes with fewer running jobs — as a few ordered groups of recipes, worked out
/// from the running jobs alone (at most every node's capacity of them). A store then asks for the
/// oldest claimable job of each group in turn, one index walk along the queue that stops at the
/// first match, instead of ranking the whole queue on every claim (which made claiming N jobs
/// cost N² row visits).
struct ClaimOrder {
    /// Which recipes a group holds.
    enum Group {
        /// Recipes with no running job: every recipe but these.
        case idle(excluding: [String])
        /// Recipes with as many running jobs as each other.
        case busy([String])
    }

    /// The groups, fewest running jobs first.
    let groups: [Group]

    /// The order given the recipe of each running job.
    init(runningRecipes: [String]) {
        var counts: [String: Int] = [:]
        for recipe in runningRecipes { counts[recipe, default: 0] += 1 }
        let byCount = Dictionary(grouping: counts.keys) { counts[$0] ?? 0 }
        groups =
            [.idle(excluding: counts.keys.sorted())]
            + byCount.keys.sorted().map { .busy(byCount[$0, default: []].sorted()) }
    }
}
