import CCCICore
import Testing

@Suite struct ComposeSourceMaps {
    static let text = """
        version: "3.8"
        x-common: &common
          image: busybox:1.36
          healthcheck:
            test: ["CMD", "true"]
        services:
          app:
            <<: *common
            environment:
              TITLE: ${TITLE}
            deploy:
              labels:
                - "traefik.enable=true"
                - coop-cloud.${STACK_NAME}.version=1.0.0+1.36
          worker:
            image: busybox:1.36
        """

    @Test("keys and list items have their lines; list-form labels are also found by their key")
    func lines() throws {
        let map = try ComposeSourceMap.read(yaml: Self.text)
        #expect(map.line(of: ["version"]) == 1)
        #expect(map.line(of: ["services", "app"]) == 7)
        #expect(map.line(of: ["services", "app", "environment", "TITLE"]) == 10)
        #expect(map.line(of: ["services", "app", "deploy", "labels", "[1]"]) == 14)
        #expect(map.line(of: ["services", "app", "deploy", "labels", "traefik.enable"]) == 13)
        #expect(map.line(of: ["services", "app", "deploy", "labels", "coop-cloud.${STACK_NAME}.version"]) == 14)
        #expect(map.line(of: ["services", "worker", "healthcheck"]) == nil)
        #expect(map.nearestLine(of: ["services", "worker", "healthcheck", "test"]) == 15)
    }

    @Test("keys a merge key brings in are found under the mapping that merges them, at the anchor's lines")
    func mergeKeys() throws {
        let map = try ComposeSourceMap.read(yaml: Self.text)
        #expect(map.line(of: ["services", "app", "image"]) == 3)
        #expect(map.line(of: ["services", "app", "healthcheck"]) == 4)
        #expect(map.contains(["services", "app", "healthcheck", "test"]))
    }

    @Test("values keep the text as written, with their lines")
    func values() throws {
        let map = try ComposeSourceMap.read(yaml: Self.text)
        let title = try #require(map.values.first { $0.path == ["services", "app", "environment", "TITLE"] })
        #expect(title.text == "${TITLE}")
        #expect(title.line == 10)
        #expect(map.values.contains { $0.text == "coop-cloud.${STACK_NAME}.version=1.0.0+1.36" && $0.line == 14 })
    }

    @Test("invalid YAML is an error with the line the parser stopped at")
    func invalid() {
        #expect(throws: ComposeSourceMap.Failure.self) { try ComposeSourceMap.read(yaml: "a: [1, 2\nb: 3\n") }
        do {
            _ = try ComposeSourceMap.read(yaml: "services:\n  app:\n    image: a\n   bad: [\n")
        } catch {
            #expect(error.line == 4)
        }
    }

    @Test("the literal document keeps variables; load fills them in")
    func literal() throws {
        let literal = try ComposeDocument.literal(yaml: Self.text, name: "compose.yml")
        #expect(literal["services"]?["app"]?["environment"]?["TITLE"] == "${TITLE}")
        #expect(literal["services"]?["app"]?["deploy"]?["labels"]?["coop-cloud.${STACK_NAME}.version"] == "1.0.0+1.36")
        let loaded = try ComposeDocument.load(
            yaml: Self.text, name: "compose.yml", environment: ["TITLE": "t", "STACK_NAME": "s"])
        #expect(loaded["services"]?["app"]?["environment"]?["TITLE"] == "t")
        #expect(loaded["services"]?["app"]?["deploy"]?["labels"]?["coop-cloud.s.version"] == "1.0.0+1.36")
    }
}
