/// What every hook and custom test receives (SPEC F-HOOK): the same document as JSON on stdin
/// and, for shell convenience, as `CCCI_*` environment variables.
public struct HookContext: Sendable, Hashable, Codable {
    public var recipe: String
    public var domain: String
    public var stack: String
    /// The operation the hook belongs to (`install`, `upgrade`, `backup`, `restore`, `custom`,
    /// `ready`, `verify`).
    public var op: String
    /// `https://<domain>`.
    public var baseURL: String
    /// The effective customization (every registry key, defaults included).
    public var meta: JSONValue
    /// Dependencies by recipe name.
    public var deps: [String: DependencyInfo]
    /// The run's op-state file (JSON), shared by the run's hooks and tests.
    public var opStateFile: String
    /// The run's deps file (JSON: the `deps` member of this context).
    public var depsFile: String
    public var runID: String
    public var runDirectory: String
    /// The CA certificate that verifies the app's HTTPS certificate (the lab's internal CA), if
    /// the system trust store does not.
    public var caCertificate: String?
    /// `curl --resolve` value that reaches the domain's ingress without DNS (`d:443:127.0.0.1`).
    public var resolve: String?
    /// The commit under test.
    public var headCommit: String
    /// The upgrade app's base release (op `upgrade`): with several bases (`upgrade_from`), each
    /// base's hooks get their own — the op-state file's `upgrade.base_version` is the first's.
    public var baseVersion: String?

    public init(
        recipe: String, domain: String, stack: String, op: String, baseURL: String, meta: JSONValue,
        deps: [String: DependencyInfo], opStateFile: String, depsFile: String, runID: String,
        runDirectory: String, caCertificate: String?, resolve: String?, headCommit: String
    ) {
        self.recipe = recipe
        self.domain = domain
        self.stack = stack
        self.op = op
        self.baseURL = baseURL
        self.meta = meta
        self.deps = deps
        self.opStateFile = opStateFile
        self.depsFile = depsFile
        self.runID = runID
        self.runDirectory = runDirectory
        self.caCertificate = caCertificate
        self.resolve = resolve
        self.headCommit = headCommit
    }

    enum CodingKeys: String, CodingKey {
        case recipe, domain, stack, op, meta, deps
        case baseURL = "base_url"
        case opStateFile = "op_state_file"
        case depsFile = "deps_file"
        case runID = "run_id"
        case runDirectory = "run_dir"
        case caCertificate = "ca_certificate"
        case resolve
        case headCommit = "head_commit"
        case baseVersion = "base_version"
    }

    /// The context as environment variables.
    public var environment: [String: String] {
        var environment = [
            "CCCI_RECIPE": recipe, "CCCI_DOMAIN": domain, "CCCI_STACK": stack, "CCCI_OP": op,
            "CCCI_BASE_URL": baseURL, "CCCI_OP_STATE_FILE": opStateFile, "CCCI_DEPS_FILE": depsFile,
            "CCCI_RUN_ID": runID, "CCCI_RUN_DIR": runDirectory, "CCCI_HEAD_COMMIT": headCommit,
        ]
        if let caCertificate { environment["CCCI_CA_CERT"] = caCertificate }
        if let resolve { environment["CCCI_CURL_RESOLVE"] = resolve }
        if let baseVersion { environment["CCCI_BASE_VERSION"] = baseVersion }
        return environment
    }
}

/// A deployed dependency as its dependents see it.
public struct DependencyInfo: Sendable, Hashable, Codable {
    public var recipe: String
    public var domain: String
    public var baseURL: String
    /// Whether it converged and passed its health check.
    public var ready: Bool
    /// Its generated secrets by name (never logged; the deps file is mode 0600).
    public var credentials: [String: String]
    /// Why it is not ready, when it is not.
    public var reason: String?
    /// `curl --resolve` value for its domain in the lab.
    public var resolve: String?

    public init(
        recipe: String, domain: String, baseURL: String, ready: Bool, credentials: [String: String],
        reason: String? = nil, resolve: String? = nil
    ) {
        self.recipe = recipe
        self.domain = domain
        self.baseURL = baseURL
        self.ready = ready
        self.credentials = credentials
        self.reason = reason
        self.resolve = resolve
    }

    enum CodingKeys: String, CodingKey {
        case recipe, domain, ready, credentials, reason, resolve
        case baseURL = "base_url"
    }
}
