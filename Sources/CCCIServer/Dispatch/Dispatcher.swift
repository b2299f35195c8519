import CCCIStore

/// A CI engine `ccci serve` hands its jobs to (SPEC F-ENGINE): the engine picks a node, and its
/// step there runs `ccci run … --job-id J --store URL`, which takes the job from the shared store.
public protocol Dispatcher: Sendable {
    /// The engine's name, as `[dispatch] engine` spells it.
    var name: String { get }
    /// Hands `job` to the engine — to run on `node` when one is named (a quick run goes to a
    /// node that holds the recipe's warm canonical), else on any — and returns the engine's
    /// handle for it (kept as the job's ``Job/dispatchRef``, for ``cancel(_:reason:)``).
    func dispatch(_ job: Job, on node: String?) async throws -> String
    /// Asks the engine to drop `job`: not started, it never starts; running, its step is
    /// stopped — `ccci run` gets SIGTERM (or its parent-death signal), tears down and records the
    /// job `cancelled` with the job's ``Job/cancelReason``.
    func cancel(_ job: Job, reason: String) async throws
}

/// Why an engine did not do what it was asked, in its own words.
public struct DispatchError: Error, CustomStringConvertible {
    public let engine: String
    public let operation: String
    public let reason: String

    public var description: String { "\(engine): \(operation): \(reason)" }
}
