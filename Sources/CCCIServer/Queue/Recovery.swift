import CCCICore
import CCCIStore
import CCCISystem
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension JobWorkers {
    /// Jobs a dead server of this node left `running` (SPEC F-QUEUE; another node's jobs, whose
    /// pids mean nothing here, are that node's to recover): their runs are stopped if they outlived
    /// it (SIGTERM, then SIGKILL after ``orphanGrace``), the janitor's rule finishes them (`ccci
    /// janitor`: leftover process groups ended, the run recorded `interrupted`, its apps reaped),
    /// and each job is queued again once, its pull request told (``JobPolicy/interrupt(_:reason:in:links:)``).
    func recover() async {
        let orphans: [Job]
        do {
            orphans = try await store.jobsOfThisNode(in: [.running])
        } catch {
            logger.error("cannot read the queue to recover running jobs", metadata: ["error.message": "\(error)"])
            return
        }
        guard !orphans.isEmpty else { return }
        logger.notice(
            "recovering jobs a stopped server left running", metadata: ["job.ids": "\(orphans.map(\.number))"])
        for job in orphans {
            guard let pid = job.pid, let start = job.processStart, ProcessStart.isRunning(pid, startTime: UInt64(start))
            else { continue }
            logger.notice(
                "its run outlived the server: stopping it", metadata: ["job.id": "\(job.number)", "run.pid": "\(pid)"])
            _ = kill(-pid, SIGTERM)
            let clock = ContinuousClock()
            let deadline = clock.now + orphanGrace
            while ProcessStart.isRunning(pid, startTime: UInt64(start)), clock.now < deadline {
                try? await Task.sleep(for: .milliseconds(200))
            }
            if ProcessStart.isRunning(pid, startTime: UInt64(start)) { _ = kill(-pid, SIGKILL) }
        }
        await runJanitor()
        let links = self.links
        for job in orphans {
            do {
                try await record(job.number) { job, queue in
                    try JobPolicy.interrupt(&job, reason: "the server stopped while it ran", in: queue, links: links)
                }
            } catch {
                logger.error(
                    "cannot requeue a recovered job",
                    metadata: ["job.id": "\(job.number)", "error.message": "\(error)"])
            }
        }
        replies.signal()
    }

    /// `ccci janitor`, logged line by line. A janitor that fails is logged: the next run's own
    /// janitor reaps what is left.
    func runJanitor() async {
        do {
            let result = try await ProcessRunner().run(
                Command(
                    executable.path, ["janitor"], environment: environment.mapValues { $0 }, cleanEnvironment: true))
            for line in result.output.split(separator: "\n") {
                logger.notice("\(line)", metadata: ["janitor.exit": "\(result.status)"])
            }
            if result.status != 0 {
                logger.warning("the janitor did not finish cleanly", metadata: ["janitor.stderr": "\(result.tail())"])
            }
        } catch {
            logger.error("cannot run the janitor", metadata: ["error.message": "\(error)"])
        }
    }
}
