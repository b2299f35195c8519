import CCCICore
import Foundation
import Testing

/// The pure rules behind the hardening: which names are app domains, which paths stay home,
/// which durations and env overrides are accepted.
@Suite struct InputRules {
    let naming = try! AppNaming(ciDomain: "ci.ccci.test")

    @Test("an app domain is a run app or a warm app of this CI domain, lower-cased; nothing else is")
    func appDomains() throws {
        #expect(
            try naming.appDomain("WEB-29BFD8.CI.CCCI.TEST") == naming.runAppDomain(recipe: "web", pr: 0, ref: "abc"))
        #expect(try naming.appDomain("web-29bfd8.ci.ccci.test").kind == .run)
        #expect(try naming.appDomain("custom-php.warm.ci.ccci.test").kind == .warm)
        for bad in [
            "", "*", "web", "ccci-lab", "proxy", "../../etc/passwd", "web-29bfd8.ci.example.org",
            " web-29bfd8.ci.ccci.test",
            "web-29bfd8.ci.ccci.test/..", "web-29bfd8.ci.ccci.test\n", ".warm.ci.ccci.test", "-x.warm.ci.ccci.test",
            "a/b.warm.ci.ccci.test", "web-29bfd8",
        ] {
            #expect(throws: NamingError.self, "\(bad.debugDescription)") { try naming.appDomain(bad) }
        }
        #expect(throws: NamingError.stackNameGiven("web-29bfd8_ci_ccci_test", domain: "web-29bfd8.ci.ccci.test")) {
            try naming.appDomain("web-29bfd8_ci_ccci_test")
        }
    }

    @Test("paths stay inside their root: absolute paths, .. and symlinks out are refused; symlinks within are fine")
    func containment() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ccci-contain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("hooks"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try "x".write(to: root.appendingPathComponent("hooks/a.sh"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("inside").path, withDestinationPath: "hooks/a.sh")
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("outside").path, withDestinationPath: "/etc/hostname")
        #expect(try ContainedPath.resolve("hooks/a.sh", in: root, what: "x").lastPathComponent == "a.sh")
        #expect(try ContainedPath.resolve("inside", in: root, what: "x").lastPathComponent == "a.sh")
        #expect(try ContainedPath.resolve("hooks/../hooks/new.sh", in: root, what: "x").lastPathComponent == "new.sh")
        for bad in ["/etc/passwd", "../x", "hooks/../../x", "outside", ""] {
            #expect(throws: ContainmentError.self, "\(bad)") { try ContainedPath.resolve(bad, in: root, what: "x") }
        }
        do {
            _ = try ContainedPath.resolve("outside", in: root, what: "hook `pre_install`")
        } catch {
            #expect(error.description.contains("symlink to /etc/hostname"))
            #expect(!error.description.contains("chmod"))
        }
    }

    @Test("durations are bounded: at most 7 days, zero only where allowed, never a crash")
    func durations() throws {
        #expect(try DurationText.check("7d") == .seconds(7 * 86_400))
        #expect(throws: DurationError.tooLong("8d")) { try DurationText.check("8d") }
        #expect(throws: DurationError.tooLong("99999999999h")) { try DurationText.check("99999999999h") }
        #expect(throws: DurationError.zero("0s")) { try DurationText.check("0s", allowZero: false) }
        #expect(throws: DurationError.self) { try DurationText.check(seconds: .infinity, text: "inf") }
        #expect(throws: DurationError.self) { try DurationText.check(seconds: 1e300, text: "1e300") }
        for bad in ["-5s", "1e400s", "nan", "5 s", "5x", String(repeating: "9", count: 500)] {
            #expect(DurationText.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("env overrides: variable names only, never a key cc-ci sets, one line each")
    func envOverrides() {
        #expect(AppEnv.problem(withOverride: "COMPOSE_FILE", value: "a.yml:b.yml") == nil)
        #expect(AppEnv.problem(withOverride: "_X1", value: "") == nil)
        for key in ["DOMAIN", "STACK_NAME", "TYPE", "RECIPE"] {
            #expect(AppEnv.problem(withOverride: key, value: "x")?.contains("cannot be overridden") == true)
        }
        for key in ["1X", "A-B", "A B", "", "É"] {
            #expect(AppEnv.problem(withOverride: key, value: "x")?.contains("not a variable name") == true, "\(key)")
        }
        #expect(AppEnv.problem(withOverride: "X", value: "a\nb")?.contains("several lines") == true)
    }

    @Test("recipe names are one safe path component")
    func recipeNames() {
        #expect(RecipeName.problem("custom-php") == nil)
        #expect(RecipeName.problem("lasuite_docs.v2") == nil)
        for bad in ["", ".", "..", "../web", "a/b", "-x", ".hidden", "a b"] {
            #expect(RecipeName.problem(bad) != nil, "\(bad)")
        }
    }
}
