import CCCICommands
import CCCIRunner

@main
struct Entrypoint {
    static func main() async {
        LifetimeGuards.recordParentAtLaunch()
        LoggingSetup.bootstrap()
        await CCCI.main()
    }
}
