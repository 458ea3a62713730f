import ArgumentParser
import EnvSpec
import Foundation
import Reconciler
import StateStore

extension Devstack {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record an environment file as desired state and converge the engine to it.")

        @Argument(help: "The environment file, or a docker compose file (.yml, .yaml).") var file: String?
        @Option(name: [.customShort("f"), .long], help: ArgumentHelp("A compose file (repeatable: later files overlay earlier ones); COMPOSE_FILE when none is given.", valueName: "FILE"))
        var files: [String] = []
        @Flag(name: .long, help: "Only record the revision; do not touch the engine.") var recordOnly = false
        @Option(name: .shortAndLong, help: "A message for the revision.") var message: String = ""
        @Option(name: .long, help: "Activate a profile (repeatable).") var profile: [String] = []
        @Option(name: .long, help: "Bring up only this service and what it depends on (repeatable); the others are left as they are.") var only: [String] = []
        @OptionGroup var store: StoreOptions
        @OptionGroup var converge: ConvergeOptions

        func run() async throws {
            // Validate before opening the store, so bad input leaves the database untouched.
            let input = EnvironmentInput(positional: file, files: files, profiles: profile)
            let loaded = try input.load()
            for name in only where loaded.spec.services[name] == nil {
                throw UserError("\(PathMath.relative(from: FileManager.default.currentDirectoryPath, to: loaded.rootFile)): --only \(name): no service named \"\(name)\"\(Suggest.didYouMean(name, in: loaded.spec.serviceNames))", exitCode: 2)
            }
            let db = try store.open()
            let meta = RevisionMeta.local(message: message, source: .apply, projectDirectory: loaded.projectDirectory)
            let outcome = try db.record(loaded.spec, meta: meta)
            switch outcome {
            case let .recorded(s): print("recorded revision \(s.number) of \(s.environment) (\(s.changes.isEmpty ? "no service changes" : s.changes))")
            case let .unchanged(s): print("no changes: revision \(s.number) of \(s.environment) is current")
            }
            FaultInjection.reach(.afterRecord)
            if recordOnly { return }
            let closure = only.isEmpty ? nil : loaded.spec.dependencyClosure(of: Set(only))
            if let closure { print("only \(closure.sorted().joined(separator: ", ")) (--only \(only.joined(separator: ", ")) and what it depends on)") }
            try await ApplyRun(store: db, environment: loaded.spec.name, revision: outcome.summary.number, options: converge, only: closure).run()
        }
    }
}
