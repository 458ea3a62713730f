import ArgumentParser
import EnvSpec
import Foundation
import Application

extension Devstack {
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "doctor",
            abstract: "Check the state database, leases, seed ledger and snapshots; --repair fixes what can be fixed.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var output: OutputOptions
        @Flag(name: .long, help: "Salvage or restore a damaged database, break expired leases, close interrupted seed runs, forget snapshots whose archives are gone.")
        var repair = false

        func run() async throws {
            var checks = StoreDoctor(path: store.path, repair: repair).run()
            if checks.isEmpty { checks = [StoreCheck(name: "database", severity: .ok, detail: "no database yet at \(store.path)")] }
            if output.json { try JSONOutput.print(checks) } else {
                for check in checks {
                    let mark: String
                    switch check.severity {
                    case .ok: mark = Terminal.green("ok     ")
                    case .warning: mark = Terminal.yellow("warning")
                    case .problem: mark = Terminal.red("problem")
                    }
                    print("\(mark) \(check.name): \(check.detail)")
                    if let repaired = check.repaired { print("        repaired: \(repaired)") }
                }
            }
            let remaining = checks.filter { $0.severity == .problem && $0.repaired == nil }
            if !remaining.isEmpty {
                throw UserError("\(remaining.count) problem(s) need attention" + (repair ? "" : "; devstack doctor --repair fixes what can be fixed"))
            }
        }
    }
}
