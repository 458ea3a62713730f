import Application
import ArgumentParser

extension Devstack {
    struct SnapshotList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List an environment's snapshots, newest first.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        func run() throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let snapshots = try workspace.snapshots(environment: env)
            if output.json { return try JSONOutput.print(snapshots) }
            if snapshots.isEmpty { return print("\(env) has no snapshots; take one with devstack snapshot save NAME") }
            print(Terminal.table(["NAME", "REV", "TAKEN (UTC)", "VOLUMES", "SIZE"], snapshots.map { s in
                [s.name, s.revision.map(String.init) ?? "-", History.time(s.createdAt), s.volumes.map(\.volume).joined(separator: " "),
                 Bytes.format(s.volumes.reduce(0) { $0 + $1.bytes })]
            }))
        }
    }

    struct SnapshotRemove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Forget a snapshot and delete its archives.")

        @Argument(help: "The snapshot to remove.") var name: String
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let workspace = try store.openExisting()
            let env = try workspace.environment(environment.env)
            try SnapshotUseCases.remove(workspace: workspace, environment: env, name: name)
            print("removed snapshot \(name) of \(env)")
        }
    }
}
