import CCCICore
import CCCISwarm
import Foundation

/// Gets every image of a deploy onto the node before `docker stack deploy` (SPEC F-PREPULL).
///
/// `pull`: each distinct image is first resolved at its registry (the engine's mirrors first for
/// Docker Hub), then pulled — at most `parallelism` at once, with the node's credentials — and
/// pinned to the digest pulled, so swarm runs exactly those bits. A failure names the image, the
/// registries asked and their own answers, and whose fault it is: the recipe's (a tag or
/// repository no registry has) or the node's (a registry that does not answer, missing or
/// refused credentials). `local`: each image must already be on the node.
public struct ImagePreparation: Sendable {
    public let engine: DockerEngine
    public let policy: NodeConfig.ImagePolicy
    public let registry: RegistryClient
    public let parallelism: Int
    /// How this node gets images it lacks under `local` (said in the error).
    public let localHint: String

    public init(
        engine: DockerEngine, policy: NodeConfig.ImagePolicy, registry: RegistryClient, parallelism: Int,
        localHint: String
    ) {
        self.engine = engine
        self.policy = policy
        self.registry = registry
        self.parallelism = max(1, parallelism)
        self.localHint = localHint
    }

    /// One image ready to deploy.
    public struct Prepared: Sendable, Hashable {
        /// What the deploy runs: `name:tag@digest` when pulled, the reference as written otherwise.
        public let deployReference: String
        public let digest: String?
        public let id: String
        public let source: String
        public let sizeBytes: Int64?
    }

    /// Prepares the images of `services` (service → image as written) and returns what each
    /// service deploys.
    public func prepare(_ services: [String: String]) async throws -> [String: Prepared] {
        let images = Array(Set(services.values)).sorted()
        let prepared: [String: Prepared]
        switch policy {
        case .local: prepared = try await checkLocal(images, services: services)
        case .pull: prepared = try await pullAll(images, services: services)
        }
        return services.compactMapValues { prepared[$0] }
    }

    func checkLocal(_ images: [String], services: [String: String]) async throws -> [String: Prepared] {
        var found: [String: Prepared] = [:]
        var missing: [String] = []
        for image in images {
            guard let details = try await engine.inspectImage(image) else {
                missing.append(image)
                continue
            }
            let familiar = (try? ImageReference(image))?.familiarName
            found[image] = Prepared(
                deployReference: image, digest: familiar.flatMap { details.repoDigest(of: $0) }, id: details.Id,
                source: "local", sizeBytes: details.Size)
        }
        guard missing.isEmpty else { throw DriverError.missingImages(missing, hint: localHint) }
        return found
    }

    func pullAll(_ images: [String], services: [String: String]) async throws -> [String: Prepared] {
        var results: [String: Result<Prepared, ImageUnavailable>] = [:]
        await withTaskGroup(of: (String, Result<Prepared, ImageUnavailable>).self) { group in
            var pending = images[...]
            func startNext() {
                guard let image = pending.popFirst() else { return }
                let users = services.filter { $0.value == image }.keys.sorted()
                group.addTask {
                    do {
                        return (image, .success(try await pull(image, services: users)))
                    } catch let error as ImageUnavailable {
                        return (image, .failure(error))
                    } catch {
                        return (
                            image,
                            .failure(
                                ImageUnavailable(
                                    image: image, services: users, fault: .node,
                                    detail: "the engine's pull failed: \(error)"))
                        )
                    }
                }
            }
            for _ in 0..<parallelism { startNext() }
            for await (image, result) in group {
                results[image] = result
                startNext()
            }
        }
        let failures = images.compactMap { image -> ImageUnavailable? in
            if case .failure(let error) = results[image] { return error }
            return nil
        }
        if !failures.isEmpty { throw ImagesUnavailable(failures: failures) }
        return results.compactMapValues { try? $0.get() }
    }

