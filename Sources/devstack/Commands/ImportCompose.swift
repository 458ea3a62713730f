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

    /// The shell's variables, then `.env` in `directory` for what the shell does not set: where
    /// compose looks for COMPOSE_FILE, COMPOSE_PROFILES and COMPOSE_PROJECT_NAME.
    static func composeVariables(directory: String) throws -> [String: String] {
        try ComposeImporter.projectVariables(projectDirectory: directory, environment: ProcessInfo.processInfo.environment, readFile: LocalFiles.read)
    }

    static func convert(_ files: [String], name: String? = nil) throws -> ComposeImporter.Result {
        let sources = try files.map { file -> ComposeImporter.Source in
            do { return ComposeImporter.Source(display: file, text: try LocalFiles.readText(file)) } catch {
                throw ValidationFailure([Diagnostic(file: file, path: "", message: "cannot read the file: \(LocalFiles.reason(error))")])
            }
        }
        let directory = PathMath.directory(of: PathMath.join(FileManager.default.currentDirectoryPath, files[0]))
        let variables = try composeVariables(directory: directory)
        let project = name ?? variables["COMPOSE_PROJECT_NAME"].flatMap { $0.isEmpty ? nil : ComposeImporter.sanitize($0) }
        return try ComposeImporter.convert(sources, name: project, projectDirectory: directory)
    }

    /// A loader that reads the converted text in place of the first compose file.
    static func loader(_ files: [String], json: String, profiles: [String]) -> EnvironmentLoader {
        var loader = EnvironmentLoader.cli(profiles: profiles)
        let root = PathMath.join(loader.currentDirectory, files[0])
        loader.readFile = { path in path == root ? json : try LocalFiles.read(path) }
        return loader
    }
}

/// The files a command reads its desired state from, the way compose finds them: `-f` (repeatable)
/// or the positional file; else COMPOSE_FILE (from the shell or `.env`, `:`-separated). Several
/// compose files overlay each other; COMPOSE_PROFILES adds profiles.
struct EnvironmentInput {
    var files: [String]
    var profiles: [String]

    init(positional: String?, files: [String], profiles: [String]) {
        self.files = (positional.map { [$0] } ?? []) + files
        self.profiles = profiles
    }

    /// True when a file was named, or COMPOSE_FILE names some.
    var isGiven: Bool { !((try? resolvedFiles()) ?? []).isEmpty }

    func resolvedFiles() throws -> [String] {
        if !files.isEmpty { return files }
        let variables = try ComposeFiles.composeVariables(directory: FileManager.default.currentDirectoryPath)
        guard let list = variables["COMPOSE_FILE"], !list.isEmpty else { return [] }
        let separator = variables["COMPOSE_PATH_SEPARATOR"].flatMap(\.first) ?? ":"
        return list.split(separator: separator).map(String.init)
    }

    /// Loads and validates; compose warnings go to standard error.
    func load() throws -> LoadedEnvironment {
        let files = try resolvedFiles()
        guard let first = files.first else {
            throw UserError("expected an environment file or compose files (-f FILE, or COMPOSE_FILE)", exitCode: 2)
        }
        if files.allSatisfy(ComposeFiles.isCompose) {
            let directory = PathMath.directory(of: PathMath.join(FileManager.default.currentDirectoryPath, first))
            let variables = try ComposeFiles.composeVariables(directory: directory)
            let fromShell = (variables["COMPOSE_PROFILES"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let converted = try ComposeFiles.convert(files)
            for warning in converted.warnings { Terminal.warn(warning.description) }
            return try ComposeFiles.loader(files, json: converted.json, profiles: profiles + fromShell).load(first)
        }
        guard files.count == 1 else {
            throw UserError("\(files.joined(separator: ", ")): several files are combined only when all are compose files; an environment file combines others with \"include\"", exitCode: 2)
        }
        return try EnvironmentLoader.cli(profiles: profiles).load(first)
    }
}
