import ArgumentParser
import EnvSpec

extension Devstack {
    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the dependency graph as DOT or Mermaid.")

        enum Format: String, ExpressibleByArgument, CaseIterable { case dot, mermaid }

        @Argument(help: "An environment file (the latest recorded revision when left out).") var file: String?
        @Option(name: .long, help: "dot or mermaid.") var format: Format = .dot
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let spec: EnvironmentSpec
            if let file {
                spec = try EnvironmentLoader.cli().load(file).spec
            } else {
                let db = try store.openForReading()
                spec = try db.revision(environment: try db.resolveEnvironment(environment.env)).spec
            }
            print(DependencyGraph.render(spec, format: format == .dot ? .dot : .mermaid))
        }
    }
}
