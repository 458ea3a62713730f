import ArgumentParser
import EnvSpec
import Foundation
import Application

@main
struct Devstack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devstack",
        abstract: "Run multi-service development environments from recorded, reproducible desired state.",
        discussion: "The engine is found as the docker CLI finds it: --context NAME (any command, as docker --context), DOCKER_HOST, DOCKER_CONTEXT, the current docker context, /var/run/docker.sock.",
        version: DevstackVersion.current,
        subcommands: [Validate.self, Apply.self, Diff.self, Status.self, History.self, Show.self, Rollback.self,
                      Down.self, Graph.self, Export.self, Import.self, Push.self, Pull.self, Cache.self, Events.self, Controller.self, FSMonitor.self, Unlock.self,
                      Logs.self, Tunnel.self, Exec.self, Run.self, Tasks.self, Watch.self, UI.self, Key.self, Seed.self, Snapshot.self, Doctor.self, Bisect.self, ImportCompose.self])

    /// Errors from the libraries become clear lines and an exit code; never a stack trace.
    static func main() async {
        do {
            let (arguments, context) = try GlobalOptions.context(in: Array(CommandLine.arguments.dropFirst()))
            // The engine resolution reads it first, over DOCKER_HOST, as docker --context does.
            if let context { setenv("DEVSTACK_CONTEXT", context, 1) }
            var command = try parseAsRoot(GlobalOptions.reordered(arguments))
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as UserFacingError {
            for line in error.lines { Terminal.error(line) }
            Foundation.exit(error.exitCode)
        } catch {
            // Usage errors exit 2, like every other invalid input (argument-parser's default is 64).
            let code = exitCode(for: error)
            // Help, version and explicit exit codes are argument-parser's to print; any other
            // error that reached here is still one `devstack: error:` line, never "Error: …".
            if code.rawValue == 0 || error is ExitCode { exit(withError: error) }
            guard code.rawValue == 64 else {
                Terminal.error("\(error)")
                Foundation.exit(code.rawValue)
            }
            // One `devstack: error:` line, like every other failure, then the usage that helps.
            var lines = fullMessage(for: error).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.first?.hasPrefix("Error: ") == true { lines.removeFirst() }
            let help = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            Terminal.error(message(for: error))
            if !help.isEmpty { FileHandle.standardError.write(Data((Terminal.escape(help, keepNewlines: true) + "\n").utf8)) }
            Foundation.exit(2)
        }
    }
}

/// `--state`, `--env` and `--json` are accepted before the subcommand as well as after it, as
/// `docs/cli.md` says: those written before it are moved after it (and before any `--`).
enum GlobalOptions {
    static let withValue: Set<String> = ["--state", "--env"]
    static let flags: Set<String> = ["--json"]

    /// `--context NAME` (or `--context=NAME`) anywhere before `--`, taken out: the docker
    /// context every command's engine comes from.
    static func context(in arguments: [String]) throws -> ([String], String?) {
        var rest: [String] = []
        var context: String?
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            if token == "--" { rest += arguments[index...]; break }
            if token == "--context" || token.hasPrefix("--context=") {
                let value = token == "--context" ? (index + 1 < arguments.count ? arguments[index + 1] : "") : String(token.dropFirst("--context=".count))
                guard !value.isEmpty, !value.hasPrefix("-") else { throw UserError("--context: expected the name of a docker context (docker context ls lists them)", exitCode: 2) }
                context = value
                index += token == "--context" ? 2 : 1
                continue
            }
            rest.append(token)
            index += 1
        }
        return (rest, context)
    }

    static func reordered(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            let name = token.split(separator: "=", maxSplits: 1).first.map(String.init) ?? token
            if flags.contains(token) {
                leading.append(token); index += 1
            } else if withValue.contains(name) && token.contains("=") {
                leading.append(token); index += 1
            } else if withValue.contains(token) && index + 1 < arguments.count {
                leading += [token, arguments[index + 1]]; index += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        var rest = Array(arguments[index...])
        let insertAt = rest.firstIndex(of: "--") ?? rest.endIndex
        rest.insert(contentsOf: leading, at: insertAt)
        return rest
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

extension FileWriteError: UserFacingError {}

extension ExportBundle.ImportError: UserFacingError {
    var exitCode: Int32 { 2 }
}
