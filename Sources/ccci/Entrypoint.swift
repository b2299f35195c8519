import CCCICommands

@main
struct Entrypoint {
    static func main() async {
        LoggingSetup.bootstrap()
        await CCCI.main()
    }
}
