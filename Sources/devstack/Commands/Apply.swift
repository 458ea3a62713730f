import Application
import ArgumentParser
import EnvSpec
import Foundation

extension Devstack {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "apply", abstract: "Record an environment file as desired state and converge the engine to it.")

        @Argument(help: "The environment file, or a docker compose file (.yml, .yaml).") var file: String?
        @Option(name: [.customShort("f"), .long], help: ArgumentHelp("A compose file (repeatable: later files overlay earlier ones); COMPOSE_FILE when none is given.", valueName: "FILE"))
        var files: [String] = []
        @Flag(name: .long, help: "Only record the revision; do not touch the engine.") var recordOnly = false
        @Option(name: .shortAndLong, help: "A message for the revision.") var message: String = ""
        @Option(name: .long, help: "Activate a profile (repeatable).") var profile: [String] = []
        @Option(name: .long, help: "Bring up only this service and what it depends on (repeatable); the others are left as they are.") var only: [String] = []
        @Option(name: .long, help: ArgumentHelp("Run on this engine, over the file's \"engine\": docker or swarm.", valueName: "KIND")) var engine: EngineKind?
        @OptionGroup var store: StoreOptions
        @OptionGroup var converge: ConvergeOptions

        func run() async throws {
            // Validate before opening the store, so bad input leaves the database untouched.
            let loaded = try EnvironmentInput(positional: file, files: files, profiles: profile, engine: engine).load()
            for name in only where loaded.spec.services[name] == nil {
                throw UserError("\(PathMath.relative(from: FileManager.default.currentDirectoryPath, to: loaded.rootFile)): --only \(name): no service named \"\(name)\"\(Suggest.didYouMean(name, in: loaded.spec.serviceNames))", exitCode: 2)
            }
            try await ApplyUseCase.run(statePath: store.path, spec: loaded.spec, projectDirectory: loaded.projectDirectory, message: message,
                                       only: only, recordOnly: recordOnly, settings: converge.settings, sink: Output.sink())
        }
    }
}
