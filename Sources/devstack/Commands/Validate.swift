import ArgumentParser
import EnvSpec

extension Devstack {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check an environment file and everything it includes.")

        @Argument(help: "The environment file, or a compose file.") var file: String?
        @Option(name: [.customShort("f"), .long], help: ArgumentHelp("A compose file (repeatable); COMPOSE_FILE when none is given.", valueName: "FILE"))
        var files: [String] = []
        @Option(name: .long, help: "Activate a profile (repeatable).") var profile: [String] = []
        @OptionGroup var output: OutputOptions

        func run() throws {
            let loaded: LoadedEnvironment
            do { loaded = try EnvironmentInput(positional: file, files: files, profiles: profile).load() } catch let failure as ValidationFailure {
                guard output.json else { throw failure }
                try JSONOutput.print(ValidationProblems(valid: false, problems: failure.diagnostics.map(Problem.init)))
                throw ExitCode(2)
            }
            if output.json {
                try JSONOutput.print(ValidationReport(environment: loaded.spec.name, specHash: loaded.spec.specHash,
                                                      services: loaded.spec.serviceHashesByName, files: loaded.files))
            } else {
                let named = (try? EnvironmentInput(positional: file, files: files, profiles: profile).resolvedFiles()) ?? []
                print("\(named.joined(separator: " + ")): valid: environment \"\(loaded.spec.name)\", \(loaded.spec.services.count) services, \(loaded.spec.seeds.count) seeds (\(loaded.spec.specHash.prefix(12)))")
            }
        }
    }

    struct ValidationProblems: Encodable {
        var valid: Bool
        var problems: [Problem]
    }

    struct Problem: Encodable {
        var file: String
        var path: String
        var message: String
        var line: Int?
        var column: Int?
        init(_ d: Diagnostic) {
            file = d.file; path = d.path; message = d.message; line = d.line; column = d.column
        }
    }

    struct ValidationReport: Encodable {
        var environment: String
        var specHash: String
        var services: [String: String]
        var files: [String]
    }
}

extension EnvironmentSpec {
    var serviceHashesByName: [String: String] { services.mapValues(\.specHash) }
}
