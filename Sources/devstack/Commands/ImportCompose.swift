import ArgumentParser
import ComposeImport
import EnvSpec
import Foundation
import Application

extension Devstack {
    struct ImportCompose: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-compose",
            abstract: "Convert docker compose files (later files overlay earlier ones) into an environment file.",
            discussion: "Every key devstack does not carry over is listed as a warning with its path. The result is validated before it is written.")

        @Argument(help: "Compose files, base first, overlays after.") var positional: [String] = []
        @Option(name: [.customShort("f"), .long], help: "A compose file (repeatable, as with docker compose -f); COMPOSE_FILE when none is given.") var file: [String] = []
        @Option(name: .shortAndLong, help: "Write the environment file here ('-' or left out: standard output).") var output: String = "-"
        @Option(name: .long, help: "The environment's name (default: compose's name, or the folder's).") var name: String?
        @Option(name: .long, help: "Activate a profile when validating (repeatable).") var profile: [String] = []

        func run() throws {
            let files = try EnvironmentInput(positional: nil, files: positional + file, profiles: profile).resolvedFiles()
            guard !files.isEmpty else { throw UserError("expected compose files (FILE…, -f FILE, or COMPOSE_FILE)", exitCode: 2) }
            let converted = try ComposeFiles.convert(files, name: name)
            for warning in converted.warnings { Terminal.warn(warning.description) }
            // Validate as devstack will read it: from beside the compose file.
            _ = try ComposeFiles.loader(files, json: converted.json, profiles: profile).load(files[0])
            if output == "-" { return print(converted.json, terminator: "") }
            try OutputFile.write(Data(converted.json.utf8), to: output)
            FileHandle.standardError.write(Data("wrote \(output) from \(files.joined(separator: " + ")) (\(converted.warnings.count) warning(s))\n".utf8))
        }
    }
}
