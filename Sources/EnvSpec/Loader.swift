import Foundation

/// Reads an environment file and everything it includes, interpolates variables, merges, decodes
/// and validates. File access is injected, so this stays a pure function of its inputs.
public struct EnvironmentLoader: Sendable {
    public typealias ReadFile = @Sendable (_ absolutePath: String) throws -> String

    public var readFile: ReadFile
    public var hostEnvironment: [String: String]
    public var currentDirectory: String
    /// Profiles to activate; services without profiles are always active.
    public var profiles: Set<String>
    /// Resolves symlinks (nil when the path does not exist): the project rules apply to where a
    /// file really is, not to the name it was reached by.
    public var realPath: @Sendable (String) -> String?
    /// The engine asked for on the command line (`--engine`), over the file's "engine".
    public var engine: EngineKind?

    /// Everything the loader reads comes in here: files, the process environment, the working
    /// directory and symlink resolution. `EnvironmentLoader.live` (HostFiles) passes this
    /// machine's; tests pass their own. `realPath` by default treats every path as real.
    public init(readFile: @escaping ReadFile, hostEnvironment: [String: String], currentDirectory: String,
                realPath: @escaping @Sendable (String) -> String? = { $0 }, profiles: Set<String> = []) {
        self.readFile = readFile
        self.hostEnvironment = hostEnvironment
        self.currentDirectory = currentDirectory
        self.realPath = realPath
        self.profiles = profiles
    }

    static let topLevelKeys = ["$schema", "name", "services", "seeds", "variables", "secrets", "configs", "include", "networks", "tasks", "engine"]

    /// One parsed file of the include tree.
    struct SourceFile {
        var display: String
        var absolute: String
        var root: JSONNode
    }

