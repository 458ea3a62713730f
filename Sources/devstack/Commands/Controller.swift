import Application
import ArgumentParser
import Foundation
import Reconciler

extension Devstack {
    struct Controller: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "controller",
            abstract: "Keep an environment converged: react to engine events and new revisions, heal drift, back off crash loops.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @Option(name: .long, help: "Seconds between full resyncs.") var resync: Int = 30
        @Flag(name: .long, help: "Wait for the lease instead of refusing when another process holds it.") var wait = false
        @Flag(name: .long, help: "Serve the dashboard beside the loop (see devstack ui).") var ui = false
        @Flag(name: .shortAndLong, help: "Log every engine event that triggers a pass and every pass with its timings.") var verbose = false
        @OptionGroup var dashboard: DashboardOptions

        mutating func validate() throws { try NumericOption.check(resync, "--resync", 1...NumericOption.maxSeconds) }

        func run() async throws {
            let workspace = try store.openExisting()
            let controller = try ControllerUseCase.make(workspace: workspace, environment: try workspace.environment(environment.env),
                                                        resync: .seconds(resync), verbose: verbose, sink: Output.sink(progress: ConsoleProgress(live: false)),
                                                        log: { line in print("controller: \(line)"); Terminal.flush() })
            // SIGINT and SIGTERM finish the pass under way and release the lease.
            let signals = StopSignals.handle { controller.requestStop() }
            defer { signals.forEach { $0.cancel() } }
            guard ui else { return try await controller.run(waitForLease: wait) }
            let env = try workspace.environment(environment.env)
            let server = dashboard.server(workspace: workspace, environment: env, settings: ConvergeSettings())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run(ready: DashboardOptions.announce) }
                // The loop decides when to stop; the dashboard goes with it.
                try await controller.run(waitForLease: wait)
                group.cancelAll()
            }
        }
    }
}
