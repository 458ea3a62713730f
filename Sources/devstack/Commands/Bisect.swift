import Application
import ArgumentParser
import Foundation

extension Devstack {
    struct Bisect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bisect",
            abstract: "Find the first bad revision: apply recorded revisions between GOOD and BAD and run a test command on each.",
            discussion: """
                The test command is an argument array after --. Exit 0 means good, 125 means the revision cannot be \
                tested (skipped), anything else means bad, as with git bisect. No revision is recorded; at the end the \
                environment is converged back to the revision it had. Seeds do not run.
                """)

        @Argument(help: "A revision known to be good.") var good: Int
        @Argument(help: "A revision known to be bad.") var bad: Int
        @Argument(parsing: .postTerminator, help: "The test command, after --.") var command: [String] = []
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions

        func validate() throws {
            if command.isEmpty { throw ValidationError("give the test command after --, e.g. devstack bisect 3 9 -- ./smoke-test.sh") }
            if good >= bad { throw ValidationError("GOOD (\(good)) must be an earlier revision than BAD (\(bad))") }
        }

        func run() async throws {
            let workspace = try store.openExisting()
            let result = try await BisectUseCase.run(workspace: workspace, environment: try workspace.environment(environment.env), good: good, bad: bad,
                                                     settings: converge.settings, test: { [command] in try TestCommand.run(command) }, sink: Output.sink())
            let first = result.firstBad.summary
            if !result.undecided.isEmpty {
                print("revisions \(result.undecided.map(String.init).joined(separator: ", ")) could not be tested; the first bad revision is one of them or \(first.number)")
            }
            print(Terminal.bold("first bad revision: \(first.number)") + " by \(first.author) at \(History.time(first.createdAt))" + (first.message.isEmpty ? "" : ": \(first.message)"))
            for entry in result.changes {
                for field in entry.fields { print("  \(entry.section) \(entry.name): \(field.path): \(field.old ?? "—") → \(field.new ?? "—")") }
            }
        }
    }
}
