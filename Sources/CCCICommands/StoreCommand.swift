import ArgumentParser
import CCCICore
import CCCIStore
import Foundation

/// `ccci store`: the node's store.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Work with the node's store.", subcommands: [Migrate.self])

    /// `ccci store migrate --from … --to …`.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy this node's history, canonicals, sweeps and jobs from one store to another.",
            discussion: """
                Moves a node from its SQLite file to a PostgreSQL store several nodes share (or back). \
                Idempotent: run it again and what the target holds is counted, not copied. It refuses, \
                writing nothing, while the source has a running job (stop `ccci serve` first) or when the \
                target holds another node's job for one of the same runs. The target is created and \
                migrated when needed. Then set `store` in the node config to the target.

                  ccci store migrate --from sqlite:///var/lib/ccci/ccci.sqlite \\
                    --to postgres://ccci@db.example.org/ccci --to-password-file /etc/ccci/store-password
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("The store to copy from (default: the node's).", valueName: "url"))
        var from: String?

        @Option(help: ArgumentHelp("The store to copy to.", valueName: "url"))
        var to: String

        @Option(help: ArgumentHelp("The source's password file, when it is PostgreSQL.", valueName: "file"))
        var fromPasswordFile: String?

        @Option(help: ArgumentHelp("The target's password file, when it is PostgreSQL.", valueName: "file"))
        var toPasswordFile: String?

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() async throws {
            let config = try global.loadConfig()
            let source =
                try from.map { try Self.location($0, passwordFile: fromPasswordFile, option: "--from") }
                ?? config.storeLocation
            let target = try Self.location(to, passwordFile: toPasswordFile, option: "--to")
            guard source != target else {
                throw CommandFailure("--from and --to name the same store (\(target))", exitCode: 2)
            }
            let report: StoreMigration.Report
            do {
                let reading = try await Store.open(source, node: config.node, readingOnly: true)
                let writing = try await Store.open(target, node: config.node, connections: 4)
                report = try await StoreMigration(from: reading, to: writing, node: config.node).run()
            } catch let error as StoreError {
                throw CommandFailure("\(error)", exitCode: 2)
            } catch let refusal as StoreMigration.Refusal {
                throw CommandFailure("nothing copied: \(refusal)", exitCode: 2)
            }
            if json {
                print(String(decoding: try JSONCoding.prettyEncoder.encode(report), as: UTF8.self))
            } else {
                print("copied node \(config.node)'s store \(source) to \(target):")
                for line in report.lines { print("  \(line)") }
            }
        }

        /// A store URL given on the command line, with its password file.
        static func location(
            _ text: String, passwordFile: String?, option: String
        ) throws -> NodeConfig.StoreLocation {
            let parsed: NodeConfig.StoreLocation?
            do {
                parsed = try NodeConfig.StoreLocation(url: text)
            } catch {
                guard case .invalid(_, _, let message) = error else { throw error }
                throw CommandFailure("\(option) \(message)", exitCode: 2)
            }
            guard let parsed else {
                throw CommandFailure(
                    "\(option) '\(text)' is not a store URL (sqlite:///path or postgres://user@host/database)",
                    exitCode: 2)
            }
            if case .postgres(var location) = parsed {
                location.passwordFile = passwordFile
                return .postgres(location)
            }
            return parsed
        }
    }
}
