import ArgumentParser
import CCCICore
import CCCIGit
import Foundation

/// `ccci recipe …`: read a recipe repository the way a run does.
struct RecipeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe", abstract: "Inspect a recipe repository.", subcommands: [Versions.self, Env.self])

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "List releases oldest → newest (annotated version tags), the latest, and tags that are not releases.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Path of the recipe's git repository.")
        var repository: String

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let url = URL(fileURLWithPath: repository)
            let set: ReleaseSet
            do {
                set = try await Git().releases(in: url)
            } catch {
                throw CommandFailure("cannot read the tags of \(repository): \(error)", exitCode: 2)
            }
            if json {
                let document: JSONValue = [
                    "releases": .array(
                        set.releases.map {
                            ["version": .string($0.version.raw), "commit": .string($0.tag.commit), "annotated": true]
                        }),
                    "latest": set.latest.map { .string($0.version.raw) } ?? .null,
                    "not_releases": .array(
                        set.lightweight.map { ["tag": .string($0.name), "reason": "lightweight tag (not annotated)"] }
                            + set.other.map { ["tag": .string($0.name), "reason": "not a recipe version"] }),
                ]
                print(String(decoding: try JSONCoding.prettyEncoder.encode(document), as: UTF8.self))
                return
            }
            if set.releases.isEmpty { print("no releases (no annotated version tags)") }
            for release in set.releases {
                let marker = release == set.latest ? "  (latest)" : ""
                print("\(release.version.raw)  annotated  \(release.tag.commit.prefix(12))\(marker)")
            }
            for tag in set.lightweight {
                print("\(tag.name)  lightweight — not a release (re-tag it with `git tag -a`)")
            }
            for tag in set.other {
                print("\(tag.name)  not a recipe version — ignored")
            }
        }
    }

    struct Env: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show the app env a deploy of this recipe would use: compose files, secrets (never values), env keys.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Path of the recipe (its checkout).")
        var recipePath: String

        @Option(help: "The app domain.")
        var domain: String

        @Option(help: "The recipe name (default: the directory name).")
        var recipe: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let root = URL(fileURLWithPath: recipePath)
            let name = recipe ?? root.standardizedFileURL.lastPathComponent
            let resolved: ResolvedAppEnv
            do {
                resolved = try ResolvedAppEnv.load(recipeRoot: root, recipe: name, domain: domain)
            } catch {
                throw CommandFailure("\(error)", exitCode: 2)
            }
            if json {
                print(String(decoding: try JSONCoding.prettyEncoder.encode(resolved.summary), as: UTF8.self))
                return
            }
            print("recipe: \(name)")
            print("domain: \(domain)")
            print("stack: \(resolved.env.stackName)")
            print("compose files: \(resolved.env.composeFiles.joined(separator: ", "))")
            print("services: \(resolved.project.serviceNames.joined(separator: ", "))")
            print("images: \(resolved.project.images.joined(separator: ", "))")
            print("secrets:")
            if resolved.secrets.isEmpty { print("  none") }
            for secret in resolved.secrets {
                print(
                    "  \(secret.name)  version \(secret.version)  length \(secret.length.map(String.init) ?? "default (\(SecretSpec.defaultLength))")  → \(secret.dockerName)"
                )
            }
            if let plan = resolved.backup {
                for service in plan.services {
                    let volumes = service.volumes.map {
                        $0.paths.isEmpty ? $0.name : "\($0.name) (\($0.paths.joined(separator: ", ")))"
                    }
                    print("backup: \(service.service) — volumes \(volumes.joined(separator: ", "))")
                }
            } else {
                print("backup: not capable (no service has backupbot.backup=true)")
            }
            for route in resolved.project.routes {
                print(
                    "route: \(route.hosts.joined(separator: ", "))\(route.pathPrefix ?? "") → \(route.service):\(route.port.map(String.init) ?? "?")"
                )
            }
            print("env keys: \(resolved.env.values.keys.sorted().joined(separator: ", "))")
        }
    }
}