    func pull(_ image: String, services: [String]) async throws -> Prepared {
        let reference: ImageReference
        do {
            reference = try ImageReference(image)
        } catch {
            throw ImageUnavailable(image: image, services: services, fault: .recipe, detail: error.description)
        }
        let attempts = await registry.resolve(reference)
        guard
            let (registryHost, digest) = attempts.lazy.compactMap({ attempt -> (String, String)? in
                if case .found(let digest) = attempt.answer { return (attempt.registry, digest) }
                return nil
            }).first
        else {
            let verdict = Self.unavailable(image: image, services: services, attempts: attempts, registry: registry)
            // No registry answered cc-ci (a proxy, plain HTTP, a network only dockerd reaches):
            // the engine may still pull it; if it cannot either, the node's failure stands.
            let answered = attempts.contains {
                switch $0.answer {
                case .absent, .unauthorized: return true
                default: return false
                }
            }
            guard !answered else { throw verdict }
            return try await pullByEngine(reference, image: image, services: services, after: verdict)
        }
        // Pulled by the digest the registry answered, so the bits are the ones resolved, and
        // tagged as written (no second manifest fetch) so `docker image ls` shows it so.
        let auth = registry.credentials.engineHeader(for: reference.registry)
        let byDigest = "\(reference.familiarName)@\(digest)"
        do {
            try await engine.pullImage(byDigest, registryAuth: auth)
            if let tag = reference.tag, reference.digest == nil {
                try await engine.tagImage(byDigest, repository: reference.familiarName, tag: tag)
            }
        } catch {
            throw ImageUnavailable(
                image: image, services: services, fault: .node,
                detail: "\(registryHost) has it (\(digest)) but the engine's pull failed: \(error)")
        }
        guard let details = try await engine.inspectImage(byDigest) else {
            throw ImageUnavailable(
                image: image, services: services, fault: .node,
                detail: "the engine pulled \(byDigest) but does not list it")
        }
        return Prepared(
            deployReference: reference.pinned(to: digest), digest: digest, id: details.Id,
            source: "pulled from \(registryHost)", sizeBytes: details.Size)
    }

    /// The engine's own pull, when no registry answered cc-ci's resolution.
    func pullByEngine(
        _ reference: ImageReference, image: String, services: [String], after verdict: ImageUnavailable
    ) async throws -> Prepared {
        do {
            try await engine.pullImage(
                reference.description, registryAuth: registry.credentials.engineHeader(for: reference.registry))
        } catch {
            throw ImageUnavailable(
                image: image, services: services, fault: .node,
                detail: "\(verdict.detail); the engine's own pull failed too: \(error)")
        }
        guard let details = try await engine.inspectImage(reference.description),
            let digest = reference.digest ?? details.repoDigest(of: reference.familiarName)
        else {
            throw ImageUnavailable(
                image: image, services: services, fault: .node,
                detail: "\(verdict.detail); the engine pulled it but names no digest for it")
        }
        return Prepared(
            deployReference: reference.pinned(to: digest), digest: digest, id: details.Id,
            source: "pulled by the engine (cc-ci reached no registry)", sizeBytes: details.Size)
    }

    /// Whose fault a failed resolution is, from every registry's answer.
    public static func unavailable(
        image: String, services: [String], attempts: [RegistryClient.Attempt], registry: RegistryClient
    ) -> ImageUnavailable {
        let answers = attempts.map { "\($0.registry) answered \($0.answer)" }.joined(separator: "; ")
        let credentialsFile = registry.credentials.source.map { "in \($0)" } ?? "(set registry_auth in the node config)"
        for attempt in attempts {
            if case .absent = attempt.answer {
                return ImageUnavailable(
                    image: image, services: services, fault: .recipe,
                    detail: "no registry has it — \(answers). Fix the image or tag in the recipe")
            }
        }
        for attempt in attempts {
            if case .unauthorized(_, _, let hadCredentials) = attempt.answer {
                return ImageUnavailable(
                    image: image, services: services, fault: .node,
                    detail: hadCredentials
                        ? "\(attempt.registry) refused the node's credentials — \(answers). Fix its login \(credentialsFile)"
                        : "\(attempt.registry) asks for credentials the node does not have — \(answers). "
                            + "Add a login for \(attempt.registry) \(credentialsFile)")
            }
        }
        return ImageUnavailable(
            image: image, services: services, fault: .node,
            detail: "no registry answered — \(answers). Check the registry and the node's network")
    }
}

/// An image a deploy cannot get, and whose fault that is.
public struct ImageUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Fault: String, Sendable, Hashable {
        /// The recipe names an image or tag no registry has (fix the recipe).
        case recipe
        /// The node cannot reach a registry or lacks credentials (fix the node, not the recipe).
        case node
    }

    public let image: String
    public let services: [String]
    public let fault: Fault
    public let detail: String

    public var description: String {
        let owner = fault == .recipe ? "the recipe's failure" : "the node's failure, not the recipe's"
        return "image \(image) (service\(services.count == 1 ? "" : "s") \(services.joined(separator: ", "))): "
            + "\(owner): \(detail)"
    }
}

/// Every image a deploy could not get.
public struct ImagesUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    public let failures: [ImageUnavailable]

    /// The node's fault when any failure is (a node that cannot pull says nothing about a recipe).
    public var fault: ImageUnavailable.Fault { failures.contains { $0.fault == .node } ? .node : .recipe }

    public var description: String {
        failures.count == 1
            ? failures[0].description
            : "\(failures.count) images unavailable: " + failures.map(\.description).joined(separator: " | ")
    }
}
