/// cc-ci's own version, printed by `ccci --version` and recorded in every result.
public enum CCCIVersion {
    public static let current = "0.1.0"
}
