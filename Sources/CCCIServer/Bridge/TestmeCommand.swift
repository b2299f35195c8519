import CCCICore

/// A `!testme` comment: the first line of the comment starts with the word `!testme`, then
/// options. `--stages install,upgrade,…` picks tiers (default: all); `--quick` asks for the quick
/// lane on the recipe's warm canonical (SPEC F-QUICK; stages then among lint, upgrade, custom).
public struct TestmeCommand: Sendable, Hashable {
    /// `nil`: every stage.
    public var stages: [Tier]?
    public var quick = false

    public init(stages: [Tier]? = nil, quick: Bool = false) {
        self.stages = stages
        self.quick = quick
    }

    /// The tiers `--quick` can prove.
    public static let quickStages: [Tier] = [.lint, .upgrade, .custom]

    /// `--stages` as `ccci run` takes it (`nil` for every stage).
    public var stagesArgument: String? {
        stages.map { $0.map(\.rawValue).joined(separator: ",") }
    }

    /// The command's word.
    public static let word = "!testme"

    /// The options it reads.
    static let options = ["--stages", "--quick"]

    /// What a malformed `!testme` gets back.
    public static let usage = """
        usage: `!testme [--stages install,upgrade,backup,restore,custom,lint,screenshot] [--quick]`
        - `--stages`: only these tiers (default: all of them)
        - `--quick`: upgrade the recipe's warm canonical to this head and run its tests (lint, upgrade, custom), \
        then give the canonical back — much less than a cold run proves
        """

    /// Whether `body` is a `!testme` comment at all (well formed or not): its first line's
    /// first word is `!testme`.
    public static func isCommand(_ body: String) -> Bool {
        words(of: body).first == word
    }

    /// Reads the options of a `!testme` comment; the error says what is wrong in one sentence.
    public static func parse(_ body: String) -> Result<TestmeCommand, TestmeError> {
        var words = words(of: body)
        guard words.first == word else { return .failure(TestmeError("the comment does not start with \(word)")) }
        words.removeFirst()
        var command = TestmeCommand()
        var index = 0
        while index < words.count {
            let option = words[index]
            var value: String?
            var name = option
            if let equals = option.firstIndex(of: "="), option.hasPrefix("--") {
                name = String(option[..<equals])
                value = String(option[option.index(after: equals)...])
            }
            switch name {
            case "--stages":
                if value == nil {
                    index += 1
                    value = index < words.count ? words[index] : nil
                }
                guard let list = value, !list.isEmpty, !list.hasPrefix("--") else {
                    return .failure(TestmeError("`--stages` needs a list, e.g. `--stages install,upgrade`"))
                }
                guard command.stages == nil else { return .failure(TestmeError("`--stages` is given twice")) }
                switch Tier.parseStages(list) {
                case .success(let stages): command.stages = stages
                case .failure(let error):
                    // The commenter's word is never echoed; a suggestion is one of the stages.
                    var text =
                        "`--stages` names something that is not a stage; the stages are "
                        + Tier.defaultStages.map { "`\($0.rawValue)`" }.joined(separator: ", ")
                    if let suggestion = Suggestion.closest(
                        to: error.name.lowercased(), in: Tier.defaultStages.map(\.rawValue))
                    {
                        text += " — did you mean `\(suggestion)`?"
                    }
                    return .failure(TestmeError(text))
                }
            case "--quick":
                guard value == nil else { return .failure(TestmeError("`--quick` takes no value")) }
                guard !command.quick else { return .failure(TestmeError("`--quick` is given twice")) }
                command.quick = true
            default:
                // The commenter's word is never echoed (it could be markdown, a link, a mention).
                var text = "\(name.hasPrefix("-") ? "an option" : "a word") cc-ci does not know; the options are "
                text += Self.options.map { "`\($0)`" }.joined(separator: " and ")
                if name.hasPrefix("--"), let suggestion = Suggestion.closest(to: name, in: Self.options) {
                    text += " — did you mean `\(suggestion)`?"
                }
                return .failure(TestmeError(text))
            }
            index += 1
        }
        if command.quick, let other = command.stages?.first(where: { !quickStages.contains($0) }) {
            return .failure(
                TestmeError("`--quick` proves lint, upgrade and custom only; `\(other.rawValue)` needs a cold run"))
        }
        return .success(command)
    }

    /// The words of the comment's first non-empty line.
    static func words(of body: String) -> [String] {
        let line = body.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) } ?? ""
        return line.split(whereSeparator: \.isWhitespace).prefix(64).map(String.init)
    }
}

/// Why a `!testme` comment cannot be acted on: cc-ci's own words and tokens it validated
/// (option and stage names), never text the commenter wrote.
public struct TestmeError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
