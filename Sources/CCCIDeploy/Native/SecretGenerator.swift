/// Secret values for generated secrets: random letters and digits from the system's
/// cryptographically secure generator.
public enum SecretGenerator {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// A random value of `length` characters.
    public static func value(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<max(1, length)).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
