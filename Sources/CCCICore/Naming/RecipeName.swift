/// Recipe names (catalogue entries, dependencies, the name a run derives from a path or URL).
///
/// A recipe name becomes part of directory names (the workspace, the CI's pack directory), so it
/// is one path component of letters, digits, `-`, `_` and `.` — never empty, `.` or `..`.
public enum RecipeName {
    /// Why `name` cannot be a recipe name (`nil` when it can).
    public static func problem(_ name: String) -> String? {
        guard !name.isEmpty else { return "a recipe name cannot be empty" }
        guard name != ".", name != "..", name.count <= 100,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }),
            name.first != "-", name.first != "."
        else {
            return "'\(name.prefix(40))' is not a recipe name (letters, digits, '-', '_' and '.', like `custom-php`)"
        }
        return nil
    }
}
