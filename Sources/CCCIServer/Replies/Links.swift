import CCCICore

/// The server's public addresses of jobs, runs and their files (the links in replies and commit
/// statuses). The routes behind them are in `Routes/`.
public struct Links: Sendable, Hashable {
    /// `https://ci.example.org` (no trailing slash).
    public let base: String

    public init(base: String) {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    /// The links of the server `config` describes: its `public_url`, else its listen address.
    public init(serving config: NodeConfig) {
        self.init(base: config.serve.publicURL ?? "http://\(config.serve.listen)")
    }

    public func job(_ id: Int64) -> String { "\(base)/jobs/\(id)" }
    public func run(_ id: String) -> String { "\(base)/runs/\(id)" }
    public func log(_ id: String) -> String { "\(base)/runs/\(id)/log" }
    public func junit(_ id: String) -> String { "\(base)/runs/\(id)/junit.xml" }
    public func screenshot(_ id: String) -> String { "\(base)/runs/\(id)/screenshot" }
}
