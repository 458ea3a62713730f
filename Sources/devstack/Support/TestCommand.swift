import HostFiles
import Foundation
import EnvSpec

/// Runs a user's test command as an argument array, its output going to our terminal.
enum TestCommand {
    static func run(_ argv: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        do { try process.run() } catch {
            throw UserError("cannot run the test command \(argv[0]): \(LocalFiles.reason(error))", exitCode: 2)
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
