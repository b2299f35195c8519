import CCCICore
import Testing

@Suite struct RunAppNaming {
    let naming: AppNaming

    init() throws {
        naming = try AppNaming(ciDomain: "ci.ccci.test")
    }

    // Expected digests computed with `printf '<input>' | sha1sum`.
    @Test("a run app's domain is <recipe[:4]>-<sha1(recipe|pr|ref)[:6]>.<ci-domain>")
    func knownDigests() {
        // sha1("web|0|abc") = 29bfd85ab042…
        #expect(naming.runAppDomain(recipe: "web", pr: 0, ref: "abc").name == "web-29bfd8.ci.ccci.test")
        // sha1("custom-php|12|main") = 5f31025e646b…
        #expect(naming.runAppDomain(recipe: "custom-php", pr: 12, ref: "main").name == "cust-5f3102.ci.ccci.test")
        // sha1("custom-php|13|main") = 6f5fb72d55ce…
        #expect(naming.runAppDomain(recipe: "custom-php", pr: 13, ref: "main").name == "cust-6f5fb7.ci.ccci.test")
    }

    @Test("the upgrade app of a run hashes recipe|pr|ref|upgrade, so head and upgrade domains differ")
    func rolesDiffer() {
        // sha1("web|0|abc|upgrade") = 6a07cf7681c4…
        #expect(naming.runAppDomain(recipe: "web", pr: 0, ref: "abc", role: .upgrade).name == "web-6a07cf.ci.ccci.test")
        // sha1("custom-php|12|main|upgrade") = c3c69a76c872…
        #expect(
            naming.runAppDomain(recipe: "custom-php", pr: 12, ref: "main", role: .upgrade).name
                == "cust-c3c69a.ci.ccci.test")
        #expect(
            naming.runAppDomain(recipe: "web", pr: 0, ref: "abc", role: .head).name
                != naming.runAppDomain(recipe: "web", pr: 0, ref: "abc", role: .upgrade).name)
    }

    @Test("the same recipe, PR and ref always give the same domain")
    func deterministic() throws {
        let other = try AppNaming(ciDomain: "ci.ccci.test")
        #expect(
            naming.runAppDomain(recipe: "hedgedoc", pr: 7, ref: "feature/x").name
                == other.runAppDomain(recipe: "hedgedoc", pr: 7, ref: "feature/x").name)
        #expect(
            naming.runAppDomain(recipe: "hedgedoc", pr: 7, ref: "feature/x").name
                != naming.runAppDomain(recipe: "hedgedoc", pr: 7, ref: "feature/y").name)
    }

    @Test("the recipe prefix is its first four lowercase letters and digits")
    func recipePrefix() {
        #expect(AppNaming.recipePrefix("custom-php") == "cust")
        #expect(AppNaming.recipePrefix("a-b-c") == "abc")
        #expect(AppNaming.recipePrefix("N8N") == "n8n")
        #expect(AppNaming.recipePrefix("---") == "app")
        #expect(naming.runAppDomain(recipe: "a-b-c", pr: 1, ref: "x").name.hasPrefix("abc-"))
    }

    @Test(
        "every run app domain is recognised as a run app",
        arguments: ["web", "custom-php", "a-b-c", "facade", "beaded", "cafe", "N8N", "x"])
    func runAppsMatch(recipe: String) {
        for role in AppRole.allCases {
            let domain = naming.runAppDomain(recipe: recipe, pr: 3, ref: "main", role: role).name
            #expect(naming.isRunApp(domain), "\(domain)")
        }
    }

    @Test(
        "warm canonical domains never look like run apps, whatever the recipe name",
        arguments: ["facade", "beaded", "cafe", "a-b-c", "abc", "ab-cafe12", "dead-beefca", "a", "web"])
    func warmAppsDoNotMatch(recipe: String) {
        let warm = naming.warmAppDomain(recipe: recipe).name
        #expect(warm == "\(AppNaming.dnsLabel(recipe)).warm.ci.ccci.test")
        #expect(!naming.isRunApp(warm), "\(warm)")
    }

    @Test("domains of other CI domains, sub- and super-domains are not run apps")
    func otherDomains() {
        #expect(!naming.isRunApp("web-29bfd8.other.test"))
        #expect(!naming.isRunApp("web-29bfd8.ci.ccci.test.evil.org"))
        #expect(!naming.isRunApp("x.web-29bfd8.ci.ccci.test"))
        #expect(!naming.isRunApp("web-29bfd8.xci.ccci.test"))
        #expect(!naming.isRunApp("web-29bfd8XciXccciXtest"), "the dots of the CI domain are literal")
        #expect(!naming.isRunApp("web-29bfd8.ci-ccci.test"))
    }

    @Test("near-miss shapes are not run apps: long prefix, non-hex or short hash, no hash")
    func nearMisses() {
        #expect(!naming.isRunApp("custo-29bfd8.ci.ccci.test"))
        #expect(!naming.isRunApp("web-29bfdg.ci.ccci.test"))
        #expect(!naming.isRunApp("web-29bfd.ci.ccci.test"))
        #expect(!naming.isRunApp("web-29bfd8a.ci.ccci.test"))
        #expect(!naming.isRunApp("web.ci.ccci.test"))
        #expect(!naming.isRunApp("ci.ccci.test"))
    }

    @Test("run app recognition ignores letter case")
    func caseInsensitive() {
        #expect(naming.isRunApp("WEB-29BFD8.CI.CCCI.TEST"))
    }

    @Test("a stack name is the domain with dots as underscores, cut to 45 characters")
    func stackNames() {
        #expect(AppNaming.stackName(forDomain: "cust-5f3102.ci.ccci.test") == "cust-5f3102_ci_ccci_test")
        let long = String(repeating: "a", count: 50) + ".org"
        #expect(AppNaming.stackName(forDomain: long) == String(repeating: "a", count: 45))
        #expect(AppNaming.maxStackNameLength == 45)
    }

    @Test("a run app's stack maps back to its domain; other stacks do not")
    func domainFromStack() {
        let domain = naming.runAppDomain(recipe: "custom-php", pr: 12, ref: "main").name
        #expect(naming.runAppDomain(fromStack: AppNaming.stackName(forDomain: domain))?.name == domain)
        #expect(naming.runAppDomain(fromStack: "cust-5f3102_ci_ccci_test")?.name == "cust-5f3102.ci.ccci.test")
        #expect(naming.runAppDomain(fromStack: "facade_warm_ci_ccci_test") == nil)
        #expect(naming.runAppDomain(fromStack: "cust-5f3102_other_test") == nil)
        #expect(naming.runAppDomain(fromStack: "traefik") == nil)
        #expect(naming.runAppDomain(fromStack: "cust-5f3102_ci_ccci_test_extra") == nil)
    }

    @Test("with the longest allowed CI domain a run app's stack is not truncated and still maps back")
    func longestCIDomain() throws {
        // 12 characters of `xxxx-xxxxxx_` plus the CI domain must fit 45: the CI domain may have 33.
        let ciDomain = String(repeating: "c", count: 19) + "." + String(repeating: "d", count: 8) + ".test"
        #expect(ciDomain.count == 33)
        let naming = try AppNaming(ciDomain: ciDomain)
        let domain = naming.runAppDomain(recipe: "custom-php", pr: 1, ref: "main").name
        let stack = AppNaming.stackName(forDomain: domain)
        #expect(stack == domain.replacingOccurrences(of: ".", with: "_"))
        #expect(naming.runAppDomain(fromStack: stack)?.name == domain)
        #expect(naming.isRunApp(domain))
    }

    @Test("a CI domain longer than 33 characters is rejected, naming the limit")
    func tooLongCIDomain() {
        let ciDomain = String(repeating: "c", count: 20) + "." + String(repeating: "d", count: 8) + ".test"
        #expect(ciDomain.count == 34)
        #expect(throws: NamingError.ciDomainTooLong(ciDomain, limit: 33)) { try AppNaming(ciDomain: ciDomain) }
        #expect(NamingError.ciDomainTooLong(ciDomain, limit: 33).description.contains("33"))
    }

    @Test(
        "invalid CI domains are rejected",
        arguments: [
            "", "localhost", "ci..test", ".ci.test", "ci.test.", "-ci.test", "ci-.test", "ci_x.test",
            "ci test.org", "ci.tëst",
        ])
    func invalidCIDomains(ciDomain: String) {
        #expect(throws: NamingError.invalidCIDomain(ciDomain)) { try AppNaming(ciDomain: ciDomain) }
    }

    @Test("the CI domain is lower-cased")
    func lowercasesCIDomain() throws {
        let naming = try AppNaming(ciDomain: "CI.Example.ORG")
        #expect(naming.ciDomain == "ci.example.org")
        #expect(naming.runAppDomain(recipe: "web", pr: 0, ref: "abc").name == "web-29bfd8.ci.example.org")
    }

    @Test("recipe names become DNS labels for warm domains")
    func dnsLabels() {
        #expect(AppNaming.dnsLabel("Custom_PHP") == "custom-php")
        #expect(AppNaming.dnsLabel("-edge-") == "edge")
        #expect(AppNaming.dnsLabel(String(repeating: "r", count: 60)).count == 40)
    }
}
