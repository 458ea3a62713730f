import ArgumentParser
import ComposeImport
import EnvSpec
import Foundation
import StateStore

extension Devstack {
    struct ImportCompose: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-compose",
            abstract: "Convert docker compose files (later files overlay earlier ones) into an environment file.",
            discussion: "Every key devstack does not carry over is listed as a warning with its path. The result is validated before it is written.")

        @Argument(help: "Compose files, base first, overlays after.") var files: [String]
        @Option(name: .shortAndLong, help: "Write the environment file here ('-' or left out: standard output).") var output: String = "-"
        @Option(name: .long, help: "The environment's name (default: compose's name, or the folder's).") var name: String?
        @Option(name: .long, help: "Activate a profile when validating (repeatable).") var profile: [String] = []

        func run() throws {
            let converted = try ComposeFiles.convert(files, name: name)
            for warning in converted.warnings { Terminal.warn(warning.description) }
            // Validate as devstack will read it: from beside the compose file.
            _ = try ComposeFiles.loader(files, json: converted.json, profiles: profile).load(files[0])
            if output == "-" { return print(converted.json, terminator: "") }
            try Files.writeOutput(Data(converted.json.utf8), to: output)
            FileHandle.standardError.write(Data("wrote \(output) from \(files.joined(separator: " + ")) (\(converted.warnings.count) warning(s))\n".utf8))
        }
    }
}

/// Compose files as an environment: `import-compose` writes the result, `apply` uses it directly.
enum ComposeFiles {
    static func isCompose(_ path: String) -> Bool {
        path.hasSuffix(".yml") || path.hasSuffix(".yaml")
    }

    static func convert(_ files: [String], name: String? = nil) throws -> ComposeImporter.Result {
        let sources = try files.map { file -> ComposeImporter.Source in
            do { return ComposeImporter.Source(display: file, text: try String(contentsOfFile: file, encoding: .utf8)) } catch {
                throw ValidationFailure([Diagnostic(file: file, path: "", message: "cannot read the file: \(LocalFiles.reason(error))")])
            }
        }
        let directory = PathMath.directory(of: PathMath.join(FileManager.default.currentDirectoryPath, files[0]))
        return try ComposeImporter.convert(sources, name: name, projectDirectory: directory)
    }

    /// A loader that reads the converted text in place of the first compose file.
    static func loader(_ files: [String], json: String, profiles: [String]) -> EnvironmentLoader {
        var loader = EnvironmentLoader.cli(profiles: profiles)
        let root = PathMath.join(loader.currentDirectory, files[0])
        loader.readFile = { path in path == root ? json : try LocalFiles.read(path) }
        return loader
    }
}
