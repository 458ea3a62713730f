import ArgumentParser
import EnvSpec

extension Devstack {
    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "graph", abstract: "Print the dependency graph as DOT or Mermaid.")

        enum Format: String, ExpressibleByArgument, CaseIterable { case dot, mermaid }

        @Argument(help: "An environment file or compose file (the latest recorded revision when none is given).") var file: String?
        @Option(name: [.customShort("f"), .long], help: ArgumentHelp("A compose file (repeatable); COMPOSE_FILE when none is given.", valueName: "FILE"))
        var files: [String] = []
        @Option(name: .long, help: "dot or mermaid.") var format: Format = .dot
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let spec: EnvironmentSpec
            let input = EnvironmentInput(positional: file, files: files, profiles: [])
            if input.isGiven {
                spec = try input.load().spec
            } else {
                let workspace = try store.openForReading()
                spec = try workspace.revision(environment: try workspace.environment(environment.env)).spec
            }
            print(DependencyGraph.render(spec, format: format == .dot ? .dot : .mermaid))
        }
    }
}