    public func load(_ path: String) throws(ValidationFailure) -> LoadedEnvironment {
        let rootAbsolute = PathMath.join(currentDirectory, path)
        var files: [SourceFile] = []
        var diagnostics: [Diagnostic] = []
        let workspace = hostEnvironment["DEVSTACK_WORKSPACE"].map { PathMath.join(currentDirectory, $0) }
            ?? PathMath.directory(of: PathMath.directory(of: rootAbsolute))
        collect(display: path, absolute: rootAbsolute, chain: [], workspace: workspace, into: &files, diagnostics: &diagnostics)
        guard diagnostics.isEmpty else { throw ValidationFailure(diagnostics) }

        let variables = mergedVariables(files, diagnostics: &diagnostics)
        let rootDir = PathMath.directory(of: rootAbsolute)

        var name: String?
        var services: [String: (spec: ServiceSpec, file: String, node: JSONNode)] = [:]
        var seeds: [String: (spec: SeedSpec, file: String)] = [:]
        var secrets: [String: (spec: SecretSource, file: String)] = [:]
        var configs: [String: (spec: ConfigSource, file: String)] = [:]
        var networks: [String: (spec: NetworkSpec, file: String)] = [:]
        var tasks: [String: (spec: TaskSpec, file: String)] = [:]
        var serviceOrigin: [String: String] = [:]
        // The root file says where the environment runs; an included file's "engine" is ignored.
        var engine = EngineKind.docker

        // Included files first, then the root, whose definitions override theirs.
        for (index, file) in files.enumerated().reversed() {
            let isRoot = index == 0
            var decoder = SpecDecoder(file: file.display)
            let fileDir = PathMath.directory(of: file.absolute)
            decoder.rebasePath = { p in p.hasPrefix("/") ? p : PathMath.relative(from: rootDir, to: PathMath.join(fileDir, p)) }
            var path: [PathPart] = []
            let tree = interpolate(file.root, &path, file: file.display, variables: variables, diagnostics: &diagnostics)
            guard let members = decoder.object(tree, "", allowed: Self.topLevelKeys) else {
                diagnostics += decoder.diagnostics
                continue
            }
            if isRoot {
                if let e = tree["engine"] { engine = decoder.engine(e, "engine") ?? .docker }
                if let n = tree["name"] {
                    if let s = decoder.string(n, "name"), decoder.name(s, "name", what: "environment") { name = s }
                } else {
                    decoder.fail("", "expected \"name\": the environment's name")
                }
            }
            for (key, value) in members {
                switch key {
                case "services":
                    guard let list = decoder.map(value, "services") else { continue }
                    // Services decode independently, on every core; their diagnostics are
                    // merged back in file order.
                    let template = decoder
                    let decoded = Parallel.map(list) { serviceName, node -> (ServiceSpec?, [Diagnostic]) in
                        var local = template
                        local.diagnostics = []
                        let p = "services.\(serviceName)"
                        guard local.name(serviceName, p, what: "service") else { return (nil, local.diagnostics) }
                        return (local.service(node, p), local.diagnostics)
                    }
                    for ((serviceName, node), (spec, found)) in zip(list, decoded) {
                        let p = "services.\(serviceName)"
                        if !isRoot, let other = serviceOrigin[serviceName], other != file.display, services[serviceName] != nil, Names.isValid(serviceName) {
                            decoder.fail(p, "also defined in \(other); define it in one included file, or override it in \(files[0].display)")
                            continue
                        }
                        decoder.diagnostics += found
                        if let spec {
                            services[serviceName] = (spec, file.display, node)
                            serviceOrigin[serviceName] = file.display
                        }
                    }
                case "seeds":
                    guard let list = decoder.map(value, "seeds") else { continue }
                    for (seedName, node) in list {
                        guard decoder.name(seedName, "seeds.\(seedName)", what: "seed") else { continue }
                        if let spec = decoder.seed(node, "seeds.\(seedName)") { seeds[seedName] = (spec, file.display) }
                    }
                case "secrets":
                    guard let list = decoder.map(value, "secrets") else { continue }
                    for (secretName, node) in list {
                        if let spec = decoder.secret(node, "secrets.\(secretName)") { secrets[secretName] = (spec, file.display) }
                    }
                case "networks":
                    guard let list = decoder.map(value, "networks") else { continue }
                    for (networkName, node) in list {
                        guard decoder.networkKey(networkName, "networks.\(networkName)") else { continue }
                        if let spec = decoder.network(node, "networks.\(networkName)") { networks[networkName] = (spec, file.display) }
                    }
                case "tasks":
                    guard let list = decoder.map(value, "tasks") else { continue }
                    // An included environment's tasks are INCLUDE:TASK, INCLUDE being its name.
                    var prefix = ""
                    if !isRoot {
                        guard let include = Self.includeName(tree, absolute: file.absolute) else {
                            decoder.fail("tasks", "an included file with tasks needs \"name\": its tasks are called NAME:TASK")
                            continue
                        }
                        prefix = "\(include)\(TaskLookup.separator)"
                    }
                    for (taskName, node) in list {
                        let p = "tasks.\(taskName)"
                        // The root file may override an included task by its INCLUDE:NAME.
                        let named = isRoot ? decoder.taskKey(taskName, p) : decoder.name(taskName, p, what: "task")
                        guard named, let spec = decoder.task(node, p) else { continue }
                        if !isRoot, let other = tasks[prefix + taskName], other.file != file.display {
                            decoder.fail(p, "task \"\(prefix + taskName)\" is also defined in \(other.file): give one of the environments another \"name\"")
                            continue
                        }
                        tasks[prefix + taskName] = (spec, file.display)
                    }
                case "configs":
                    guard let list = decoder.map(value, "configs") else { continue }
                    for (configName, node) in list {
                        guard decoder.name(configName, "configs.\(configName)", what: "config") else { continue }
                        if let spec = decoder.config(node, "configs.\(configName)") { configs[configName] = (spec, file.display) }
                    }
                default: break
                }
            }
            diagnostics += decoder.diagnostics
        }
        guard diagnostics.isEmpty, let name else { throw ValidationFailure(diagnostics) }

        // Profiles: drop inactive services before cross-checks, so a reference to one is reported.
        var inactive: [String: [String]] = [:]
        for (serviceName, entry) in services where !entry.spec.profiles.isEmpty && profiles.isDisjoint(with: entry.spec.profiles) {
            inactive[serviceName] = entry.spec.profiles
        }
        for key in inactive.keys { services.removeValue(forKey: key) }

        var spec = EnvironmentSpec(name: name,
                                   services: services.mapValues(\.spec),
                                   seeds: seeds.mapValues(\.spec),
                                   secrets: secrets.mapValues(\.spec),
                                   networks: networks.mapValues(\.spec))
        spec.tasks = tasks.mapValues(\.spec)
        spec.engine = self.engine ?? engine
        // Watched folders stay in the workspace, as includes and build contexts do.
        for (serviceName, entry) in services {
            for (i, rule) in entry.spec.develop.enumerated() where !PathMath.isInside(workspace, PathMath.join(rootDir, rule.path)) {
                diagnostics.append(Diagnostic(file: entry.file, path: "services.\(serviceName).develop.watch[\(i)].path",
                                              message: "\"\(rule.path)\" leaves the workspace \(PathMath.normalize(workspace))"))
            }
        }
        for (configName, entry) in configs {
            switch entry.spec {
            case let .content(text): spec.configs[configName] = text
            case let .file(relative):
                let absolute = PathMath.join(rootDir, relative)
                let rule = ProjectRule(rootDir: rootDir, workspace: workspace, realPath: realPath)
                let allowed = PathMath.isInside(rootDir, absolute) ? rootDir : workspace
                if let real = rule.escapingRealPath(absolute, allowed: allowed) {
                    diagnostics.append(Diagnostic(file: entry.file, path: "configs.\(configName).file",
                                                  message: "config file \"\(relative)\" resolves to \(real), outside \(allowed): the project rule applies to where a symlink points"))
                    continue
                }
                do { spec.configs[configName] = try readFile(absolute) } catch {
                    diagnostics.append(Diagnostic(file: entry.file, path: "configs.\(configName).file", message: "cannot read \(relative): \(FileReadError.reason(error))"))
                }
            }
        }
        guard diagnostics.isEmpty else { throw ValidationFailure(diagnostics) }
        spec.sealConfigDigests()
        let cross = CrossValidation.check(spec, origin: { kind, name in
            switch kind {
            case .service: return services[name]?.file ?? path
            case .seed: return seeds[name]?.file ?? path
            case .task: return tasks[name]?.file ?? path
            }
        }, inactive: inactive)
        guard cross.isEmpty else { throw ValidationFailure(cross) }
        let escapes = ProjectRule(rootDir: rootDir, workspace: workspace, realPath: realPath).check(spec, origin: { kind, name in
            switch kind {
            case .service: return services[name]?.file ?? path
            case .seed: return seeds[name]?.file ?? path
            case .secret: return secrets[name]?.file ?? path
            case .config: return configs[name]?.file ?? path
            }
        })
        guard escapes.isEmpty else { throw ValidationFailure(escapes) }
        return LoadedEnvironment(spec: spec, rootFile: rootAbsolute, files: files.map(\.absolute))
    }

