import Application
import ArgumentParser

extension Devstack {
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "watch",
            abstract: "Keep the running services in step with the working tree, by their develop.watch rules (Ctrl-C stops).",
            discussion: "sync copies changed files into the container (deletions included), rebuild rebuilds the image and recreates the service, sync+restart syncs then restarts it. Rules come from the recorded revision: apply after changing them.")

        @OptionGroup var converge: ConvergeOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let workspace = try store.openExisting()
            let env = try workspace.environment(environment.env)
            try await WatchUseCase(workspace: workspace, environment: env, settings: converge.settings, sink: Output.sink(quietSteps: true)).run()
        }
    }
}
