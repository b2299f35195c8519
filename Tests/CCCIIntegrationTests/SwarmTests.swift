import CCCICore
import CCCIDeploy
import CCCIGit
import CCCISwarm
import CCCISystem
import CCCITestSupport
import Foundation
import Testing

extension Integration {
    /// The swarm layer below every driver, on the real engine: convergence as cc-ci judges it,
    /// and removals that leave nothing behind.
    @Suite struct Swarm {
        @Test("a service whose update is paused, back at N/N on the current spec, counts as settled")
        func pausedUpdateIsSettled() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-paused")
                let stack = TestSession.stackName("paused")
                // Each spec version fails its very first start, then runs: an update's first new
                // task fails inside the monitor window, so swarm pauses the update — and then
                // restarts the task, which runs.
                let inline = try InlineStack(
                    stack,
                    compose: """
                        version: "3.8"
                        services:
                          app:
                            image: ccci-lab/busybox:latest
                            init: true
                            command: ["sh", "-c", "if [ -f /state/started-$$SPEC ]; then exec httpd -f -p 8080 -h /; else touch /state/started-$$SPEC; exit 1; fi"]
                            environment:
                              - SPEC=${SPEC}
                            volumes:
                              - state:/state
                            deploy:
                              endpoint_mode: dnsrr
                              restart_policy:
                                condition: any
                                delay: 1s
                              update_config:
                                failure_action: pause
                                monitor: 10s
                        volumes:
                          state:

                        """, in: work.url)
                let left = try await TestEnvironment.withStack(stack, engine: engine) {
                    try await inline.deploy(environment: ["SPEC": "one"])
                    try await inline.waitConverged(engine: engine)
                    try await inline.deploy(environment: ["SPEC": "two"])
                    // Wait (bounded) for swarm to pause the update.
                    var updateState: String?
                    _ = try await poll(
                        until: { () async throws -> Bool in
                            updateState = try await engine.service("\(stack)_app").UpdateStatus?.State
                            return updateState == "paused"
                        }, timeout: .seconds(60),
                        backoff: Backoff(initial: .milliseconds(250), maximum: .milliseconds(250)))
                    #expect(updateState == "paused", "swarm did not pause the update (state \(updateState ?? "none"))")
                    let state = try await inline.waitConverged(engine: engine)
                    let service = try #require(state.services.first)
                    #expect(service.updateState == "paused")
                    #expect(service.running == 1)
                }
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test(
            "a 30 s healthcheck interval: converged as soon as the healthcheck passes when cc-ci runs it, not at docker's first probe; one that fails never converges"
        )
        func healthcheckProbedEarly() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-probe")
                func compose(_ test: String) -> String {
                    """
                    version: "3.8"
                    services:
                      app:
                        image: ccci-lab/busybox:latest
                        init: true
                        command: ["sh", "-c", "touch /tmp/up; exec sleep 3600"]
                        healthcheck:
                          test: \(test)
                          interval: 30s
                          timeout: 2s
                          retries: 3
                        deploy:
                          endpoint_mode: dnsrr

                    """
                }
                let good = TestSession.stackName("probe")
                let bad = TestSession.stackName("probebad")
                let goodFolder = work.appending("good")
                let badFolder = work.appending("bad")
                for folder in [goodFolder, badFolder] {
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                }
                let healthy = try InlineStack(
                    good, compose: compose("[\"CMD\", \"test\", \"-f\", \"/tmp/up\"]"), in: goodFolder)
                let failing = try InlineStack(bad, compose: compose("[\"CMD-SHELL\", \"exit 1\"]"), in: badFolder)
                let left = try await TestEnvironment.withStack(good, engine: engine) {
                    try await healthy.deploy()
                    let clock = ContinuousClock()
                    let start = clock.now
                    let state = try await healthy.waitConverged(engine: engine, timeout: .seconds(25))
                    #expect(clock.now - start < .seconds(10), "converged long before docker's first probe at 30 s")
                    #expect(state.services.first?.running == 1)
                    // Docker itself has not probed yet: the pass was cc-ci's run of the same command.
                    let container = try #require(
                        try await engine.containers(labels: ["com.docker.stack.namespace=\(good)"], all: false).first)
                    #expect(container.health == "starting")
                    // The stability window holds it, re-running the healthcheck at its end.
                    let window = StabilityWindow(engine: engine)
                    try await window.verify(try await window.baseline(stack: good), window: .seconds(1))
                }
                #expect(left.isEmpty, "\(left.summary)")
                let leftBad = try await TestEnvironment.withStack(bad, engine: engine) {
                    try await failing.deploy()
                    do {
                        try await failing.waitConverged(engine: engine, timeout: .seconds(8))
                        Issue.record("a healthcheck that fails must not count as healthy")
                    } catch let timeout as ConvergenceTimeout {
                        #expect(
                            timeout.description.contains("health starting")
                                || timeout.description.contains("task starting"), "\(timeout)")
                    }
                }
                #expect(leftBad.isEmpty, "\(leftBad.summary)")
            }
        }

        @Test(
            "the stability window starts when the tasks now up turned running: an update whose monitor outlasted stable_for has proven it, a fresh task has not"
        )
        func windowOverlapsTheUpdateMonitor() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-overlap")
                let stack = TestSession.stackName("overlap")
                func compose(_ generation: Int) -> String {
                    """
                    version: "3.8"
                    services:
                      app:
                        image: ccci-lab/busybox:latest
                        init: true
                        command: ["sh", "-c", "touch /tmp/up; exec sleep 3600"]
                        environment:
                          - GENERATION=\(generation)
                        healthcheck:
                          test: ["CMD", "test", "-f", "/tmp/up"]
                          interval: 1s
                          timeout: 1s
                          retries: 2
                        deploy:
                          endpoint_mode: dnsrr
                          update_config:
                            order: stop-first
                            monitor: 4s

                    """
                }
                let first = try InlineStack(stack, compose: compose(1), in: work.url)
                let left = try await TestEnvironment.withStack(stack, engine: engine) {
                    try await first.deploy()
                    _ = try await first.waitConverged(engine: engine, timeout: .seconds(60))
                    let window = StabilityWindow(engine: engine)
                    // Just converged on a fresh deploy: the window is all ahead.
                    let fresh = try await window.baseline(stack: stack)
                    #expect(fresh.converged.timeIntervalSince(fresh.start) < 3)
                    // An update: swarm watches the new task for its 4 s monitor before it calls
                    // the update completed, and cc-ci counts those seconds.
                    try await InlineStack(stack, compose: compose(2), in: work.url).deploy()
                    _ = try await first.waitConverged(engine: engine, timeout: .seconds(60))
                    let updated = try await window.baseline(stack: stack)
                    #expect(
                        updated.converged.timeIntervalSince(updated.start) >= 3,
                        "start \(updated.start), converged \(updated.converged)")
                    // And it holds: the same task, no container of it died or turned unhealthy.
                    try await window.verify(updated, window: .seconds(3))
                }
                #expect(left.isEmpty, "\(left.summary)")
            }
        }

        @Test(
            "a stack removed while its tasks are starting, or while a container ignores SIGTERM, leaves nothing — and nothing appears after"
        )
        func removalLeavesNothingBehind() async throws {
            try await TestEnvironment.withEngine { engine in
                let work = try TemporaryDirectory("ccci-removal")
                let stack = TestSession.stackName("removal")
                // `sleep` as PID 1 ignores SIGTERM, and a minute's grace: swarm keeps its tasks
                // for a while after their containers are gone.
                let inline = try InlineStack(
                    stack,
                    compose: """
                        version: "3.8"
                        services:
                          app:
                            image: ccci-lab/busybox:latest
                            command: ["sleep", "3600"]
                            stop_grace_period: 1m
                            volumes: ["data:/data"]
                            deploy: { endpoint_mode: dnsrr, replicas: 2 }
                        volumes:
                          data:

                        """, in: work.url)
                let janitor = StackJanitor(engine: engine, ownership: .stackNamespace)
                /// Nothing of the stack exists now, nor during the next `seconds`: no agent still
                /// creates a container (or its volume) for a task of a removed service.
                func expectNothingAppears(for seconds: Int, _ when: String) async throws {
                    for _ in 0..<(seconds * 4) {
                        let left = try await janitor.residue(stack: stack)
                        #expect(left.isEmpty, "\(when): \(left.summary)")
                        if !left.isEmpty { return }
                        try await Task.sleep(for: .milliseconds(250))
                    }
                }
                // At once: the tasks are new or being prepared.
                try await inline.deploy()
                let early = try await janitor.remove(stack: stack)
                #expect(early.isEmpty, "removed while starting: \(early.summary)")
                try await expectNothingAppears(for: 5, "after a removal while starting")
                // Running: the removal force-removes the containers rather than wait out the grace.
                let left = try await TestEnvironment.withStack(stack, engine: engine) {
                    try await inline.deploy()
                    try await inline.waitConverged(engine: engine)
                }
                #expect(left.isEmpty, "removed while running: \(left.summary)")
                try await expectNothingAppears(for: 3, "after a removal while running")
            }
        }
    }
}