    /// What an included file's tasks are prefixed with: its `name`, or else its folder's name.
    static func includeName(_ tree: JSONNode, absolute: String) -> String? {
        if case let .string(name)? = tree["name"]?.value, Names.isValid(name) { return name }
        let folder = PathMath.components(PathMath.directory(of: absolute)).last ?? ""
        return Names.isValid(folder) ? folder : nil
    }

    /// Includes reach sibling repositories in the workspace (the root file's folder's parent, or
    /// DEVSTACK_WORKSPACE, as in Open edX's devstack), never an absolute path or beyond.
    private func collect(display: String, absolute: String, chain: [String], workspace: String, into files: inout [SourceFile], diagnostics: inout [Diagnostic]) {
        let text: String
        do {
            text = try readFile(absolute)
        } catch {
            let via = chain.isEmpty ? display : chain.last!
            diagnostics.append(Diagnostic(file: via, path: chain.isEmpty ? "" : "include", message: chain.isEmpty ? "cannot read the file: \(FileReadError.reason(error))" : "cannot read included file \(display): \(FileReadError.reason(error))"))
            return
        }
        let root: JSONNode
        do {
            root = try JSONParser.parse(text)
        } catch {
            diagnostics.append(Diagnostic(file: display, path: "", message: "invalid JSON: \(error.message)", line: error.line, column: error.column))
            return
        }
        if files.contains(where: { $0.absolute == absolute }) { return }
        files.append(SourceFile(display: display, absolute: absolute, root: root))
        guard let includeNode = root["include"] else { return }
        var decoder = SpecDecoder(file: display)
        guard let includes = decoder.argv(includeNode, "include") else {
            diagnostics += decoder.diagnostics
            return
        }
        let chainHere = chain + [display]
        let absChain = files.map(\.absolute)
        for (i, include) in includes.enumerated() {
            if include.hasPrefix("/") || include.hasPrefix("~") {
                diagnostics.append(Diagnostic(file: display, path: "include[\(i)]", message: "expected a path relative to this file, found \"\(include)\""))
                continue
            }
            let childAbsolute = PathMath.join(PathMath.directory(of: absolute), include)
            let childDisplay = PathMath.normalize(PathMath.join(PathMath.directory(of: display), include))
            if childAbsolute == absolute || (chainHere.count > 0 && absChainContains(absChain, chain: chainHere, childAbsolute: childAbsolute, files: files)) {
                let loop = (chainHere + [childDisplay]).joined(separator: " → ")
                diagnostics.append(Diagnostic(file: display, path: "include[\(i)]", message: "include loop: \(loop)"))
                continue
            }
            let root = PathMath.normalize(workspace)
            guard PathMath.normalize(childAbsolute).hasPrefix(root == "/" ? "/" : root + "/") else {
                diagnostics.append(Diagnostic(file: display, path: "include[\(i)]",
                                              message: "\"\(include)\" leaves the workspace \(PathMath.normalize(workspace)) (set DEVSTACK_WORKSPACE to widen it)"))
                continue
            }
            let rule = ProjectRule(rootDir: root, workspace: root, realPath: realPath)
            if let real = rule.escapingRealPath(childAbsolute, allowed: root) {
                diagnostics.append(Diagnostic(file: display, path: "include[\(i)]",
                                              message: "\"\(include)\" is a symlink to \(real), outside the workspace \(root): includes stay in the workspace"))
                continue
            }
            collect(display: childDisplay, absolute: childAbsolute, chain: chainHere, workspace: workspace, into: &files, diagnostics: &diagnostics)
        }
    }

