import ArgumentParser
import EnvSpec
import StateStore

extension Devstack {
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two revisions, or (with no revisions) what apply would change on the engine.",
            discussion: "devstack diff 1 2 compares recorded revisions field by field.")

        @Argument(help: "Two revision numbers.") var revisions: [Int] = []
        @Option(name: [.customShort("f"), .long], help: "Compare this environment file, not the latest revision, with the engine.") var file: String?
        @Option(name: .long, help: "Activate a profile (repeatable), with --file.") var profile: [String] = []
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        func run() async throws {
            switch revisions.count {
            case 2 where file == nil:
                let db = try store.openExisting()
                let env = try db.resolveEnvironment(environment.env)
                let a = try db.revision(environment: env, number: revisions[0])
                let b = try db.revision(environment: env, number: revisions[1])
                let diff = SpecDiff(from: a.spec, to: b.spec)
                if output.json { return try JSONOutput.print(diff.entries) }
                print(DiffText.render(diff), terminator: "")
                print(diff.summaryLine)
            case 0:
                try await PlanDiff(store: store, environment: environment, output: output, file: file, profiles: profile).run()
            default:
                throw UserError("diff takes two revision numbers (devstack diff 1 2), or none to compare desired with actual state", exitCode: 2)
            }
        }
    }
}

enum DiffText {
    static func render(_ diff: SpecDiff) -> String {
        var out = ""
        for entry in diff.entries {
            switch entry.kind {
            case .added: out += Terminal.green("+ \(entry.section) \(entry.name)") + "\n"
            case .removed: out += Terminal.red("- \(entry.section) \(entry.name)") + "\n"
            case .changed:
                out += Terminal.yellow("~ \(entry.section) \(entry.name)") + "\n"
                for field in entry.fields {
                    switch field.kind {
                    case .added: out += Terminal.green("    + \(field.path): \(field.new ?? "")") + "\n"
                    case .removed: out += Terminal.red("    - \(field.path): \(field.old ?? "")") + "\n"
                    case .changed: out += Terminal.yellow("    ~ \(field.path): \(field.old ?? "") → \(field.new ?? "")") + "\n"
                    }
                }
            }
        }
        return out
    }
}
