import Foundation

/// One service's image as it was deployed (SPEC F-PREPULL): what the recipe wrote, and which
/// bits ran — the registry's manifest digest when pulled, the image id always.
public struct DeployedImage: Sendable, Hashable, Codable {
    /// Which app deployed it: `head`, `upgrade-base` (the release an upgrade starts from) or
    /// `upgrade` (the head redeployed over it).
    public var app: String
    public let service: String
    /// The reference as the recipe wrote it (interpolated).
    public let image: String
    /// The manifest digest (`sha256:…`) the registry answered and the engine pulled; `nil` for
    /// an image the node had locally (image_policy = local) without one.
    public let digest: String?
    /// The engine's image id (`sha256:` of the image config).
    public let id: String
    /// Where it came from: `pulled from <registry>` or `local`.
    public let source: String
    public let sizeBytes: Int64?

    public init(
        app: String, service: String, image: String, digest: String?, id: String, source: String, sizeBytes: Int64?
    ) {
        self.app = app
        self.service = service
        self.image = image
        self.digest = digest
        self.id = id
        self.source = source
        self.sizeBytes = sizeBytes
    }

    enum CodingKeys: String, CodingKey {
        case app, service, image, digest, id, source
        case sizeBytes = "size_bytes"
    }
}
