import Application
import ArgumentParser
import Foundation
import Reconciler

extension Devstack {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a task of the environment; its exit code becomes devstack's.",
            discussion: "Tasks of included environments are INCLUDE:TASK, or TASK when only one environment defines it. Arguments after -- go to tasks with \"args\": true.")

        @Argument(help: "The task (devstack tasks lists them).") var task: String
        @Argument(parsing: .postTerminator, help: "Arguments for the task, after --.") var arguments: [String] = []
        @Flag(name: .customShort("T"), help: "Never allocate a terminal, even for an interactive task.") var noTTY = false
        @OptionGroup var converge: ConvergeOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let workspace = try store.openExisting()
            let env = try workspace.environment(environment.env)
            let invocation = try TasksUseCase.invocation(workspace: workspace, environment: env, name: task, extra: arguments)
            // Progress goes to stderr: stdout is the task's own output.
            let sink: ProgressSink = { event in
                if case let .note(note) = event { Terminal.note(note.text) }
            }
            var raw: RawTerminal?
            var terminal: TasksUseCase.Terminal?
            if invocation.task.interactive, !noTTY, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 {
                terminal = TasksUseCase.Terminal(size: RawTerminal.size(), input: RawTerminal.keystrokes(), resizes: RawTerminal.resizes())
                raw = RawTerminal.enter()
            }
            let code: Int
            do {
                code = try await TasksUseCase.run(workspace: workspace, environment: env, invocation: invocation, terminal: terminal,
                                                  settings: converge.settings, sink: sink) { frame in
                    (frame.stream == 2 ? FileHandle.standardError : FileHandle.standardOutput).write(frame.payload)
                }
            } catch {
                raw?.restore()
                throw error
            }
            raw?.restore()
            if code != 0 { throw ExitCode(Int32(truncatingIfNeeded: code)) }
        }
    }
}
