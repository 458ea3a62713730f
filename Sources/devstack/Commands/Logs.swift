import ArgumentParser
import Foundation
import EnvSpec
import Application

extension Devstack {
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print services' output with a coloured prefix per service, like compose.")

        @Argument(help: "Services (all when left out).") var services: [String] = []
        @Flag(name: .shortAndLong, help: "Keep following new output.") var follow = false
        @Option(name: .long, help: "Only the last N lines of each service.") var tail: Int?
        @Option(name: .long, help: "Only output since this time (RFC 3339 or unix seconds).") var since: String?

        mutating func validate() throws {
            if let tail { try NumericOption.check(tail, "--tail", 0...Int(Int32.max)) }
            if let since, Timestamp.parse(since) == nil, Double(since) == nil {
                throw ValidationError("--since expects an RFC 3339 time (2026-11-27T10:00:00Z) or unix seconds, found \"\(since)\"")
            }
        }
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let names = try LogsUseCase.services(workspace: workspace, environment: env, requested: services)
            let width = names.map(\.count).max() ?? 0
            let colours = ["36", "33", "32", "35", "34", "31"]
            let prefixes = Dictionary(uniqueKeysWithValues: names.enumerated().map { i, name in
                (name, Terminal.paint(name.padding(toLength: width, withPad: " ", startingAt: 0) + " |", colours[i % colours.count]))
            })
            let sinceValue = since.map { value in Timestamp.parse(value).map { String(Int($0.timeIntervalSince1970)) } ?? value }
            let output = LineWriter()
            try await LogsUseCase.run(workspace: workspace, environment: env, services: names, follow: follow, tail: tail, since: sinceValue) { service, line in
                output.write("\(prefixes[service]!) \(line)")
            }
        }
    }
}

/// Whole lines from concurrent streams, never interleaved mid-line.
final class LineWriter: @unchecked Sendable {
    private let lock = NSLock()
    func write(_ line: String) {
        lock.withLock {
            print(line)
            Terminal.flush()
        }
    }
}
