import Testing

/// Every test that touches the real lab (engine, swarm, ingress, restic, git) is nested in this
/// suite so they run one at a time: they share one swarm and one ingress. Tests create only
/// objects under names of their own and remove them; they never assume an empty swarm.
@Suite(.serialized, .timeLimit(.minutes(20)))
enum Integration {}
