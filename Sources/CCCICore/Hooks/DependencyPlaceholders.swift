import Foundation

/// `{{deps.<recipe>.<fact>}}` in the values of `extra_env`, `upgrade_extra_env` and
/// `extra_secrets` (SPEC F-DEPS): a dependency's facts, filled in before the dependent app's one
/// deploy. The facts of dependency `provider`:
///
/// - `{{deps.provider.domain}}` — its domain in this run;
/// - `{{deps.provider.url}}` — `https://<domain>`;
/// - `{{deps.provider.creds.<name>}}` — a credential: a secret its deploy generated, or a value
///   its pack's `provision` hook returned for this dependent (an OIDC client's id and secret).
///
/// ```swift
/// try DependencyPlaceholders.check(["OIDC": "{{deps.provider.url}}"], key: "extra_env", dependencies: ["provider"])
/// let (value, used) = try DependencyPlaceholders.resolve("{{deps.provider.url}}/x", key: "extra_env.OIDC", facts: facts)
/// // value == "https://provider-1a2b3c.ci.example/x", used == ["deps.provider.url"]
/// ```
///
/// Spaces inside the braces are allowed (`{{ deps.provider.url }}`); text outside placeholders is
/// kept as written, other `{{…}}` included (a Go template in a value is the value's own). A
/// `{{deps.…}}` that is not one of these facts is an error.
public enum DependencyPlaceholders {
    /// One placeholder: the dependency and the fact (`domain`, `url`, `creds.<name>`).
    public struct Reference: Sendable, Hashable {
        public let recipe: String
        public let fact: String

        /// `deps.<recipe>.<fact>`, as written between the braces.
        public var path: String { "deps.\(recipe).\(fact)" }

        /// The credential's name, for a `creds.<name>` fact.
        public var credential: String? { fact.hasPrefix("creds.") ? String(fact.dropFirst(6)) : nil }
    }

    /// A placeholder that cannot be used: names the key, the placeholder and what is known.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let key: String
        public let description: String

        public init(key: String, description: String) {
            self.key = key
            self.description = description
        }
    }

    /// The placeholders of `value`, in order; throws for `{{…}}` that is not a dependency fact.
    public static func references(in value: String, key: String) throws(Problem) -> [Reference] {
        var references: [Reference] = []
        var rest = value[...]
        while let open = nextOpening(in: rest) {
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw Problem(key: key, description: "`\(key)`: `{{` without a closing `}}` in '\(value)'")
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let parts = inner.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            let isFact =
                parts.count == 3 && parts[0] == "deps" && RecipeName.problem(parts[1]) == nil
                && (["domain", "url"].contains(parts[2])
                    || (parts[2].hasPrefix("creds.") && isCredentialName(parts[2].dropFirst(6))))
            guard isFact else {
                throw Problem(
                    key: key,
                    description:
                        "`\(key)`: `{{\(inner)}}` is not a dependency fact — write `{{deps.<recipe>.domain}}`, "
                        + "`{{deps.<recipe>.url}}` or `{{deps.<recipe>.creds.<name>}}`")
            }
            references.append(Reference(recipe: parts[1], fact: parts[2]))
            rest = rest[close.upperBound...]
        }
        return references
    }

    /// Checks `values` (a map key's entries, named `key.<entry>`) before anything is deployed:
    /// every placeholder is well-formed and names a recipe of `dependencies`.
    public static func check(_ values: [String: String], key: String, dependencies: [String]) throws(Problem) {
        for entry in values.keys.sorted() {
            let name = "\(key).\(entry)"
            for reference in try references(in: values[entry]!, key: name)
            where !dependencies.contains(reference.recipe) {
                let declared = dependencies.isEmpty ? "none" : dependencies.joined(separator: ", ")
                throw Problem(
                    key: name,
                    description: "`\(name)` uses `{{\(reference.path)}}`, but `\(reference.recipe)` is not in "
                        + "`dependencies` (declared: \(declared))")
            }
        }
    }

    /// `value` with every placeholder filled in from `facts`, and the placeholders it used.
    /// Throws when a fact is unknown (a dependency not deployed, a credential no one returned),
    /// naming the facts that are known.
    public static func resolve(
        _ value: String, key: String, facts: [String: DependencyInfo]
    ) throws(Problem) -> (value: String, used: [String]) {
        let references = try references(in: value, key: key)
        guard !references.isEmpty else { return (value, []) }
        var output = ""
        var rest = value[...]
        for reference in references {
            let open = nextOpening(in: rest)!
            let close = rest[open.upperBound...].range(of: "}}")!
            output += rest[..<open.lowerBound]
            output += try fact(reference, key: key, facts: facts)
            rest = rest[close.upperBound...]
        }
        output += rest
        return (output, references.map(\.path))
    }

    /// Every fact `facts` offers, as placeholders (for messages and the docs).
    public static func known(_ facts: [String: DependencyInfo]) -> [String] {
        facts.keys.sorted().flatMap { recipe in
            ["domain", "url"].map { "deps.\(recipe).\($0)" }
                + (facts[recipe]?.credentials.keys.sorted() ?? []).map { "deps.\(recipe).creds.\($0)" }
        }
    }

    static func fact(_ reference: Reference, key: String, facts: [String: DependencyInfo]) throws(Problem) -> String {
        let value: String? =
            switch reference.fact {
            case "domain": facts[reference.recipe]?.domain
            case "url": facts[reference.recipe]?.baseURL
            default: reference.credential.flatMap { facts[reference.recipe]?.credentials[$0] }
            }
        guard let value else {
            let known = known(facts)
            throw Problem(
                key: key,
                description: "`\(key)` uses `{{\(reference.path)}}`, which no dependency provides (known: "
                    + "\(known.isEmpty ? "none" : known.map { "{{\($0)}}" }.joined(separator: ", ")))")
        }
        return value
    }

    /// The next `{{` that opens a placeholder: one followed (after spaces) by `deps.`. Other
    /// braces — a Go template in a value, say — are the value's own.
    static func nextOpening(in text: Substring) -> Range<Substring.Index>? {
        var rest = text
        while let open = rest.range(of: "{{") {
            if rest[open.upperBound...].drop(while: { $0 == " " }).hasPrefix("deps.") { return open }
            rest = rest[open.upperBound...]
        }
        return nil
    }

    static func isCredentialName(_ name: Substring) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
