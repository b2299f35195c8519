import CCCICore

/// A fragment of HTML whose interpolated values are escaped unless they are HTML themselves.
///
/// Invariant: every `String` (or other value) that reaches a page goes through ``escape(_:)``;
/// only ``HTML`` values, built from literals in this module, are written as they are. So a
/// recipe name, a tier reason or a log line can never become markup, whatever it holds.
public struct HTML: Sendable, ExpressibleByStringInterpolation {
    /// The markup.
    public let rendered: String

    public init(stringLiteral literal: String) {
        rendered = literal
    }

    public init(stringInterpolation: Interpolation) {
        rendered = stringInterpolation.output
    }

    /// Nothing.
    public static let empty: HTML = ""

    /// The fragments one after the other.
    public init(joining fragments: some Sequence<HTML>) {
        rendered = fragments.reduce(into: "") { $0 += $1.rendered }
    }

    public struct Interpolation: StringInterpolationProtocol {
        var output = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            output.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            output += literal
        }

        /// Markup, as it is.
        public mutating func appendInterpolation(_ html: HTML) {
            output += html.rendered
        }

        /// Markup fragments, one after the other.
        public mutating func appendInterpolation(_ fragments: [HTML]) {
            for fragment in fragments { output += fragment.rendered }
        }

        /// Text, escaped.
        public mutating func appendInterpolation(_ text: String) {
            output += HTML.escape(text)
        }

        /// Text, escaped; nothing for `nil`.
        public mutating func appendInterpolation(_ text: String?) {
            if let text { output += HTML.escape(text) }
        }

        /// A number or other value, escaped.
        public mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            output += HTML.escape(value.description)
        }
    }

    /// `text` escaped for element content and quoted attribute values (``Markup/escape(_:)``).
    public static func escape(_ text: String) -> String { Markup.escape(text) }
}
