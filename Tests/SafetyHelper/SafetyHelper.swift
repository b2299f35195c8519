import CCCICore
import CCCIRunner
import CCCISystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Helper processes for the real-kernel safety tests: they hold real app locks and install the
/// real lifetime guards, and report what happens by appending lines to a marker file.
///
///     hold <lockdir> <domain> <out>                 take the app lock, mark ACQUIRED <time>, sleep
///     hold-with-child <lockdir> <domain> <out>      the same, plus a child that sleeps (CHILD <pid>)
///     guarded <lockdir> <domain> <out> <deadline>   arm the guards, take the lock, mark READY; on a
///                                                   stop mark TEARDOWN <why>, tear down for 1 s
///                                                   (marking IGNORED <signal> for signals then), exit
///                                                   with the run's exit code
///     wrapper <lockdir> <domain> <out>              start `guarded … 3600` as a child, mark WRAPPED <pid>
///     spawn-orphan <out>                            start orphan-probe and exit at once
///     orphan-probe <out> <parent>                   once re-parented, arm the guards: REFUSED or GUARDS_OK
/// The app domain a test passed (`<app>.<its CI domain>`), checked as a run would check it.
func appDomain(_ text: String) -> AppDomain {
    let ciDomain = text.split(separator: ".", maxSplits: 1).last.map(String.init) ?? text
    guard let domain = try? AppNaming(ciDomain: ciDomain).appDomain(text) else {
        SafetyHelper.fail("not an app domain: \(text)")
    }
    return domain
}

@main
struct SafetyHelper {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // As `ccci run` does: arm on the main thread, before any await.
        if arguments.first == "guarded" { LifetimeGuards.armAtLaunch() } else { LifetimeGuards.recordParentAtLaunch() }
        guard let command = arguments.first else { fail("no command") }
        switch command {
        case "hold", "hold-with-child":
            let (directory, domain, out) = (URL(fileURLWithPath: arguments[1]), appDomain(arguments[2]), arguments[3])
            do {
                try await AppLocks.acquire(domain: domain, in: directory) { mark(out, "WAITING") }
            } catch {
                fail("acquire: \(error)")
            }
            mark(out, "ACQUIRED \(Date().timeIntervalSince1970)")
            if command == "hold-with-child" {
                let child = Process()
                child.executableURL = URL(fileURLWithPath: "/bin/sleep")
                child.arguments = ["3600"]
                try? child.run()
                mark(out, "CHILD \(child.processIdentifier)")
            }
            sleepForever()
        case "guarded":
            let (directory, domain, out) = (URL(fileURLWithPath: arguments[1]), appDomain(arguments[2]), arguments[3])
            let deadline = Duration.seconds(Int64(arguments[4]) ?? 3600)
            let armed: Int32
            do {
                armed = try LifetimeGuards.requireArmed()
            } catch {
                mark(out, "REFUSED \(error)")
                exit(2)
            }
            let lifetime = await RunLifetime(deadline: deadline) { signal in mark(out, "IGNORED \(signal)") }
            let start = ContinuousClock.now
            do {
                try await AppLocks.acquire(domain: domain, in: directory) {}
            } catch {
                fail("acquire: \(error)")
            }
            mark(out, "READY \(getpid()) pdeathsig=\(armed)")
            guard let reason = try? await lifetime.waitForStop(startedAt: start) else { fail("no stop") }
            lifetime.beginTeardown()
            mark(out, "TEARDOWN \(reason.description)")
            try? await Task.sleep(for: .seconds(1))  // the teardown funnel at work
            mark(out, "DONE")
            exit(reason.outcome.exitCode)
        case "wrapper":
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["guarded", arguments[1], arguments[2], arguments[3], "3600"]
            do {
                try child.run()
            } catch {
                fail("spawn: \(error)")
            }
            mark(arguments[3], "WRAPPED \(child.processIdentifier)")
            sleepForever()
        case "spawn-orphan":
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["orphan-probe", arguments[1], String(getpid())]
            try? child.run()
            exit(0)
        case "orphan-probe":
            let (out, parent) = (arguments[1], pid_t(arguments[2]) ?? 0)
            for _ in 0..<200 where getppid() == parent { usleep(50_000) }
            guard getppid() != parent else { fail("never re-parented") }
            do {
                try LifetimeGuards.armParentDeath(originalParent: parent)
                mark(out, "GUARDS_OK")
            } catch {
                mark(out, "REFUSED \(error)")
            }
        default:
            fail("unknown command \(command)")
        }
    }

    static func mark(_ file: String, _ line: String) {
        let handle =
            FileHandle(forWritingAtPath: file)
            ?? {
                _ = FileManager.default.createFile(atPath: file, contents: nil)
                return FileHandle(forWritingAtPath: file)!
            }()
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try? handle.close()
    }

    static func sleepForever() -> Never {
        while true { sleep(3600) }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("safety-helper: \(message)\n".utf8))
        exit(70)
    }
}
