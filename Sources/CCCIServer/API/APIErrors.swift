import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime

/// A request the generated server could not turn into an operation's input (a `limit` that is
/// not a number, say) is the client's mistake: 400 with the API's error document, saying why —
/// not the 500 the runtime answers by default. An error after the input was read is a real
/// failure and stays a 500.
struct APIInputErrors: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            return try await next(request, body, metadata)
        } catch let error as ServerError where error.operationInput == nil {
            let document = try JSONEncoder().encode(["error": "the request is not valid: \(error.causeDescription)"])
            return (
                HTTPResponse(status: .badRequest, headerFields: [.contentType: "application/json; charset=utf-8"]),
                HTTPBody(document)
            )
        }
    }
}

/// The API answers only GET (and HEAD): any other method on an `/api/v1/` path is 405 with
/// `Allow`, not the 404 of an unknown path.
struct APIMethods<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        if request.uri.path.hasPrefix("/api/v1/"), request.method != .get, request.method != .head {
            var headers = HTTPFields()
            headers[.allow] = "GET, HEAD"
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(
                status: .methodNotAllowed, headers: headers,
                body: .init(byteBuffer: .init(string: #"{"error":"the API answers GET only"}"#)))
        }
        return try await next(request, context)
    }
}
