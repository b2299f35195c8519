import CCCICore
import CCCIDeploy
import CCCISwarm
import CCCISystem
import Logging

extension NativeDriver {
    /// The native driver as this node needs it: on a lab node (`ingress = "lab"`) told to resync
    /// the lab's ingress after every deploy and removal; on a production node, where traefik
    /// watches the swarm itself, on its own.
    public static func onNode(
        config: NodeConfig, engine: DockerEngine, runner: ProcessRunner = ProcessRunner(), logger: Logger,
        secrets: SecretRegistry = SecretRegistry()
    ) -> NativeDriver {
        let ingress: LabIngress? =
            config.ingress == .lab
            ? LabIngress(
                engine: engine, adminSocket: config.ingressAdminSocket,
                lockFile: config.labDirectory.appendingPathComponent("ingress/sync.lock"))
            : nil
        return NativeDriver(
            config: config, engine: engine, runner: runner, logger: logger, secrets: secrets, ingress: ingress)
    }
}
