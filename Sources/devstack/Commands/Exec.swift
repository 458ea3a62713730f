import ArgumentParser
import Foundation
import EnvSpec
import Application

extension Devstack {
    struct Exec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a command in a service's container; its exit code becomes devstack's.")

        @Argument(help: "The service.") var service: String
        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []
        @Option(name: .shortAndLong, help: "Working directory inside the container.") var workdir: String?
        @Flag(name: .customShort("T"), help: "Never allocate a TTY, even when interactive.") var noTTY = false
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            guard !command.isEmpty else { throw UserError("give the command after --, e.g. devstack exec lms -- ls /", exitCode: 2) }
            let workspace = try store.openForReading()
            let container = try ExecUseCase.container(workspace: workspace, environment: try workspace.environment(environment.env), service: service)
            // An interactive terminal needs a hijacked connection; the docker CLI does that well.
            if !noTTY, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1, let docker = Self.which("docker") {
                let argv = ["docker", "exec", "-it"] + (workdir.map { ["-w", $0] } ?? []) + [container] + command
                execv(docker, argv.map { strdup($0) } + [nil])
            }
            let code = try await ExecUseCase.run(container: container, command: command, workingDir: workdir) { frame in
                (frame.stream == 2 ? FileHandle.standardError : FileHandle.standardOutput).write(frame.payload)
            }
            if code != 0 { throw ExitCode(Int32(truncatingIfNeeded: code)) }
        }

        static func which(_ name: String) -> String? {
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
                let path = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            return nil
        }
    }
}
