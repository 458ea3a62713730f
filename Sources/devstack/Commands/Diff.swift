import ArgumentParser
import EnvSpec
import StateStore
import Foundation
import Reconciler

extension Devstack {
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two revisions, or (with no revisions) what apply would change on the engine.",
            discussion: "devstack diff 1 2 compares recorded revisions field by field.")

        @Argument(help: "Two revision numbers.") var revisions: [Int] = []
        @Option(name: [.customShort("f"), .long], help: "Compare this environment file (or these compose files, repeatable), not the latest revision, with the engine.") var file: [String] = []
        @Option(name: .long, help: "Activate a profile (repeatable), with --file.") var profile: [String] = []
        @Option(name: .long, help: ArgumentHelp("Compare my state (desired, lock, seeds, snapshots, devstack version) with a teammate's export.", valueName: "BUNDLE"))
        var against: String?
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        func run() async throws {
            if let against { return try await againstBundle(against) }
            switch revisions.count {
            case 2 where file.isEmpty:
                let db = try store.openForReading()
                let env = try db.resolveEnvironment(environment.env)
                let a = try db.revision(environment: env, number: revisions[0])
                let b = try db.revision(environment: env, number: revisions[1])
                let diff = SpecDiff(from: a.spec, to: b.spec)
                if output.json { return try JSONOutput.print(diff.entries) }
                print(DiffText.render(diff), terminator: "")
                print(diff.summaryLine)
            case 0:
                try await PlanDiff(store: store, environment: environment, output: output, files: file, profiles: profile).run()
            default:
                throw UserError("diff takes two revision numbers (devstack diff 1 2), or none to compare desired with actual state", exitCode: 2)
            }
        }
    }
}

extension Devstack.Diff {
    func againstBundle(_ path: String) async throws {
        let text: String
        do { text = try LocalFiles.readText(path, limit: 2 << 30) } catch {
            throw UserError("\(path): cannot read the bundle: \(LocalFiles.reason(error))", exitCode: 2)
        }
        let (bundle, _) = try ExportBundle.read(text, file: path)
        let db = try store.openForReading()
        let env = try db.resolveEnvironment(environment.env ?? bundle.spec.name)
        let stored = try db.revision(environment: env)
        // What runs here now, when the engine answers; what was recorded otherwise.
        var lock = try BundleContents.lock(stored, store: db)
        if let reconciler = try? EngineFactory.reconciler(store: db), let desired = try? reconciler.desiredState(stored) {
            let running = await reconciler.currentLocks(desired)
            if !running.isEmpty { lock = running }
        }
        let mine = TeammateDiff.Side(spec: stored.spec, lock: lock,
                                     seeds: try BundleContents.seeds(stored, store: db),
                                     snapshots: try db.snapshots(environment: env), devstackVersion: DevstackVersion.current)
        let theirs = TeammateDiff.Side(spec: bundle.spec, lock: bundle.lock, seeds: bundle.seeds, snapshots: bundle.snapshots, devstackVersion: bundle.devstackVersion)
        let differences = TeammateDiff.compare(mine: mine, theirs: theirs)
        if output.json { return try JSONOutput.print(differences) }
        print(Terminal.dim("mine: \(env) revision \(stored.summary.number) in \(db.location)"))
        print(Terminal.dim("theirs: \(path): revision \(bundle.revision.number) by \(bundle.revision.author)@\(bundle.revision.host), exported \(Devstack.History.time(bundle.exportedAt))"))
        for difference in differences { print(difference.line) }
        print(differences.isEmpty ? "no differences" : "\(differences.count) difference(s)")
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
