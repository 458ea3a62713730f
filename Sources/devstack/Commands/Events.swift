import ArgumentParser
import EnvSpec
import Foundation
import Application

extension Devstack {
    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "events", abstract: "Show the recorded reconcile history: time, revision, service, action, cause, outcome.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions
        @Option(name: .shortAndLong, help: "Show the last N events.") var limit: Int = 50

        mutating func validate() throws { try NumericOption.check(limit, "--limit", 1...Int(Int32.max)) }
        @Flag(name: .shortAndLong, help: "Keep printing new events as they are recorded.") var follow = false

        func run() async throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            var events = try workspace.events(environment: env, limit: limit)
            if output.json && !follow { return try JSONOutput.print(events) }
            var lastID = events.last?.id ?? 0
            if !output.json { print(Terminal.table(["TIME (UTC)", "REV", "SERVICE", "ACTION", "OUTCOME", "MS", "CAUSE"], events.map(row))) }
            else { for e in events { try JSONOutput.printLine(e) } }
            while follow {
                try await Task.sleep(for: .milliseconds(500))
                events = try workspace.events(environment: env, afterID: lastID, limit: 10_000)
                for e in events {
                    if output.json { try JSONOutput.printLine(e) } else { print(row(e).map { Terminal.escape($0) }.joined(separator: "  ")) }
                }
                lastID = events.last?.id ?? lastID
                Terminal.flush()
            }
        }

        func row(_ e: EventRecord) -> [String] {
            let outcome = e.detail.map { "\(e.outcome): \($0)" } ?? e.outcome
            return [String(e.time.replacingOccurrences(of: "T", with: " ").prefix(23)), e.revision.map(String.init) ?? "-", e.service ?? "-",
                    e.action, outcome, e.durationMs.map(String.init) ?? "-", e.cause]
        }
    }
}

extension JSONOutput {
    /// One compact JSON object per line, for streams.
    static func printLine<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
