import HTTPTypes
import Hummingbird

/// Every answer says how a browser may use it: `Content-Security-Policy` (``Layout/contentSecurityPolicy``:
/// nothing but the dashboard's own stylesheet and script), `X-Frame-Options: DENY` (no page of
/// the dashboard inside another site's frame), `X-Content-Type-Options: nosniff` (a run's log is
/// text, never sniffed into HTML) and `Referrer-Policy: same-origin`.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            // A 404 of the router, a 405: answered here, so that they carry the headers too.
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] = Layout.contentSecurityPolicy
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "same-origin"
        return response
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
