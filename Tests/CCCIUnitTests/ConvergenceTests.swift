import CCCICore
import CCCISwarm
import Foundation
import Testing

/// Convergence decisions on recorded-shape snapshots (the JSON the Engine API returns).
@Suite struct ConvergenceRules {
    static let spec1 = #"{"Image": "ccci-lab/busybox:latest", "Args": ["httpd"], "Env": ["V=1"]}"#
    static let spec2 = #"{"Image": "ccci-lab/busybox:latest", "Args": ["httpd"], "Env": ["V=2"]}"#

    static func service(
        id: String = "svc1", name: String = "st_app", replicas: Int = 1, global: Bool = false,
        update: String? = nil, spec: String = spec1, restart: String? = nil
    ) throws -> SwarmService {
        let restartPolicy = restart.map { #", "RestartPolicy": {"Condition": "\#($0)"}"# } ?? ""
        let mode = global ? #"{"Global": {}}"# : #"{"Replicated": {"Replicas": \#(replicas)}}"#
        let updateStatus = update.map { #", "UpdateStatus": {"State": "\#($0)"}"# } ?? ""
        let json = #"""
            {"ID": "\#(id)", "Version": {"Index": 10},
             "Spec": {"Name": "\#(name)", "Labels": {"com.docker.stack.namespace": "st"},
                      "TaskTemplate": {"ContainerSpec": \#(spec), "ForceUpdate": 0\#(restartPolicy)}, "Mode": \#(mode)}
             \#(updateStatus)}
            """#
        return try JSONDecoder().decode(SwarmService.self, from: Data(json.utf8))
    }

    static func task(
        id: String, service: String = "svc1", slot: Int? = 1, node: String = "n1", index: UInt64, state: String,
        desired: String = "running", error: String? = nil, spec: String = spec1, created: String? = nil
    ) throws -> SwarmTask {
        let err = error.map { #", "Err": "\#($0)""# } ?? ""
        let slotJSON = slot.map { #""Slot": \#($0),"# } ?? ""
        let json = #"""
            {"ID": "\#(id)", "ServiceID": "\#(service)", \#(slotJSON) "NodeID": "\#(node)",
             "Version": {"Index": \#(index)}, "CreatedAt": "2026-01-01T00:00:\#(created ?? String(format: "%02d", index))Z",
             "DesiredState": "\#(desired)", "Spec": {"ContainerSpec": \#(spec), "ForceUpdate": 0},
             "Status": {"State": "\#(state)", "ContainerStatus": {"ContainerID": "c-\#(id)"}\#(err)}}
            """#
        return try JSONDecoder().decode(SwarmTask.self, from: Data(json.utf8))
    }

    static func container(task: String, status: String) throws -> ContainerSummary {
        let json =
            #"{"Id": "c-\#(task)", "State": "running", "Status": "\#(status)", "Labels": {"com.docker.swarm.task.id": "\#(task)"}}"#
        return try JSONDecoder().decode(ContainerSummary.self, from: Data(json.utf8))
    }

    @Test("a running task on the current spec with a healthy container is converged")
    func runningHealthy() throws {
        let state = Convergence.evaluate(
            services: [try Self.service()], tasks: [try Self.task(id: "t1", index: 11, state: "running")],
            containers: [try Self.container(task: "t1", status: "Up 3 seconds (healthy)")])
        #expect(state.converged)
        #expect(state.services[0].running == 1)
    }

    @Test("a container whose healthcheck is still starting blocks; a starting task whose container is healthy does not")
    func healthDecides() throws {
        let starting = Convergence.evaluate(
            services: [try Self.service()], tasks: [try Self.task(id: "t1", index: 11, state: "running")],
            containers: [try Self.container(task: "t1", status: "Up 1 second (health: starting)")])
        #expect(!starting.converged)
        #expect(starting.services[0].blockers.contains { $0.contains("health starting") })
        let early = Convergence.evaluate(
            services: [try Self.service()], tasks: [try Self.task(id: "t1", index: 11, state: "starting")],
            containers: [try Self.container(task: "t1", status: "Up 4 seconds (healthy)")])
        #expect(early.converged)
        let notYet = Convergence.evaluate(
            services: [try Self.service()], tasks: [try Self.task(id: "t1", index: 11, state: "starting")],
            containers: [try Self.container(task: "t1", status: "Up 1 second (health: starting)")])
        #expect(!notYet.converged)
    }

    @Test("a healthcheck cc-ci ran and saw pass counts as healthy; docker's unhealthy still blocks")
    func probedHealth() throws {
        let tasks = [try Self.task(id: "t1", index: 11, state: "starting")]
        let starting = [try Self.container(task: "t1", status: "Up 1 second (health: starting)")]
        #expect(!Convergence.evaluate(services: [try Self.service()], tasks: tasks, containers: starting).converged)
        let probed = Convergence.evaluate(
            services: [try Self.service()], tasks: tasks, containers: starting, probedHealthy: ["c-t1"])
        #expect(probed.converged && probed.services[0].running == 1)
        let unhealthy = Convergence.evaluate(
            services: [try Self.service()], tasks: [try Self.task(id: "t1", index: 11, state: "running")],
            containers: [try Self.container(task: "t1", status: "Up 40 seconds (unhealthy)")], probedHealthy: ["c-t1"])
        #expect(!unhealthy.converged, "docker's verdict of unhealthy wins over an earlier pass")
        #expect(
            !Convergence.evaluate(
                services: [try Self.service()], tasks: tasks, containers: starting, probedHealthy: ["c-other"]
            ).converged)
    }

    @Test("a restart: none one-shot blocks while it runs and settles once complete; an on-failure service may run")
    func oneShotRunning() throws {
        let running = Convergence.evaluate(
            services: [try Self.service(restart: "none")],
            tasks: [try Self.task(id: "t1", index: 11, state: "running")],
            containers: [])
        #expect(!running.converged)
        #expect(running.services[0].blockers == ["slot 1: one-shot task still running (restart policy none)"])
        let daemon = Convergence.evaluate(
            services: [try Self.service(restart: "on-failure")],
            tasks: [try Self.task(id: "t1", index: 11, state: "running")], containers: [])
        #expect(daemon.converged)
    }

    @Test("the healthcheck command docker runs: CMD as argv, CMD-SHELL through /bin/sh, NONE and inherited not at all")
    func healthcheckCommand() {
        #expect(
            ContainerHealthcheck.command(["CMD", "wget", "-q", "http://127.0.0.1/"]) == [
                "wget", "-q", "http://127.0.0.1/",
            ])
        #expect(
            ContainerHealthcheck.command(["CMD-SHELL", "curl -f localhost || exit 1"]) == [
                "/bin/sh", "-c", "curl -f localhost || exit 1",
            ])
        #expect(ContainerHealthcheck.command(["NONE"]) == nil)
        #expect(
            ContainerHealthcheck.command([]) == nil && ContainerHealthcheck.command(nil) == nil
                && ContainerHealthcheck.command(["CMD"]) == nil)
    }

    @Test("a stop-first update showing N/N of the old tasks is not converged")
    func stopFirstUpdateRace() throws {
        // The service already has the new spec; its only running task still runs the old one.
        let updating = Convergence.evaluate(
            services: [try Self.service(update: "updating", spec: Self.spec2)],
            tasks: [try Self.task(id: "old", index: 11, state: "running", spec: Self.spec1)], containers: [])
        #expect(!updating.converged)
        #expect(updating.services[0].blockers.contains("update updating"))
        // Same, before swarm has even marked the update as started.
        let unmarked = Convergence.evaluate(
            services: [try Self.service(spec: Self.spec2)],
            tasks: [try Self.task(id: "old", index: 11, state: "running", spec: Self.spec1)], containers: [])
        #expect(!unmarked.converged)
        #expect(unmarked.services[0].blockers.contains { $0.contains("previous spec") })
    }

    @Test(
        "an update in its monitor period serves once the new spec's tasks alone are up; an old task still up, or a new one starting, does not"
    )
    func servingDuringMonitor() throws {
        let service = try Self.service(update: "updating", spec: Self.spec2)
        let new = try Self.task(id: "t2", index: 12, state: "running", spec: Self.spec2)
        let healthy = try Self.container(task: "t2", status: "Up 2 seconds (healthy)")
        // start-first: the old task is told to shut down but still runs.
        let overlapping = Convergence.evaluate(
            services: [service],
            tasks: [new, try Self.task(id: "t1", index: 13, state: "running", desired: "shutdown", created: "01")],
            containers: [healthy])
        #expect(!overlapping.converged && !overlapping.serving)
        let alone = Convergence.evaluate(
            services: [service],
            tasks: [new, try Self.task(id: "t1", index: 14, state: "shutdown", desired: "shutdown", created: "01")],
            containers: [healthy])
        #expect(!alone.converged, "swarm is still watching the update")
        #expect(alone.serving)
        let starting = Convergence.evaluate(
            services: [service], tasks: [try Self.task(id: "t2", index: 12, state: "starting", spec: Self.spec2)],
            containers: [try Self.container(task: "t2", status: "Up 1 second (health: starting)")])
        #expect(!starting.serving)
        let rollingBack = Convergence.evaluate(
            services: [try Self.service(update: "rollback_started", spec: Self.spec2)], tasks: [new],
            containers: [healthy])
        #expect(!rollingBack.serving)
    }

    @Test("paused and rollback_paused updates are settled; updating and rollback_started block")
    func updateStates() throws {
        for (update, converged) in [
            ("paused", true), ("rollback_paused", true), ("completed", true),
            ("updating", false), ("rollback_started", false),
        ] {
            let state = Convergence.evaluate(
                services: [try Self.service(update: update)],
                tasks: [try Self.task(id: "t1", index: 11, state: "running")], containers: [])
            #expect(state.converged == converged, "update state \(update)")
        }
    }

    @Test("a deficit made only of completed one-shot tasks is converged; a failed one-shot blocks")
    func oneShots() throws {
        let complete = Convergence.evaluate(
            services: [try Self.service(restart: "none")],
            tasks: [try Self.task(id: "t1", index: 11, state: "complete", desired: "shutdown")], containers: [])
        #expect(complete.converged)
        #expect(complete.services[0].completed == 1)
        let failed = Convergence.evaluate(
            services: [try Self.service(restart: "none")],
            tasks: [
                try Self.task(
                    id: "t1", index: 11, state: "failed", desired: "shutdown", error: "task: non-zero exit (1)")
            ],
            containers: [])
        #expect(!failed.converged)
        #expect(failed.services[0].lastError == "task: non-zero exit (1)")
        #expect(failed.services[0].summary.contains("non-zero exit"))
    }

    @Test("a completed task counts only on the current spec and when swarm will not restart it")
    func completedTasksNeedTheRightSpecAndPolicy() throws {
        // The base release's finished one-shot, just after the head was deployed over it.
        let previousSpec = Convergence.evaluate(
            services: [try Self.service(spec: Self.spec2, restart: "none")],
            tasks: [try Self.task(id: "t1", index: 11, state: "complete", desired: "shutdown", spec: Self.spec1)],
            containers: [])
        #expect(!previousSpec.converged)
        // A service that exits 0 under the default restart policy is restarted, not done.
        let restartAny = Convergence.evaluate(
            services: [try Self.service()],
            tasks: [try Self.task(id: "t1", index: 11, state: "complete", desired: "shutdown")], containers: [])
        #expect(!restartAny.converged)
        let onFailure = Convergence.evaluate(
            services: [try Self.service(restart: "on-failure")],
            tasks: [try Self.task(id: "t1", index: 11, state: "complete", desired: "shutdown")], containers: [])
        #expect(onFailure.converged)
    }

    @Test("failed, rejected and not-yet-running tasks block; the newest task of a slot decides")
    func newestTaskDecides() throws {
        for state in ["new", "pending", "assigned", "accepted", "preparing", "starting", "failed", "rejected"] {
            let snapshot = Convergence.evaluate(
                services: [try Self.service()], tasks: [try Self.task(id: "t1", index: 11, state: state)],
                containers: [])
            #expect(!snapshot.converged, "\(state) must block")
        }
        // An older failed attempt replaced by a running one does not block.
        let recovered = Convergence.evaluate(
            services: [try Self.service()],
            tasks: [
                try Self.task(id: "t1", index: 11, state: "failed", desired: "shutdown", error: "boom"),
                try Self.task(id: "t2", index: 14, state: "running"),
            ], containers: [])
        #expect(recovered.converged)
    }

    @Test("a start-first update: the new task, not the old one shut down after it, is the slot's current task")
    func startFirstUpdate() throws {
        // Shutting the old task down bumped its object version above the new task's.
        let old = try Self.task(
            id: "old", index: 20, state: "shutdown", desired: "shutdown", spec: Self.spec1, created: "10")
        let new = try Self.task(id: "new", index: 15, state: "running", spec: Self.spec2, created: "12")
        let state = Convergence.evaluate(
            services: [try Self.service(update: "completed", spec: Self.spec2)], tasks: [old, new], containers: [])
        #expect(state.converged, "\(state.services.map(\.summary))")
    }

    @Test("creation times sort as times although Go trims trailing zeros of the nanoseconds")
    func timestampOrder() {
        let earlier = Convergence.sortableTimestamp("2026-11-23T11:40:52.5Z")
        let later = Convergence.sortableTimestamp("2026-11-23T11:40:52.55Z")
        #expect(earlier < later)
        #expect(Convergence.sortableTimestamp("2026-11-23T11:40:52Z") < earlier)
    }

    @Test("slots retired by a scale-down are ignored; missing replicas block")
    func replicaCounting() throws {
        let scaledDown = Convergence.evaluate(
            services: [try Self.service(replicas: 1)],
            tasks: [
                try Self.task(id: "t1", slot: 1, index: 11, state: "running"),
                try Self.task(id: "t2", slot: 2, index: 12, state: "shutdown", desired: "shutdown"),
            ], containers: [])
        #expect(scaledDown.converged)
        let short = Convergence.evaluate(
            services: [try Self.service(replicas: 2)],
            tasks: [try Self.task(id: "t1", slot: 1, index: 11, state: "running")],
            containers: [])
        #expect(!short.converged)
        #expect(short.services[0].blockers == ["1/2 replicas settled"])
        let none = Convergence.evaluate(services: [try Self.service()], tasks: [], containers: [])
        #expect(!none.converged)
    }

    @Test("a global service counts one task per node")
    func globalService() throws {
        let state = Convergence.evaluate(
            services: [try Self.service(global: true)],
            tasks: [try Self.task(id: "t1", slot: nil, node: "n1", index: 11, state: "running")], containers: [])
        #expect(state.converged)
    }

    @Test("a stack without services is not converged")
    func emptyStack() {
        #expect(!Convergence.evaluate(services: [], tasks: [], containers: []).converged)
    }
}
