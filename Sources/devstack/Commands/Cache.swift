import Application
import ArgumentParser
import Foundation

extension Devstack {
    struct Cache: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cache",
            abstract: "The download cache of registry blobs (snapshot seeds, pulled archives), shared by every environment.",
            subcommands: [List.self, Prune.self], defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the cached blobs, largest first.")

            func run() {
                let cache = BlobCache.live()
                let entries = cache.entries()
                for entry in entries { print("\(entry.digest)  \(Bytes.format(entry.bytes))") }
                print(Terminal.dim("\(entries.count) blob(s), \(Bytes.format(entries.reduce(0) { $0 + $1.bytes })) in \(cache.root)"))
            }
        }

        struct Prune: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove the blobs no environment's latest revision seeds from (all of them with --all).")

            @Flag(name: .long, help: "Remove every cached blob.") var all = false
            @OptionGroup var store: StoreOptions

            func run() throws {
                let workspace = all ? nil : try? store.openForReading()
                let (removed, kept) = try RegistryUseCases.prune(workspace: workspace, all: all)
                print("removed \(removed.count) blob(s) (\(Bytes.format(removed.reduce(0) { $0 + $1.bytes }))); kept \(kept.count) (\(Bytes.format(kept.reduce(0) { $0 + $1.bytes })))")
            }
        }
    }
}
