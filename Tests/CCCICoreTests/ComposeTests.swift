import CCCICore
import CCCITestSupport
import Foundation
import Testing

/// Parses and merges compose texts the way `docker stack deploy -c a -c b` does.
func composeProject(_ texts: String..., environment: [String: String] = [:]) throws -> ComposeProject {
    var merged = JSONValue.object([:])
    for (index, text) in texts.enumerated() {
        merged = ComposeDocument.merge(
            merged, try ComposeDocument.load(yaml: text, name: "compose\(index).yml", environment: environment))
    }
    return try ComposeProject(document: merged, files: texts.indices.map { "compose\($0).yml" })
}

@Suite struct ComposeParsing {
    @Test("list-form and map-form labels and environment read the same")
    func listAndMapForms() throws {
        let list = try composeProject(
            """
            services:
              app:
                image: nginx
                labels: ["a=1", "b=x=y"]
                environment:
                  - FOO=bar
                  - EMPTY=
                  - PASSTHROUGH
                deploy:
                  labels:
                    - "traefik.enable=true"
                    - coop-cloud.${STACK_NAME}.version=1.0.0+1
            """, environment: ["STACK_NAME": "s_t"])
        let map = try composeProject(
            """
            services:
              app:
                image: nginx
                labels: {a: "1", b: "x=y"}
                environment:
                  FOO: bar
                  EMPTY: ""
                  PASSTHROUGH:
                deploy:
                  labels:
                    traefik.enable: "true"
                    coop-cloud.s_t.version: 1.0.0+1
            """)
        for project in [list, map] {
            let app = try #require(project.services["app"])
            #expect(app.containerLabels == ["a": "1", "b": "x=y"])
            #expect(app.deployLabels == ["traefik.enable": "true", "coop-cloud.s_t.version": "1.0.0+1"])
            #expect(app.environment["FOO"] == .some("bar"))
            #expect(app.environment["EMPTY"] == .some(""))
            #expect(app.environment.keys.contains("PASSTHROUGH"), "a name without a value is kept")
            #expect(app.environment["PASSTHROUGH"] == .some(nil), "and has no value")
        }
    }

