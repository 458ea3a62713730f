import Application
import ArgumentParser

extension Devstack {
    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Record a new revision with REV's desired state, then converge to it.")

        @Argument(help: "The revision to go back to.") var revision: Int
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions
        @Flag(name: .long, help: "Only record the revision; do not touch the engine.") var recordOnly = false
        @Flag(name: .long, help: "Also restore the newest snapshot taken at REV, so config, images and data go back together.") var withData = false

        func validate() throws {
            if withData && recordOnly { throw ValidationError("--with-data restores volumes, so it cannot go with --record-only") }
        }

        func run() async throws {
            let workspace = try store.openExisting()
            try await RollbackUseCase.run(workspace: workspace, environment: try workspace.environment(environment.env), to: revision,
                                          withData: withData, recordOnly: recordOnly, settings: converge.settings, sink: Output.sink())
        }
    }
}
