import CCCICore
import Foundation

/// A shields-style badge: a grey label and a coloured value, as SVG (`/badge/<recipe>.svg`,
/// `/badge/<recipe>/<tier>.svg`). Text widths are estimated from the character count (Verdana
/// 11 px averages about 7 px), as shields.io's own static badges are.
struct Badge: Sendable, Hashable {
    let label: String
    let value: String
    let color: String

    /// A recipe's level badge (`nil`: no recorded run).
    static func level(_ level: Int?) -> Badge {
        guard let level else { return Badge(label: "cc-ci", value: "no runs", color: "#9f9f9f") }
        let colors = ["#e05d44", "#fe7d37", "#dfb317", "#a4a61d", "#97ca00", "#44cc11"]
        return Badge(label: "cc-ci", value: "level \(level)", color: colors[min(max(level, 0), colors.count - 1)])
    }

    /// A tier's verdict badge (`nil`: the tier never ran).
    static func tier(_ tier: Tier, _ status: TierStatus?) -> Badge {
        let color =
            switch status {
            case .pass: "#44cc11"
            case .fail: "#e05d44"
            case .cancelled: "#dfb317"
            case .flaky: "#fe7d37"
            default: "#9f9f9f"
            }
        return Badge(label: tier.rawValue, value: status.map(Layout.label) ?? "no runs", color: color)
    }

    static func width(_ text: String) -> Int { 10 + 7 * text.count }

    var svg: String {
        let left = Self.width(label)
        let right = Self.width(value)
        let total = left + right
        let image: HTML = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(total)" height="20" role="img" aria-label="\(label): \(value)">\
            <title>\(label): \(value)</title>\
            <linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>\
            <clipPath id="r"><rect width="\(total)" height="20" rx="3" fill="#fff"/></clipPath>\
            <g clip-path="url(#r)"><rect width="\(left)" height="20" fill="#555"/><rect x="\(left)" width="\(right)" height="20" fill="\(color)"/><rect width="\(total)" height="20" fill="url(#s)"/></g>\
            <g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">\
            <text x="\(left / 2)" y="15" fill="#010101" fill-opacity=".3">\(label)</text><text x="\(left / 2)" y="14">\(label)</text>\
            <text x="\(left + right / 2)" y="15" fill="#010101" fill-opacity=".3">\(value)</text><text x="\(left + right / 2)" y="14">\(value)</text></g>\
            </svg>
            """
        return image.rendered
    }
}
