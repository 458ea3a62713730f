import Application
import ArgumentParser
import EnvSpec
import Foundation
import Reconciler

extension Devstack {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show each service's desired and actual state, health and drift.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = try await StatusUseCase.run(workspace: try store.openForReading(), environment: environment.env)
            if output.json { return try JSONOutput.print(report) }
            let applied = report.lastApply.map { "last apply: revision \($0.revision), \($0.outcome.rawValue)" } ?? "never applied"
            print("\(Terminal.bold(report.environment))  desired revision \(report.desiredRevision)  \(applied)")
            let swarm = report.services.contains { $0.tasks != nil }
            let headers = ["SERVICE", "STATE", "HEALTH", swarm ? "SERVICE ID" : "CONTAINER", "PORTS", "REV", "CONDITION", "DRIFT"]
            print(Terminal.table(headers + (swarm ? ["TASKS"] : []), report.services.map { r -> [String] in
                let row: [String] = [r.service + (r.desired ? "" : " (orphan)"), r.state, r.health, r.container ?? "-", r.ports.isEmpty ? "-" : r.ports.joined(separator: ","),
                                     r.revision.map(String.init) ?? "-", Self.headline(r.conditions), r.drift ?? "-"]
                return swarm ? row + [r.tasks.map(Self.tasks) ?? "-"] : row
            }))
            if !report.seeds.isEmpty {
                print("")
                print(Terminal.table(["SEED", "STATUS", "REV", "FINISHED (UTC)", "MS", "CHECKSUM"], report.seeds.map { s in
                    [s.seed, s.status.rawValue, s.revision.map(String.init) ?? "-", s.finishedAt.map { String($0.prefix(19)).replacingOccurrences(of: "T", with: " ") } ?? "-",
                     s.durationMs.map(String.init) ?? "-", String(s.checksum.prefix(12))]
                }))
            }
            for problem in report.problems { print(Terminal.red("! \(problem)")) }
        }

        /// The condition that matters most: Degraded, else Progressing, else Ready; with its age.
        static func headline(_ conditions: [StatusUseCase.Condition]) -> String {
            let pick = conditions.first { $0.type == "Degraded" && $0.status } ?? conditions.first { $0.type == "Progressing" && $0.status } ?? conditions[0]
            let label = pick.type == "Ready" && !pick.status ? "NotReady" : pick.type
            let age = Timestamp.parse(pick.since).map { " \(Self.age(Date().timeIntervalSince($0)))" } ?? ""
            return pick.type == "Degraded" ? "\(label)\(age): \(pick.reason)" : "\(label)\(age)"
        }

        /// "1/1 running on node-a; 1 replaced (last: non-zero exit (137))".
        static func tasks(_ t: TaskCounts) -> String {
            let placed = t.nodes.isEmpty ? "" : " on \(Array(Set(t.nodes)).sorted().joined(separator: ", "))"
            let replaced = t.replaced == 0 ? "" : "; \(t.replaced) replaced\(t.lastEnding.map { " (last: \($0))" } ?? "")"
            return "\(t.running)/\(t.desired) running\(placed)\(replaced)"
        }

        static func age(_ seconds: TimeInterval) -> String {
            let s = Int(max(0, seconds))
            return s < 60 ? "\(s)s" : s < 3600 ? "\(s / 60)m" : "\(s / 3600)h"
        }
    }
}
