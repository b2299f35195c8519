import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

extension Response {
    /// A plain-text answer (one line and a newline).
    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        body(status, Data((text + "\n").utf8), type: "text/plain; charset=utf-8")
    }

    /// A JSON document.
    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        body(status, data, type: "application/json")
    }

    /// Bytes of `type`.
    static func body(_ status: HTTPResponse.Status, _ data: Data, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        if status == .noContent { return Response(status: status, headers: headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
