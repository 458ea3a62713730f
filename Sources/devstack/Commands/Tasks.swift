import Application
import ArgumentParser
import EnvSpec
import Foundation
import Reconciler

extension Devstack {
    struct Tasks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List the environment's tasks (devstack run NAME runs one).")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        struct Row: Encodable {
            var name: String
            var service: String
            var mode: String
            var command: [String]
            var description: String?
            var args: Bool
            var interactive: Bool
            var dependsOn: [String]
        }

        func run() async throws {
            let workspace = try store.openForReading()
            let listed = try TasksUseCase.list(workspace: workspace, environment: try workspace.environment(environment.env))
            let rows = listed.map { Row(name: $0.name, service: $0.task.service, mode: $0.task.mode.rawValue, command: $0.task.command,
                                        description: $0.task.description, args: $0.task.args, interactive: $0.task.interactive, dependsOn: $0.task.dependsOn) }
            if output.json { return try JSONOutput.print(rows) }
            if rows.isEmpty { return Terminal.note("no tasks: add \"tasks\" to the environment file (see docs/env-file.md)") }
            print(Terminal.table(["TASK", "SERVICE", "RUNS", "DESCRIPTION"], rows.map { row in
                let how = "\(row.mode) \(row.command.joined(separator: " "))\(row.args ? " [ARGS…]" : "")"
                return [row.name, row.service, how, row.description ?? ""]
            }))
        }
    }
}
