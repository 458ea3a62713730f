import Application
import ArgumentParser

extension Devstack {
    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "down", abstract: "Remove the environment's containers and network (volumes only with --volumes).")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @Flag(name: .long, help: "Also remove the environment's named volumes and their data.") var volumes = false
        @Option(name: .long, help: "How many containers are stopped and removed at once.") var parallel: Int = 8

        mutating func validate() throws { try NumericOption.check(parallel, "--parallel", 1...256) }

        func run() async throws {
            let workspace = try store.openExisting()
            try await DownUseCase.run(workspace: workspace, environment: try workspace.environment(environment.env), removeVolumes: volumes,
                                      parallel: parallel, sink: Output.sink())
        }
    }
}
