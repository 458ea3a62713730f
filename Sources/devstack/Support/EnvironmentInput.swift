import HostFiles
import ComposeImport
import EnvSpec
import Foundation

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

    static func convert(_ files: [String], name: String? = nil, variables known: [String: String]? = nil) throws -> ComposeImporter.Result {
        let sources = try files.map { file -> ComposeImporter.Source in
            do { return ComposeImporter.Source(display: file, text: try LocalFiles.readText(file)) } catch {
                throw ValidationFailure([Diagnostic(file: file, path: "", message: "cannot read the file: \(LocalFiles.reason(error))")])
            }
        }
        let directory = PathMath.directory(of: PathMath.join(FileManager.default.currentDirectoryPath, files[0]))
        let variables = try known ?? composeVariables(directory: directory)
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
    /// `--engine`, over the file's own "engine".
    var engine: EngineKind?

    init(positional: String?, files: [String], profiles: [String], engine: EngineKind? = nil) {
        self.files = (positional.map { [$0] } ?? []) + files
        self.profiles = profiles
        self.engine = engine
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
            let converted = try ComposeFiles.convert(files, variables: variables)
            for warning in converted.warnings { Terminal.warn(warning.description) }
            var loader = ComposeFiles.loader(files, json: converted.json, profiles: profiles + fromShell)
            loader.engine = engine
            return try loader.load(first)
        }
        guard files.count == 1 else {
            throw UserError("\(files.joined(separator: ", ")): several files are combined only when all are compose files; an environment file combines others with \"include\"", exitCode: 2)
        }
        var loader = EnvironmentLoader.cli(profiles: profiles)
        loader.engine = engine
        return try loader.load(first)
    }
}
