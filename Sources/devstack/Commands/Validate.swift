import ArgumentParser
import EnvSpec

extension Devstack {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check an environment file and everything it includes.")

        @Argument(help: "The environment file, or a compose file.") var file: String?
        @Option(name: [.customShort("f"), .long], help: ArgumentHelp("A compose file (repeatable); COMPOSE_FILE when none is given.", valueName: "FILE"))
        var files: [String] = []
        @Option(name: .long, help: "Activate a profile (repeatable).") var profile: [String] = []
        @OptionGroup var output: OutputOptions

        func run() throws {
            let loaded: LoadedEnvironment
            do { loaded = try EnvironmentInput(positional: file, files: files, profiles: profile).load() } catch let failure as ValidationFailure {
                guard output.json else { throw failure }
                try JSONOutput.print(ValidationProblems(valid: false, problems: failure.diagnostics))
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
        var problems: [Diagnostic]
    }

    struct ValidationReport: Encodable {
        var environment: String
        var specHash: String
        var services: [String: String]
        var files: [String]
    }
}

/// `{file, path, message, line, column}` in `validate --json`.
extension Diagnostic: Encodable {
    enum CodingKeys: String, CodingKey { case file, path, message, line, column }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(path, forKey: .path)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(line, forKey: .line)
        try c.encodeIfPresent(column, forKey: .column)
    }
}

extension EnvironmentSpec {
    var serviceHashesByName: [String: String] { services.mapValues(\.specHash) }
}