    @Test("non-string map values (numbers, booleans) read as their text")
    func scalarValues() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                environment: {PORT: 8787, DEBUG: true}
                deploy:
                  labels: {traefik.enable: true, traefik.http.services.x.loadbalancer.server.port: 80}
            """)
        let app = try #require(project.services["app"])
        #expect(app.environment["PORT"] == .some("8787"))
        #expect(app.environment["DEBUG"] == .some("true"))
        #expect(app.deployLabels["traefik.enable"] == "true")
        #expect(app.deployLabels["traefik.http.services.x.loadbalancer.server.port"] == "80")
    }

    @Test("values are interpolated but mapping keys are not, as docker stack deploy does")
    func interpolatesValuesOnly() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: nginx:${TAG:-1.25}
                environment:
                  ${KEY}: ${VALUE}
            """, environment: ["KEY": "k", "VALUE": "v"])
        let app = try #require(project.services["app"])
        #expect(app.image == "nginx:1.25")
        #expect(app.environment["${KEY}"] == .some("v"))
    }

    @Test("an interpolation error names the file")
    func interpolationErrorNamesFile() throws {
        let error = #expect(throws: ComposeError.self) {
            try composeProject("services:\n  app:\n    image: ${IMAGE:?set IMAGE}\n")
        }
        guard case .requiredVariable(let location, let name, let message) = error else {
            Issue.record("expected a required-variable error, got \(String(describing: error))")
            return
        }
        #expect(location.hasPrefix("compose0.yml"))
        #expect(name == "IMAGE")
        #expect(message == "set IMAGE")
    }

    @Test("invalid YAML, a non-mapping document and a file without services are errors naming the file")
    func documentErrors() {
        let error = #expect(throws: ComposeError.self) {
            try ComposeDocument.load(yaml: "services: [unclosed", name: "bad.yml", environment: [:])
        }
        if case .invalidYAML(let file, _) = error {
            #expect(file == "bad.yml")
        } else {
            Issue.record("expected an invalid-YAML error, got \(String(describing: error))")
        }
        #expect(throws: ComposeError.notAMapping(file: "list.yml", key: "(top level)")) {
            try ComposeDocument.load(yaml: "- a\n- b\n", name: "list.yml", environment: [:])
        }
        #expect(throws: ComposeError.noServices(files: ["compose0.yml"])) {
            try composeProject("version: '3.8'\nvolumes:\n  data:\n")
        }
    }

    @Test("short volume syntax: named volumes, binds, read-only, anonymous, trailing slash trimmed")
    func shortVolumes() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                volumes:
                  - "data:/var/lib/data/"
                  - db:/var/lib/mysql:ro
                  - ./conf:/etc/conf:ro,z
                  - /host/logs:/logs
                  - /anonymous
            """)
        let volumes = try #require(project.services["app"]).volumes
        #expect(volumes.count == 5)
        #expect(volumes[0].type == "volume")
        #expect(volumes[0].source == "data")
        #expect(volumes[0].target == "/var/lib/data")
        #expect(!volumes[0].readOnly)
        #expect(volumes[1].readOnly)
        #expect(volumes[2].type == "bind")
        #expect(volumes[2].readOnly)
        #expect(volumes[3].type == "bind")
        #expect(volumes[3].source == "/host/logs")
        #expect(volumes[4].source == nil)
        #expect(volumes[4].target == "/anonymous")
        let named = try #require(project.services["app"]).namedVolumes
        #expect(named.map(\.source) == ["data", "db"])
    }

    @Test("long volume syntax reads type, source, target and read_only")
    func longVolumes() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                volumes:
                  - type: volume
                    source: data
                    target: /data
                    read_only: true
                  - type: bind
                    source: ./x
                    target: /x
                  - type: tmpfs
                    target: /tmp
            """)
        let app = try #require(project.services["app"])
        #expect(app.volumes.map(\.type) == ["volume", "bind", "tmpfs"])
        #expect(app.volumes[0].readOnly)
        #expect(!app.volumes[1].readOnly)
        #expect(app.namedVolumes.map(\.target) == ["/data"])
    }

    @Test("ports: short forms with host IP and protocol, bare numbers, and the long form")
    func ports() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                ports:
                  - "8080:80"
                  - "127.0.0.1:5353:53/udp"
                  - "9000"
                  - 7000
                  - target: 443
                    published: 8443
                    protocol: tcp
                    mode: host
            """)
        let ports = try #require(project.services["app"]).ports
        #expect(ports.count == 5)
        #expect(ports[0].published == 8080 && ports[0].target == 80 && ports[0].protocolName == "tcp")
        #expect(ports[1].published == 5353 && ports[1].target == 53 && ports[1].protocolName == "udp")
        #expect(ports[2].published == nil && ports[2].target == 9000)
        #expect(ports[3].published == nil && ports[3].target == 7000)
        #expect(ports[4].published == 8443 && ports[4].target == 443 && ports[4].mode == "host")
        #expect(ports[0].mode == "ingress")
    }

    @Test("healthchecks: list test, string test as CMD-SHELL, disable and NONE")
    func healthchecks() throws {
        let project = try composeProject(
            """
            services:
              list:
                image: x
                healthcheck:
                  test: ["CMD", "curl", "-f", "http://localhost"]
                  interval: 30s
                  start_period: 1m
              string:
                image: x
                healthcheck:
                  test: curl -f http://localhost || exit 1
              disabled:
                image: x
                healthcheck:
                  disable: true
              none:
                image: x
                healthcheck:
                  test: ["NONE"]
              absent:
                image: x
            """)
        let list = try #require(project.services["list"]?.healthcheck)
        #expect(list.test == ["CMD", "curl", "-f", "http://localhost"])
        #expect(list.interval == "30s")
        #expect(list.startPeriod == "1m")
        #expect(!list.disabled)
        #expect(project.services["string"]?.healthcheck?.test == ["CMD-SHELL", "curl -f http://localhost || exit 1"])
        #expect(project.services["disabled"]?.healthcheck?.disabled == true)
        #expect(project.services["none"]?.healthcheck?.disabled == true)
        #expect(project.services["absent"]?.healthcheck == nil)
    }

    @Test("deploy settings: replicas, mode, restart policy; condition none makes a one-shot service")
    func deploySettings() throws {
        let project = try composeProject(
            """
            services:
              web:
                image: x
                deploy:
                  replicas: 2
                  restart_policy:
                    condition: on-failure
              job:
                image: x
                deploy:
                  restart_policy:
                    condition: none
              agent:
                image: x
                deploy:
                  mode: global
              plain:
                image: x
            """)
        let web = try #require(project.services["web"])
        #expect(web.replicas == 2)
        #expect(web.mode == "replicated")
        #expect(web.restartCondition == "on-failure")
        #expect(!web.isOneShot)
        #expect(try #require(project.services["job"]).isOneShot)
        #expect(project.services["agent"]?.mode == "global")
        #expect(project.services["plain"]?.replicas == nil)
        #expect(project.services["plain"]?.isOneShot == false)
    }

    @Test("secrets, configs and networks referenced by a service, in short and long form")
    func references() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                secrets:
                  - db_password
                  - source: api_key
                    target: /run/secrets/key
                configs:
                  - source: nginx_conf
                    target: /etc/nginx.conf
                networks: [proxy, internal]
              db:
                image: y
                networks:
                  internal:
                    aliases: [database]
            networks:
              proxy:
                external: true
              internal:
            secrets:
              db_password:
                external: true
                name: custom_name
              api_key:
                external: true
            configs:
              nginx_conf:
                file: nginx.conf
            """)
        let app = try #require(project.services["app"])
        #expect(app.secrets == ["db_password", "api_key"])
        #expect(app.configs == ["nginx_conf"])
        #expect(app.networks == ["internal", "proxy"])
        #expect(project.services["db"]?.networks == ["internal"])
        #expect(project.networks["proxy"]?.external == true)
        #expect(project.networks["internal"]?.external == false)
        #expect(project.secrets["db_password"]?.name == "custom_name")
        #expect(project.secrets["db_password"]?.external == true)
        #expect(project.configs["nginx_conf"]?.file == "nginx.conf")
        #expect(project.configs["nginx_conf"]?.external == false)
    }

    @Test("a named volume's docker name is <stack>_<volume> unless the volume sets `name:`")
    func dockerVolumeNames() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
            volumes:
              data:
              fixed:
                name: shared_fixed
            """)
        #expect(project.dockerVolumeName("data", stack: "app_ci_test") == "app_ci_test_data")
        #expect(project.dockerVolumeName("fixed", stack: "app_ci_test") == "shared_fixed")
        #expect(project.volumes["fixed"]?.name == "shared_fixed")
    }

    @Test("images are listed once each, sorted; service names are sorted")
    func images() throws {
        let project = try composeProject(
            """
            services:
              web: {image: "nginx:1.25"}
              worker: {image: "app:2"}
              cron: {image: "app:2"}
              build: {build: .}
            """)
        #expect(project.images == ["app:2", "nginx:1.25"])
        #expect(project.serviceNames == ["build", "cron", "web", "worker"])
    }
}

@Suite struct ComposeMerging {
    static let base = """
        services:
          app:
            image: app:1.0
            environment:
              - A=1
              - B=2
            labels: [keep=yes]
            deploy:
              labels:
                - traefik.enable=true
                - traefik.http.routers.r.rule=Host(`a.example.org`)
            volumes:
              - data:/data
              - logs:/logs
            ports:
              - "8080:80"
              - "9090:90"
            secrets:
              - db_password
            networks: [internal]
          db:
            image: mariadb:10.6
        volumes:
          data:
          logs:
        """

    static let override = """
        services:
          app:
            image: app:2.0
            environment:
              B: overridden
              C: "3"
            deploy:
              labels:
                traefik.http.routers.r.rule: Host(`b.example.org`)
                extra: label
            volumes:
              - other:/data
              - cache:/cache
            ports:
              - "8080:80/tcp"
              - "7070:70"
            secrets:
              - source: db_password
                target: /run/secrets/pw
              - api_key
            networks: [proxy]
          smtp:
            image: postfix
        volumes:
          other:
          cache:
        """

    @Test("a later file's image replaces the earlier one; services from both files exist")
    func imageAndServices() throws {
        let project = try composeProject(Self.base, Self.override)
        #expect(project.services["app"]?.image == "app:2.0")
        #expect(project.serviceNames == ["app", "db", "smtp"])
        #expect(project.services["db"]?.image == "mariadb:10.6")
        #expect(Set(project.volumes.keys) == ["data", "logs", "other", "cache"])
    }

    @Test("labels and environment merge by key, across list and map forms")
    func labelsAndEnvironment() throws {
        let app = try #require(try composeProject(Self.base, Self.override).services["app"])
        #expect(app.environment == ["A": "1", "B": "overridden", "C": "3"])
        #expect(
            app.deployLabels == [
                "traefik.enable": "true", "traefik.http.routers.r.rule": "Host(`b.example.org`)", "extra": "label",
            ])
        #expect(app.containerLabels == ["keep": "yes"])
    }

    @Test("volumes merge by target: the later mount at /data replaces the earlier one")
    func volumesByTarget() throws {
        let app = try #require(try composeProject(Self.base, Self.override).services["app"])
        let byTarget = Dictionary(uniqueKeysWithValues: app.volumes.map { ($0.target, $0.source) })
        #expect(app.volumes.count == 3)
        #expect(byTarget["/data"] == "other")
        #expect(byTarget["/logs"] == "logs")
        #expect(byTarget["/cache"] == "cache")
    }

    @Test("ports merge by published port, target and protocol")
    func portsByIdentity() throws {
        let app = try #require(try composeProject(Self.base, Self.override).services["app"])
        let pairs = app.ports.map { "\($0.published ?? 0):\($0.target)" }.sorted()
        #expect(pairs == ["7070:70", "8080:80", "9090:90"])
    }

    @Test("secrets merge by source: a long-form entry replaces the short one of the same secret")
    func secretsBySource() throws {
        let project = try composeProject(Self.base, Self.override)
        let app = try #require(project.services["app"])
        #expect(app.secrets.sorted() == ["api_key", "db_password"])
        let raw = try #require(project.document["services"]?["app"]?["secrets"]?.arrayValue)
        #expect(raw.count == 2)
        #expect(raw.contains { $0["target"]?.stringValue == "/run/secrets/pw" })
    }

    @Test("network lists are unioned")
    func networksUnion() throws {
        let app = try #require(try composeProject(Self.base, Self.override).services["app"])
        #expect(app.networks == ["internal", "proxy"])
    }

    @Test("lists without a merge identity (command) are replaced by the later file")
    func replacedLists() throws {
        let project = try composeProject(
            "services:\n  app:\n    image: x\n    command: [a, b]\n",
            "services:\n  app:\n    command: [c]\n")
        #expect(project.document["services"]?["app"]?["command"] == .array(["c"]))
        #expect(project.services["app"]?.image == "x")
    }

    @Test("ComposeProject.load merges COMPOSE_FILE files from the recipe in order and reports a missing one")
    func loadFromDisk() throws {
        let directory = try TemporaryDirectory()
        try "services:\n  app:\n    image: app:${VERSION}\n".write(
            to: directory.appending("compose.yml"), atomically: true, encoding: .utf8)
        try "services:\n  app:\n    deploy:\n      replicas: 3\n".write(
            to: directory.appending("compose.extra.yml"), atomically: true, encoding: .utf8)
        let project = try ComposeProject.load(
            recipeRoot: directory.url, files: ["compose.yml", "compose.extra.yml"], environment: ["VERSION": "7"],
            recipe: "demo")
        #expect(project.files == ["compose.yml", "compose.extra.yml"])
        #expect(project.services["app"]?.image == "app:7")
        #expect(project.services["app"]?.replicas == 3)
        #expect(throws: ComposeError.missingFile(file: "compose.nope.yml", recipe: "demo")) {
            try ComposeProject.load(
                recipeRoot: directory.url, files: ["compose.yml", "compose.nope.yml"], environment: [:],
                recipe: "demo")
        }
        #expect(ComposeError.missingFile(file: "compose.nope.yml", recipe: "demo").description.contains("COMPOSE_FILE"))
    }
}

@Suite struct TraefikRoutes {
    func routes(_ labels: [String: String]) -> [TraefikRoute] {
        TraefikRoute.routes(service: "app", labels: labels)
    }

    @Test("a Host rule with several backticked hosts yields every host, with the service's single port")
    func severalHosts() {
        let found = routes([
            "traefik.enable": "true",
            "traefik.http.routers.web.rule": "Host(`a.example.org`, `www.a.example.org`)",
            "traefik.http.services.web.loadbalancer.server.port": "8080",
        ])
        #expect(found.count == 1)
        #expect(found.first?.hosts == ["a.example.org", "www.a.example.org"])
        #expect(found.first?.port == 8080)
        #expect(found.first?.pathPrefix == nil)
        #expect(found.first?.router == "web")
        #expect(found.first?.service == "app")
    }

    @Test("hosts from several Host matchers are collected")
    func orHosts() {
        let found = routes([
            "traefik.enable": "true",
            "traefik.http.routers.web.rule": "Host(`a.example.org`) || Host(`b.example.org`)",
        ])
        #expect(found.first?.hosts == ["a.example.org", "b.example.org"])
        #expect(found.first?.port == nil, "no loadbalancer port label: no port")
    }

    @Test("Host(`a`) && PathPrefix(`/x`) yields the host and the path prefix; priority is read")
    func pathPrefix() {
        let found = routes([
            "traefik.enable": "true",
            "traefik.http.routers.cms.rule": "Host(`a.example.org`) && PathPrefix(`/fss-cms`)",
            "traefik.http.routers.cms.priority": "100",
            "traefik.http.services.cms.loadbalancer.server.port": "8787",
        ])
        #expect(found.first?.hosts == ["a.example.org"])
        #expect(found.first?.pathPrefix == "/fss-cms")
        #expect(found.first?.priority == 100)
        #expect(found.first?.port == 8787)
    }

    @Test("a router's port comes from the traefik service its `.service` label names")
    func portViaRouterService() {
        let found = routes([
            "traefik.enable": "true",
            "traefik.http.routers.web.rule": "Host(`a.example.org`)",
            "traefik.http.routers.web.service": "websvc",
            "traefik.http.routers.api.rule": "Host(`api.example.org`)",
            "traefik.http.routers.api.service": "apisvc",
            "traefik.http.services.websvc.loadbalancer.server.port": "80",
            "traefik.http.services.apisvc.loadbalancer.server.port": "3000",
        ])
        #expect(found.map(\.router) == ["api", "web"])
        #expect(found.map(\.port) == [3000, 80])
    }

    @Test("with several traefik services and no `.service` label, the port is unknown")
    func ambiguousPort() {
        let found = routes([
            "traefik.enable": "true",
            "traefik.http.routers.web.rule": "Host(`a.example.org`)",
            "traefik.http.services.one.loadbalancer.server.port": "80",
            "traefik.http.services.two.loadbalancer.server.port": "81",
        ])
        #expect(found.count == 1)
        #expect(found.first?.port == nil)
    }

    @Test("without traefik.enable=true there are no routes", arguments: [nil, "false", "no"] as [String?])
    func enableRequired(enable: String?) {
        var labels = [
            "traefik.http.routers.web.rule": "Host(`a.example.org`)",
            "traefik.http.services.web.loadbalancer.server.port": "80",
        ]
        labels["traefik.enable"] = enable
        #expect(routes(labels).isEmpty)
    }

    @Test("traefik.enable is case-insensitive")
    func enableCase() {
        #expect(routes(["traefik.enable": "True", "traefik.http.routers.w.rule": "Host(`a.b`)"]).count == 1)
    }

    @Test("HostRegexp and HostSNI are not mistaken for Host")
    func hostRegexpIsNotHost() {
        #expect(
            routes(["traefik.enable": "true", "traefik.http.routers.w.rule": "HostRegexp(`{sub:[a-z]+}.a.org`)"])
                .isEmpty)
        #expect(routes(["traefik.enable": "true", "traefik.http.routers.w.rule": "HostSNI(`a.org`)"]).isEmpty)
        let mixed = routes([
            "traefik.enable": "true",
            "traefik.http.routers.w.rule": "HostRegexp(`{sub:[a-z]+}.x.org`) || Host(`real.x.org`)",
        ])
        #expect(mixed.first?.hosts == ["real.x.org"])
    }

    @Test("a router without a Host matcher yields no route")
    func noHost() {
        #expect(routes(["traefik.enable": "true", "traefik.http.routers.w.rule": "PathPrefix(`/api`)"]).isEmpty)
    }

    @Test("a project's routes come from its services' deploy labels, not container labels")
    func projectRoutes() throws {
        let project = try composeProject(
            """
            services:
              web:
                image: x
                deploy:
                  labels:
                    - traefik.enable=true
                    - traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)
                    - traefik.http.services.${STACK_NAME}.loadbalancer.server.port=80
              sidecar:
                image: y
                labels:
                  - traefik.enable=true
                  - traefik.http.routers.side.rule=Host(`side.example.org`)
            """, environment: ["STACK_NAME": "a_ci_test", "DOMAIN": "a.ci.test"])
        #expect(project.routes.count == 1)
        #expect(project.routes.first?.service == "web")
        #expect(project.routes.first?.router == "a_ci_test")
        #expect(project.routes.first?.hosts == ["a.ci.test"])
        #expect(project.routes.first?.port == 80)
    }
}

@Suite struct BackupPlans {
    @Test("no service labelled backupbot.backup=true: no plan")
    func noPlan() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                volumes: [data:/data]
                deploy:
                  labels: [backupbot.backup=false]
            volumes:
              data:
            """)
        #expect(BackupPlan(project: project) == nil)
    }

    @Test("a labelled service backs up every named volume it mounts, not binds or tmpfs")
    func allNamedVolumes() throws {
        let project = try composeProject(
            """
            services:
              db:
                image: mariadb
                volumes:
                  - mariadb:/var/lib/mysql
                  - config:/etc/mysql/conf.d
                  - ./local:/local
                  - type: tmpfs
                    target: /tmp
                deploy:
                  labels: [backupbot.backup=true]
              app:
                image: x
                volumes: [uploads:/uploads]
            volumes:
              mariadb:
              config:
              uploads:
            """)
        let plan = try #require(BackupPlan(project: project))
        #expect(plan.services.map(\.service) == ["db"])
        let volumes = try #require(plan.services.first).volumes
        #expect(volumes.map(\.name) == ["mariadb", "config"])
        #expect(volumes.map(\.mountPath) == ["/var/lib/mysql", "/etc/mysql/conf.d"])
        #expect(volumes.allSatisfy { $0.paths.isEmpty })
    }

    @Test("backupbot.backup.volumes.<v>=false excludes a volume; .path limits one to paths inside it")
    func volumeLabels() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                volumes: [data:/data, cache:/cache, db:/var/lib/db]
                deploy:
                  labels:
                    backupbot.backup: "True"
                    backupbot.backup.volumes.cache: "false"
                    backupbot.backup.volumes.data.path: "/uploads, config/ ,"
            volumes:
              data:
              cache:
              db:
            """)
        let service = try #require(BackupPlan(project: project)?.services.first)
        #expect(service.volumes.map(\.name) == ["data", "db"])
        #expect(service.volumes.first { $0.name == "data" }?.paths == ["uploads", "config"])
        #expect(service.volumes.first { $0.name == "db" }?.paths == [])
    }

    @Test("legacy backupbot.backup.path names container paths: volumes they fall in are kept, others dropped")
    func legacyPaths() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                volumes: [data:/data, db:/var/lib/db, other:/other]
                deploy:
                  labels:
                    - backupbot.backup=true
                    - backupbot.backup.path=/data,/var/lib/db/dumps, /var/lib/db/extra
            volumes:
              data:
              db:
              other:
            """)
        let service = try #require(BackupPlan(project: project)?.services.first)
        #expect(service.volumes.map(\.name) == ["data", "db"], "`other` holds no listed path")
        #expect(service.volumes[0].paths == [], "the mount point itself means the whole volume")
        #expect(service.volumes[1].paths == ["dumps", "extra"])
    }

    @Test("a legacy path that is a prefix of a mount only by characters does not select it")
    func legacyPathBoundary() throws {
        let project = try composeProject(
            """
            services:
              app:
                image: x
                volumes: [data:/data, data2:/data2]
                deploy:
                  labels: [backupbot.backup=true, backupbot.backup.path=/data2]
            volumes:
              data:
              data2:
            """)
        let service = try #require(BackupPlan(project: project)?.services.first)
        #expect(service.volumes.map(\.name) == ["data2"])
    }

    @Test("backup and restore hooks are read from the labels")
    func hooks() throws {
        let project = try composeProject(
            """
            services:
              db:
                image: postgres
                volumes: [pg:/var/lib/postgresql/data]
                deploy:
                  labels:
                    backupbot.backup: "true"
                    backupbot.backup.pre-hook: pg_dump -f /var/lib/postgresql/data/dump.sql
                    backupbot.backup.post-hook: rm /var/lib/postgresql/data/dump.sql
                    backupbot.restore.pre-hook: "true"
                    backupbot.restore.post-hook: psql -f /var/lib/postgresql/data/dump.sql
              web:
                image: x
                deploy:
                  labels: [backupbot.backup=true]
            volumes:
              pg:
            """)
        let plan = try #require(BackupPlan(project: project))
        #expect(plan.services.map(\.service) == ["db", "web"])
        let db = plan.services[0]
        #expect(db.backupPreHook == "pg_dump -f /var/lib/postgresql/data/dump.sql")
        #expect(db.backupPostHook == "rm /var/lib/postgresql/data/dump.sql")
        #expect(db.restorePreHook == "true")
        #expect(db.restorePostHook == "psql -f /var/lib/postgresql/data/dump.sql")
        #expect(plan.services[1].backupPreHook == nil)
        #expect(plan.services[1].volumes.isEmpty)
    }
}
