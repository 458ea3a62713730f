import ArgumentParser
import EnvSpec

extension Devstack {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check an environment file and everything it includes.")

        @Argument(help: "The environment file.") var file: String
        @Option(name: .long, help: "Activate a profile (repeatable).") var profile: [String] = []
        @OptionGroup var output: OutputOptions

        func run() throws {
            let loaded = try EnvironmentLoader.cli(profiles: profile).load(file)
            if output.json {
                try JSONOutput.print(ValidationReport(environment: loaded.spec.name, specHash: loaded.spec.specHash,
                                                      services: loaded.spec.serviceHashesByName, files: loaded.files))
            } else {
                print("\(file): valid: environment \"\(loaded.spec.name)\", \(loaded.spec.services.count) services, \(loaded.spec.seeds.count) seeds (\(loaded.spec.specHash.prefix(12)))")
            }
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