    /// True when `childAbsolute` is one of the files on the current include chain.
    private func absChainContains(_ all: [String], chain: [String], childAbsolute: String, files: [SourceFile]) -> Bool {
        let chainAbsolute = chain.compactMap { display in files.first(where: { $0.display == display })?.absolute }
        return chainAbsolute.contains(childAbsolute)
    }

    /// The host environment wins, then the root file, then included files in the order listed.
    private func mergedVariables(_ files: [SourceFile], diagnostics: inout [Diagnostic]) -> [String: String] {
        var merged: [String: String] = [:]
        for file in files.reversed() {
            guard let node = file.root["variables"] else { continue }
            var decoder = SpecDecoder(file: file.display)
            if let map = decoder.stringMap(node, "variables") { merged.merge(map) { _, new in new } }
            diagnostics += decoder.diagnostics
        }
        return merged
    }

    /// Where the walk is, kept as parts and spelled out only for a diagnostic: building the
    /// path text for every node was a tenth of loading a 10,000-service file.
    enum PathPart {
        case key(String)
        case index(Int)

        static func text(_ parts: [PathPart]) -> String {
            parts.reduce("") { path, part in
                switch part {
                case let .key(key): return SpecDecoder.join(path, key)
                case let .index(index): return "\(path)[\(index)]"
                }
            }
        }
    }

    private func interpolate(_ node: JSONNode, _ path: inout [PathPart], file: String, variables: [String: String], diagnostics: inout [Diagnostic]) -> JSONNode {
        switch node.value {
        case let .string(s):
            // Most strings hold no "$": nothing to expand, and the node is kept as it is.
            guard s.utf8.contains(UInt8(ascii: "$")) else { return node }
            switch Interpolation.expand(s, lookup: { hostEnvironment[$0] ?? variables[$0] }) {
            case let .success(expanded): return JSONNode(.string(expanded), line: node.line, column: node.column)
            case let .failure(failure):
                let message: String
                switch failure {
                case let .undefined(name): message = "variable \"\(name)\" is not defined (set it in \"variables\" or the environment, or write ${\(name):-default})\(Suggest.didYouMean(name, in: variables.keys))"
                case .unterminated: message = "unterminated \"${\" in \"\(s)\" (write $$ for a literal dollar sign)"
                case let .badName(name): message = "invalid variable name \"\(name)\" in \"\(s)\""
                }
                diagnostics.append(Diagnostic(file: file, path: PathPart.text(path), message: message))
                return node
            }
        case let .array(items):
            var out: [JSONNode] = []
            out.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                path.append(.index(index))
                out.append(interpolate(item, &path, file: file, variables: variables, diagnostics: &diagnostics))
                path.removeLast()
            }
            return JSONNode(.array(out), line: node.line, column: node.column)
        case let .object(members):
            var out: [(key: String, value: JSONNode)] = []
            out.reserveCapacity(members.count)
            for member in members {
                if path.isEmpty && (member.key == "variables" || member.key == "include") {
                    out.append(member)
                    continue
                }
                path.append(.key(member.key))
                out.append((member.key, interpolate(member.value, &path, file: file, variables: variables, diagnostics: &diagnostics)))
                path.removeLast()
            }
            return JSONNode(.object(out), line: node.line, column: node.column)
        default:
            return node
        }
    }
}

