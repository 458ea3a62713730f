import ArgumentParser
import EnvSpec
import Application
import Foundation
import Reconciler

extension Devstack {
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Compare two revisions, or (with no revisions) what apply would change on the engine.",
            discussion: "devstack diff 1 2 compares recorded revisions field by field.")

        @Argument(help: "Two revision numbers.") var revisions: [Int] = []
        @Option(name: [.customShort("f"), .long], help: "Compare this environment file (or these compose files, repeatable), not the latest revision, with the engine.") var file: [String] = []
        @Option(name: .long, help: "Activate a profile (repeatable), with --file.") var profile: [String] = []
        @Option(name: .long, help: ArgumentHelp("Compare my state (desired, lock, seeds, snapshots, devstack version) with a teammate's export (a file, or oci://REF).", valueName: "BUNDLE"))
        var against: String?
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        func run() async throws {
            if let against { return try await againstBundle(against) }
            switch revisions.count {
            case 2 where file.isEmpty:
                let workspace = try store.openForReading()
                let env = try workspace.environment(environment.env)
                let a = try workspace.revision(environment: env, number: revisions[0])
                let b = try workspace.revision(environment: env, number: revisions[1])
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
        let (bundle, _, _) = try await SharingUseCases.read(path, registry: registry.options)
        let workspace = try store.openForReading()
        let (env, revision, differences) = try await SharingUseCases.compare(workspace: workspace, environment: environment.env, bundle: bundle,
                                                                              version: DevstackVersion.current)
        if output.json { return try JSONOutput.print(differences) }
        print(Terminal.dim("mine: \(env) revision \(revision) in \(workspace.location)"))
        print(Terminal.dim("theirs: \(path): revision \(bundle.revision.number) by \(bundle.revision.author)@\(bundle.revision.host), exported \(Devstack.History.time(bundle.exportedAt))"))
        for difference in differences { print(difference.line) }
        print(differences.isEmpty ? "no differences" : "\(differences.count) difference(s)")
    }
}
