import Crypto
import Foundation

/// How cc-ci names the apps it deploys (SPEC F-NAME).
///
/// A *run app* belongs to one run and is torn down by it (or reaped by the janitor when the run
/// died): `<recipe[:4]>-<sha1(recipe|pr|ref)[:6]>.<ci-domain>`. One regex recognises run apps;
/// warm canonical apps live one label deeper (`<recipe>.warm.<ci-domain>`) so no recipe name can
/// ever make a warm app look like a run app.
public struct AppNaming: Sendable, Hashable {
    /// The domain run and warm apps live under (`ci.example.org`; the lab uses `ci.ccci.test`).
    public let ciDomain: String

    /// Docker limits stack-derived names; abra truncates sanitised app names to this length.
    public static let maxStackNameLength = 45

    public init(ciDomain: String) throws(NamingError) {
        let lowered = ciDomain.lowercased()
        let labels = lowered.split(separator: ".", omittingEmptySubsequences: false)
        guard !lowered.isEmpty, labels.count >= 2,
            labels.allSatisfy({ label in
                !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                    && label.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
            })
        else { throw .invalidCIDomain(ciDomain) }
        // `xxxx-xxxxxx_` + the underscored CI domain must fit abra's stack-name limit, or run
        // apps' stacks would be truncated and the janitor could no longer recognise them.
        guard 12 + lowered.count <= Self.maxStackNameLength else {
            throw .ciDomainTooLong(ciDomain, limit: Self.maxStackNameLength - 12)
        }
        self.ciDomain = lowered
    }

    /// The domain of the app a run deploys for `role`.
    ///
    /// The head app (the code under test, fresh) uses `sha1("recipe|pr|ref")` exactly as SPEC
    /// F-NAME gives it; the upgrade app of the same run hashes `"recipe|pr|ref|upgrade"`, so the
    /// two apps of one run never share a domain, and a second run of the same (recipe, PR, ref)
    /// maps to the same two domains (and waits on their locks).
    ///
    /// The upgrade app of an extra base release (`upgrade_from` with several bases) hashes
    /// `"…|upgrade|from:<version>"`; the first base's app is the one upgrade app of a one-base run.
    public func runAppDomain(
        recipe: String, pr: Int, ref: String, role: AppRole = .head, attempt: Int = 1, base: String? = nil
    ) -> AppDomain {
        var input = "\(recipe)|\(pr)|\(ref)"
        if role == .upgrade { input += "|upgrade" }
        if role == .upgrade, let base { input += "|from:\(base)" }
        // A path run again on fresh apps (`retry_failed`) gets apps of its own.
        if attempt > 1 { input += "|attempt\(attempt)" }
        let digest = Insecure.SHA1.hash(data: Data(input.utf8))
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        return AppDomain(name: "\(Self.recipePrefix(recipe))-\(hex.prefix(6)).\(ciDomain)", kind: .run)
    }

    /// The domain of a recipe's warm canonical deployment.
    public func warmAppDomain(recipe: String) -> AppDomain {
        let label = Self.dnsLabel(recipe)
        return AppDomain(name: "\(label.isEmpty ? "app" : label).warm.\(ciDomain)", kind: .warm)
    }

    /// Whether `domain` is a run app of this CI domain (the janitor's candidate test).
    public func isRunApp(_ domain: String) -> Bool {
        (try? runAppPattern.wholeMatch(in: domain.lowercased())) != nil
    }

    /// Whether `domain` is a warm canonical app of this CI domain.
    public func isWarmApp(_ domain: String) -> Bool {
        (try? warmAppPattern.wholeMatch(in: domain.lowercased())) != nil
    }

    /// The run-app domain a stack name belongs to, when the stack is a run app's.
    public func runAppDomain(fromStack stack: String) -> AppDomain? {
        guard (try? stackRunAppPattern.wholeMatch(in: stack)) != nil else { return nil }
        let prefix = stack.prefix { $0 != "_" }
        return AppDomain(name: "\(prefix).\(ciDomain)", kind: .run)
    }

    /// Checks that `text` names an app of this node — a run app or a warm app under its CI
    /// domain — and returns it lower-cased. This is the only way a domain that came from outside
    /// (an argument, a file name, a label) becomes an ``AppDomain``, so no lock, env file or
    /// backup path is ever formed from an unchecked string.
    public func appDomain(_ text: String) throws(NamingError) -> AppDomain {
        let lowered = text.lowercased()
        if isRunApp(lowered) { return AppDomain(name: lowered, kind: .run) }
        if isWarmApp(lowered) { return AppDomain(name: lowered, kind: .warm) }
        if text.contains("_") {
            let dotted = lowered.replacingOccurrences(of: "_", with: ".")
            if isRunApp(dotted) || isWarmApp(dotted) { throw .stackNameGiven(text, domain: dotted) }
        }
        throw .notAnAppDomain(text, ciDomain: ciDomain)
    }

