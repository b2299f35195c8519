import CCCICore
import CCCIDeploy

extension LabIngress {
    /// What a lab node's driver tells after every deploy and removal: its ingress, which resyncs
    /// its routes (`ingress = "lab"`). `nil` on a production node, where traefik watches the
    /// swarm itself.
    public static func forNode(_ config: NodeConfig) -> DriverFactory.Ingress? {
        guard config.ingress == .lab else { return nil }
        let adminSocket = config.ingressAdminSocket
        let lockFile = config.labDirectory.appendingPathComponent("ingress/sync.lock")
        return { engine in LabIngress(engine: engine, adminSocket: adminSocket, lockFile: lockFile) }
    }
}
