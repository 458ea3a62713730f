import Application
import ArgumentParser
import Reconciler

extension Devstack {
    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot",
            abstract: "Save, restore, list and remove snapshots of an environment's named volumes.",
            subcommands: [SnapshotSave.self, SnapshotRestore.self, SnapshotList.self, SnapshotRemove.self])
    }

    struct SnapshotSave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "save", abstract: "Archive named volumes (all, one service's, or one) while their services are stopped, then start them again.")

        @Argument(help: "A name for the snapshot.") var name: String
        @Option(name: .long, help: "Only the volumes this service mounts.") var service: String?
        @Option(name: .long, help: "Only this volume (its name in the environment file).") var volume: String?
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions

        func validate() throws {
            if service != nil && volume != nil { throw ValidationError("pass --service or --volume, not both") }
        }

        func run() async throws {
            let workspace = try store.openExisting()
            try await SnapshotUseCases.save(workspace: workspace, environment: try workspace.environment(environment.env), name: name,
                                            service: service, volume: volume, settings: converge.settings, sink: Output.sink())
        }
    }

    struct SnapshotRestore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore", abstract: "Put a snapshot back: stop the services using its volumes, restore them, start the services and wait until they are healthy.")

        @Argument(help: "The snapshot to restore.") var name: String
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions

        func run() async throws {
            let workspace = try store.openExisting()
            try await SnapshotUseCases.restore(workspace: workspace, environment: try workspace.environment(environment.env), name: name,
                                               settings: converge.settings, sink: Output.sink())
        }
    }
}
