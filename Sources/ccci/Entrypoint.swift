import CCCICommands
import CCCIRunner

@main
struct Entrypoint {
    static func main() async {
        // On the main thread, before any await (see LifetimeGuards): `ccci run` arms its
        // parent-death guard here; the others only note their parent.
        if CommandLine.arguments.dropFirst().first == "run" {
            LifetimeGuards.armAtLaunch()
        } else {
            LifetimeGuards.recordParentAtLaunch()
        }
        LoggingSetup.bootstrap()
        await CCCI.runAsMain()
    }
}
