import CCCICore
import CCCITestSupport
import Foundation
import Testing

/// The real-world recipe files copied into `Fixtures/real-recipes` (their sources: its README).
@Suite struct RealRecipes {
    static let recipes = ["custom-php-2021", "foodsharing-cms", "gaseous"]

    func load(_ recipe: String, domain: String) throws -> ResolvedAppEnv {
        let root = TestEnvironment.realRecipesRoot.appendingPathComponent(recipe)
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("compose.yml").path) else {
            throw TestSetupError("the real recipe fixtures are missing at \(root.path)")
        }
        return try ResolvedAppEnv.load(recipeRoot: root, recipe: recipe, domain: domain)
    }

    static func stack(_ domain: String) -> String { domain.replacingOccurrences(of: ".", with: "_") }

    @Test("each real recipe's compose file parses and COMPOSE_FILE resolves to compose.yml", arguments: recipes)
    func parses(recipe: String) throws {
        let domain = "test-abcdef.ci.ccci.test"
        let resolved = try load(recipe, domain: domain)
        #expect(resolved.env.composeFiles == ["compose.yml"])
        #expect(resolved.project.files == ["compose.yml"])
        #expect(!resolved.project.services.isEmpty)
        #expect(resolved.env.values["DOMAIN"] == domain)
        #expect(resolved.env.stackName == Self.stack(domain))
        #expect(resolved.deployEnvironment["STACK_NAME"] == Self.stack(domain))
        #expect(resolved.composeFileURLs.map(\.lastPathComponent) == ["compose.yml"])
    }

    @Test("custom-php-2021: services, images, TYPE kept, both database secrets with their docker names")
    func customPHP() throws {
        let domain = "cust-5f3102.ci.ccci.test"
        let stack = Self.stack(domain)
        let resolved = try load("custom-php-2021", domain: domain)
        #expect(resolved.project.serviceNames == ["app", "db", "frontend"])
        #expect(resolved.project.images == ["mariadb:10.6", "nginx:1.19.2", "php:8.0-fpm-alpine3.13"])
        #expect(resolved.env.values["TYPE"] == "custom-php", "the sample's TYPE is kept")
        #expect(resolved.secrets.map(\.name) == ["db_password", "db_root_password"])
        #expect(resolved.secrets.map(\.dockerName) == ["\(stack)_db_password_v1", "\(stack)_db_root_password_v1"])
        #expect(resolved.secrets.allSatisfy { $0.version == "v1" && $0.length == nil && $0.generate })
        let db = try #require(resolved.project.services["db"])
        #expect(db.secrets == ["db_password", "db_root_password"])
        #expect(db.deployLabels["coop-cloud.\(stack).db.version"] == "10.6-718cb856")
        let app = try #require(resolved.project.services["app"])
        #expect(app.environment.keys.contains("PHP_EXTENSIONS_TO_DISABLE"))
        #expect(app.volumes.first?.target == "/var/www/html")
        #expect(resolved.project.networks["proxy"]?.external == true)
    }

    @Test("custom-php-2021: the frontend's traefik route serves the domain on port 80")
    func customPHPRoute() throws {
        let domain = "cust-5f3102.ci.ccci.test"
        let routes = try load("custom-php-2021", domain: domain).project.routes
        #expect(routes.count == 1)
        let route = try #require(routes.first)
        #expect(route.service == "frontend")
        #expect(route.router == Self.stack(domain))
        #expect(route.hosts == [domain], "the unset EXTRA_DOMAINS adds no host")
        #expect(route.port == 80)
        #expect(route.pathPrefix == nil)
    }

    @Test("custom-php-2021 and gaseous have no backupbot service", arguments: ["custom-php-2021", "gaseous"])
    func noBackup(recipe: String) throws {
        #expect(try load(recipe, domain: "test-abcdef.ci.ccci.test").backup == nil)
    }

    @Test("foodsharing-cms: the cms_token secret, the /fss-cms route on port 8787 with priority 100")
    func foodsharing() throws {
        let domain = "food-0a1b2c.ci.ccci.test"
        let stack = Self.stack(domain)
        let resolved = try load("foodsharing-cms", domain: domain)
        #expect(resolved.env.values["DOMAIN"] == domain, "DOMAIN=foodsharing.se is replaced by the app's domain")
        #expect(resolved.secrets.map(\.name) == ["cms_token"])
        #expect(resolved.secrets.first?.dockerName == "\(stack)_cms_token_v1")
        let route = try #require(resolved.project.routes.first)
        #expect(resolved.project.routes.count == 1)
        #expect(route.service == "app")
        #expect(route.hosts == [domain])
        #expect(route.pathPrefix == "/fss-cms")
        #expect(route.port == 8787)
        #expect(route.priority == 100)
        let app = try #require(resolved.project.services["app"])
        #expect(app.environment["CORS_ORIGINS"] == .some("*"), "${CORS_ORIGINS:-*} reads the sample's value")
        #expect(app.environment["SEED_ON_EMPTY"] == .some("true"))
        #expect(app.healthcheck?.test == ["CMD", "wget", "-qO-", "http://localhost:8787/api/health"])
    }

    @Test("foodsharing-cms: the backupbot service is app, covering the whole cms_data volume via legacy path /data")
    func foodsharingBackup() throws {
        let plan = try #require(try load("foodsharing-cms", domain: "food-0a1b2c.ci.ccci.test").backup)
        #expect(plan.services.map(\.service) == ["app"])
        let volumes = try #require(plan.services.first).volumes
        #expect(volumes.map(\.name) == ["cms_data"])
        #expect(volumes.first?.mountPath == "/data")
        #expect(volumes.first?.paths == [])
    }

    @Test("gaseous: the placeholder domain is replaced and the app's route serves it on port 80")
    func gaseous() throws {
        let domain = "gase-123abc.ci.ccci.test"
        let resolved = try load("gaseous", domain: domain)
        #expect(resolved.env.values["DOMAIN"] == domain)
        #expect(resolved.secrets.isEmpty)
        #expect(resolved.project.serviceNames == ["app", "db"])
        let route = try #require(resolved.project.routes.first)
        #expect(resolved.project.routes.count == 1)
        #expect(route.service == "app")
        #expect(route.hosts == [domain])
        #expect(route.port == 80)
        #expect(resolved.project.services["app"]?.restartCondition == "on-failure")
    }

    @Test("overrides reach compose interpolation: EXTRA_DOMAINS adds a host to the route")
    func overridesReachCompose() throws {
        let domain = "gase-123abc.ci.ccci.test"
        let root = TestEnvironment.realRecipesRoot.appendingPathComponent("gaseous")
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: root, recipe: "gaseous", domain: domain,
            overrides: ["EXTRA_DOMAINS": ", `www.\(domain)`"])
        #expect(resolved.project.routes.first?.hosts == [domain, "www.\(domain)"])
    }

    @Test("an extra compose file (the pack's overlay) is merged after the recipe's own")
    func extraComposeFile() throws {
        let directory = try TemporaryDirectory()
        let overlay = directory.appending("compose.ccci.yml")
        try "services:\n  app:\n    environment:\n      - CI=yes\n".write(
            to: overlay, atomically: true, encoding: .utf8)
        let root = TestEnvironment.realRecipesRoot.appendingPathComponent("gaseous")
        let resolved = try ResolvedAppEnv.load(
            recipeRoot: root, recipe: "gaseous", domain: "gase-123abc.ci.ccci.test", extraComposeFiles: [overlay])
        #expect(resolved.project.services["app"]?.environment["CI"] == .some("yes"))
        #expect(resolved.project.services["app"]?.environment["TZ"] == .some("Australia/Sydney"))
        #expect(resolved.project.files == ["compose.yml", overlay.path])
    }

    @Test("a recipe directory without .env.sample is an error naming the file")
    func missingSample() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: RecipeError.self) {
            try ResolvedAppEnv.load(recipeRoot: directory.url, recipe: "empty", domain: "a.b.c")
        }
        let description = RecipeError.missingFile(recipe: "empty", file: ".env.sample", root: "/x").description
        #expect(description.contains(".env.sample"))
        #expect(description.contains("empty"))
    }
}