    /// The app domain of a name that must already be one (`nil` when it is not).
    public func appDomainIfValid(_ text: String) -> AppDomain? {
        try? appDomain(text)
    }

    /// The one regex run apps match: `^[a-z0-9]{1,4}-[0-9a-f]{6}\.<ci-domain>$`.
    public var runAppPatternSource: String {
        "[a-z0-9]{1,4}-[0-9a-f]{6}\\." + NSRegularExpression.escapedPattern(for: ciDomain)
    }

    private var runAppPattern: Regex<AnyRegexOutput> {
        try! Regex(runAppPatternSource)
    }

    /// Warm apps: `<dns label>.warm.<ci-domain>`.
    public var warmAppPatternSource: String {
        "[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?\\.warm\\." + NSRegularExpression.escapedPattern(for: ciDomain)
    }

    private var warmAppPattern: Regex<AnyRegexOutput> {
        try! Regex(warmAppPatternSource)
    }

    private var stackRunAppPattern: Regex<AnyRegexOutput> {
        let underscored = Self.stackName(forDomain: ciDomain)
        return try! Regex("[a-z0-9]{1,4}-[0-9a-f]{6}_" + NSRegularExpression.escapedPattern(for: underscored))
    }

    /// The first four lowercase letters/digits of a recipe name (`custom-php` → `cust`).
    public static func recipePrefix(_ recipe: String) -> String {
        let alphanumerics = recipe.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
        return String(alphanumerics.prefix(4)).isEmpty ? "app" : String(alphanumerics.prefix(4))
    }

    /// A recipe name made safe for a DNS label.
    public static func dnsLabel(_ recipe: String) -> String {
        let mapped = recipe.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "-" }
        let trimmed = String(mapped).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return String(trimmed.prefix(40))
    }

    /// The swarm stack name of an app domain, as abra derives it: dots become underscores and the
    /// result is cut to ``maxStackNameLength``.
    public static func stackName(forDomain domain: String) -> String {
        String(domain.replacingOccurrences(of: ".", with: "_").prefix(maxStackNameLength))
    }
}

/// The domain of an app cc-ci manages on this node: a run app or a warm canonical app.
///
/// Values are made only by ``AppNaming`` — from a recipe, PR and ref, or by checking a name that
/// came from outside with ``AppNaming/appDomain(_:)`` — so a value of this type is always a
/// lower-case domain under the node's CI domain, safe to form lock, env and backup paths from.
public struct AppDomain: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// What an app is for.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Belongs to one run; torn down by it, or reaped by the janitor when the run died.
        case run
        /// A warm canonical deployment; never a janitor candidate.
        case warm
    }

    /// The domain, lower-case.
    public let name: String
    public let kind: Kind

    init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// The swarm stack name of the app.
    public var stack: String { AppNaming.stackName(forDomain: name) }

    public var description: String { name }

    public static func < (lhs: AppDomain, rhs: AppDomain) -> Bool { lhs.name < rhs.name }
}

/// Which of a run's (at most two) apps a domain names.
public enum AppRole: String, Sendable, Codable, Hashable, CaseIterable {
    /// The fresh install of the code under test (install, backup, restore, custom).
    case head
    /// The base release upgraded in place to the head.
    case upgrade
}

/// A name cc-ci cannot work with.
public enum NamingError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidCIDomain(String)
    case ciDomainTooLong(String, limit: Int)
    /// A name that is not a run or warm app domain of this node.
    case notAnAppDomain(String, ciDomain: String)
    /// A stack name given where an app domain is expected.
    case stackNameGiven(String, domain: String)

    public var description: String {
        switch self {
        case .invalidCIDomain(let domain):
            return "ci domain '\(domain)' is not a valid DNS name with at least two labels "
                + "(letters, digits and '-' only) — set `ci_domain` in the node config, e.g. `ci.example.org`"
        case .ciDomainTooLong(let domain, let limit):
            return "ci domain '\(domain)' is \(domain.count) characters; run-app stack names must fit abra's "
                + "45-character limit, so the ci domain can be at most \(limit) — choose a shorter `ci_domain`"
        case .notAnAppDomain(let text, let ciDomain):
            let shown = text.isEmpty ? "an empty name" : "'\(text)'"
            return "\(shown) is not an app domain of this node: cc-ci's apps are run apps "
                + "(`<recipe[:4]>-<6 hex>.\(ciDomain)`) and warm apps (`<recipe>.warm.\(ciDomain)`) — "
                + "`ccci janitor --dry-run` lists the run apps on this node"
        case .stackNameGiven(let text, let domain):
            return "'\(text)' is a stack name; give the app's domain instead: \(domain)"
        }
    }
}
