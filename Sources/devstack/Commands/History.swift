import ArgumentParser
import EnvSpec
import Application

extension Devstack {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "history", abstract: "List an environment's recorded revisions, newest first.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions
        @Option(name: .shortAndLong, help: "Show at most N revisions (like helm history --max).") var limit: Int = 256

        mutating func validate() throws { try NumericOption.check(limit, "--limit", 1...Int(Int32.max)) }
        @Flag(name: .long, help: "Show every revision.") var all = false

        func run() throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let revisions = try workspace.history(environment: env, limit: all ? nil : limit)
            if output.json { return try JSONOutput.print(revisions) }
            let rows = revisions.map { r in
                [String(r.number), Self.time(r.createdAt), r.author,
                 r.source.rawValue, Self.brief(r.changes), r.message]
            }
            print(Terminal.table(["REV", "TIME (UTC)", "AUTHOR", "SOURCE", "SERVICES CHANGED", "MESSAGE"], rows))
        }

        /// `2026-11-25T20:46:09.120Z` → `2026-11-25 20:46:09`, without Foundation on a hot path.
        static func time(_ iso: String) -> String {
            var scalars = String.UnicodeScalarView()
            for (i, c) in iso.unicodeScalars.prefix(19).enumerated() { scalars.append(i == 10 ? " " : c) }
            return String(scalars)
        }

        /// At most four names, so one revision that adds forty services keeps the table readable.
        static func brief(_ changes: String) -> String {
            let names = changes.split(separator: " ")
            if names.isEmpty { return "-" }
            if names.count <= 4 { return changes }
            return names.prefix(3).joined(separator: " ") + " and \(names.count - 3) more"
        }
    }
}