public struct LoadedEnvironment: Sendable {
    public var spec: EnvironmentSpec
    /// Absolute path of the file that was loaded; relative paths in the spec are relative to its folder.
    public var rootFile: String
    public var files: [String]
    public var projectDirectory: String { PathMath.directory(of: rootFile) }
}

/// The project rule, applied to real paths: a file an environment reads (configs, seed files,
/// secret files, build contexts) or a bind it shares stays in the project folder (or, for a file
/// of an included repository, in the workspace), whatever symlinks it is reached through. Binds
/// and secret files marked `outsideProject` are exempt: they say so.
struct ProjectRule {
    enum Kind { case service, seed, secret, config }
    var rootDir: String
    var workspace: String
    var realPath: @Sendable (String) -> String?

    func check(_ spec: EnvironmentSpec, origin: (Kind, String) -> String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        func checkFile(_ relative: String, _ kind: Kind, _ name: String, _ path: String, what: String) {
            let absolute = PathMath.join(rootDir, relative)
            let allowed = PathMath.isInside(rootDir, absolute) ? rootDir : workspace
            if let real = escapingRealPath(absolute, allowed: allowed) {
                out.append(Diagnostic(file: origin(kind, name), path: path,
                                      message: "\(what) \"\(relative)\" resolves to \(real), outside \(allowed == rootDir ? "the project folder" : "the workspace") \(allowed): the project rule applies to where a symlink points"))
            }
        }
        for name in spec.services.keys.sorted() {
            let service = spec.services[name]!
            if let build = service.build {
                checkFile(build.context, .service, name, "services.\(name).build.context", what: "build context")
            }
            for (i, mount) in service.volumes.enumerated() where mount.type == .bind && !mount.outsideProject {
                checkFile(mount.source, .service, name, "services.\(name).volumes[\(i)]", what: "bind source")
            }
        }
        for name in spec.seeds.keys.sorted() {
            let seed = spec.seeds[name]!
            if let file = seed.action.file { checkFile(file, .seed, name, "seeds.\(name)", what: "seed file") }
            if let stdin = seed.stdin { checkFile(stdin, .seed, name, "seeds.\(name).stdin", what: "seed input") }
        }
        for name in spec.secrets.keys.sorted() {
            if case let .file(path) = spec.secrets[name]!, !spec.secrets[name]!.isOutsideProject {
                checkFile(path, .secret, name, "secrets.\(name).fromFile", what: "secret file")
            }
        }
        return out
    }

    /// The real path of `absolute` when it lies outside the real `allowed` folder; nil when it
    /// stays inside. A path that does not exist yet is judged by its deepest existing folder.
    func escapingRealPath(_ absolute: String, allowed: String) -> String? {
        let realAllowed = realPath(allowed) ?? allowed
        let real = resolveExisting(absolute)
        return PathMath.isInside(realAllowed, real) ? nil : real
    }

    func resolveExisting(_ absolute: String) -> String {
        var head = PathMath.normalize(absolute)
        var tail: [String] = []
        while true {
            if let real = realPath(head) { return PathMath.normalize(([real] + tail.reversed()).joined(separator: "/")) }
            if head == "/" { return PathMath.normalize(absolute) }
            tail.append(PathMath.components(head).last ?? "")
            head = PathMath.directory(of: head)
        }
    }
}
