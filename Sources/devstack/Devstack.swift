import ArgumentParser
import EnvSpec
import Foundation
import StateStore

@main
struct Devstack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devstack",
        abstract: "Run multi-service development environments from recorded, reproducible desired state.",
        version: DevstackVersion.current,
        subcommands: [Validate.self, Apply.self, Diff.self, Status.self, History.self, Show.self, Rollback.self,
                      Down.self, Graph.self, Export.self, Import.self, Events.self, Controller.self, Unlock.self,
                      Logs.self, Exec.self, Seed.self, Snapshot.self, Doctor.self, Bisect.self, ImportCompose.self])

    /// Errors from the libraries become clear lines and an exit code; never a stack trace.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as UserFacingError {
            for line in error.lines { Terminal.error(line) }
            Foundation.exit(error.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}

/// An error the CLI prints as `devstack: error: …` lines with a chosen exit code.
/// 1: the operation failed; 2: the input was invalid.
protocol UserFacingError: Error {
    var lines: [String] { get }
    var exitCode: Int32 { get }
}

extension UserFacingError where Self: CustomStringConvertible {
    var lines: [String] { [description] }
}

extension UserFacingError {
    var exitCode: Int32 { 1 }
}

/// A failure worth one line to the user.
struct UserError: UserFacingError {
    var message: String
    var exitCode: Int32
    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    var lines: [String] { [message] }
}

extension ValidationFailure: UserFacingError {
    var lines: [String] { diagnostics.map(\.description) }
    var exitCode: Int32 { 2 }
}

extension StoreError: UserFacingError {}

extension ExportBundle.ImportError: UserFacingError {
    var exitCode: Int32 { 2 }
}
