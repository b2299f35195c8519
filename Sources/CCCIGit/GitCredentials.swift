import Foundation

/// Credentials for an HTTP(S) git remote, taken out of the URL they were written in.
///
/// `https://user:token@forge/recipe.git` is convenient to type and dangerous to keep: git writes
/// the URL into the clone's config and echoes it in errors, and cc-ci would print it in logs. So
/// the user-info is removed from the URL and handed to git per command as an
/// `http.extraHeader` — in the command's environment (`GIT_CONFIG_*`), never its arguments, which
/// any local user can read — and the token is registered for redaction wherever it could appear.
public struct GitCredentials: Sendable, Hashable {
    public let user: String
    public let secret: String

    public init(user: String, secret: String) {
        self.user = user
        self.secret = secret
    }

    /// `Basic <base64(user:secret)>`.
    var basic: String { Data("\(user):\(secret)".utf8).base64EncodedString() }

    /// The `http.extraHeader` value.
    public var header: String { "Authorization: Basic \(basic)" }

    /// Every form in which the secret could be shown: the token, its base64 and the header.
    public var secrets: [String] { [secret, basic, header] }

    /// Splits the credentials out of an HTTP(S) URL: the URL without them, and the credentials
    /// (`nil` when it has none, or is not HTTP(S)). A URL with only a user name (`https://TOKEN@host/…`)
    /// treats the name as the token, as forges do.
    public static func split(_ url: String) -> (url: String, credentials: GitCredentials?) {
        guard var components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let rawUser = components.user, !rawUser.isEmpty
        else { return (url, nil) }
        let user = rawUser.removingPercentEncoding ?? rawUser
        let password = components.password.map { $0.removingPercentEncoding ?? $0 }
        components.user = nil
        components.password = nil
        let clean = components.string ?? url
        if let password, !password.isEmpty {
            return (clean, GitCredentials(user: user, secret: password))
        }
        return (clean, GitCredentials(user: user, secret: user))
    }

    /// `url` with any user-info replaced by `***` — for showing a URL that was not split.
    public static func masked(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let schemeEnd = url.range(of: "://"),
            schemeEnd.upperBound <= at, !url[schemeEnd.upperBound..<at].contains("/")
        else { return url }
        return url[..<schemeEnd.upperBound] + "***" + url[at...]
    }
}
