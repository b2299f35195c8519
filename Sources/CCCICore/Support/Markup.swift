/// Text made safe for XML and HTML (JUnit reports, the dashboard's pages).
public enum Markup {
    /// `text` with `& < > " '` replaced by entities — safe in element content and in quoted
    /// attribute values of XML and HTML alike — and the characters XML 1.0 forbids (controls other
    /// than tab and newlines, U+FFFE, U+FFFF) dropped.
    public static func escape(_ text: String) -> String {
        let clean = text.utf8.allSatisfy { byte in
            byte != 0x26 && byte != 0x3C && byte != 0x3E && byte != 0x22 && byte != 0x27
                && (byte >= 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D)
        }
        if clean && !text.unicodeScalars.contains(where: { $0.value == 0xFFFE || $0.value == 0xFFFF }) { return text }
        var output = ""
        output.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            case "\t", "\n", "\r": output.unicodeScalars.append(scalar)
            default:
                if scalar.value >= 0x20 && scalar.value != 0xFFFE && scalar.value != 0xFFFF {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output
    }
}
