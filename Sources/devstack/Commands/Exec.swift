import ArgumentParser
import Foundation
import EnvSpec
import Application
import Reconciler

extension Devstack {
    struct Exec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a command in a service's container; its exit code becomes devstack's.")

        @Argument(help: "The service.") var service: String
        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []
        @Option(name: .shortAndLong, help: "Working directory inside the container.") var workdir: String?
        @Flag(name: .customShort("T"), help: "Never allocate a TTY, even when interactive.") var noTTY = false
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            guard !command.isEmpty else { throw UserError("give the command after --, e.g. devstack exec lms -- ls /", exitCode: 2) }
            let workspace = try store.openForReading()
            let container = try await ExecUseCase.container(workspace: workspace, environment: try workspace.environment(environment.env), service: service)
            let write: @Sendable (OutputFrame) -> Void = { frame in (frame.stream == 2 ? FileHandle.standardError : FileHandle.standardOutput).write(frame.payload) }
            if !noTTY, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 {
                let terminal = TasksUseCase.Terminal(size: RawTerminal.size(), input: RawTerminal.keystrokes(), resizes: RawTerminal.resizes())
                let raw = RawTerminal.enter()
                defer { raw?.restore() }
                let code = try await ExecUseCase.runAttached(container: container, command: command, workingDir: workdir, terminal: terminal, output: write)
                if code != 0 { throw ExitCode(Int32(truncatingIfNeeded: code)) }
                return
            }
            let code = try await ExecUseCase.run(container: container, command: command, workingDir: workdir, output: write)
            if code != 0 { throw ExitCode(Int32(truncatingIfNeeded: code)) }
        }

    }
}
