import HostFiles
import EnvSpec
import Foundation

/// Converts docker compose files into a devstack environment file. Everything it does not carry
/// over is reported as a warning with its path; nothing is dropped silently.
public struct ComposeImporter {
    public struct Result: Sendable {
        /// The environment file, in env-file syntax (pretty JSON, sorted keys).
        public var json: String
        public var warnings: [Diagnostic]
    }

    public typealias ReadFile = (_ absolutePath: String) throws -> String

    /// One compose file: what to call it in messages, and its text.
    public struct Source: Sendable {
        public var display: String
        public var text: String
        public init(display: String, text: String) {
            self.display = display
            self.text = text
        }
    }

    var projectDirectory: String
    var readFile: ReadFile
    var warnings: [Diagnostic] = []
    var errors: [Diagnostic] = []
    var file = ""
    /// The variables compose interpolates with: `.env`, overridden by the environment.
    var variables: [String: String] = [:]
    /// Top-level volume names: a service may mount only these, as in compose.
    var declaredVolumes: Set<String> = []
    /// Compose names that devstack's naming rule does not allow, and what they became.
    var serviceNames: [String: String] = [:]
    var volumeNames: [String: String] = [:]
    var networkNames: [String: String] = [:]
    var configNames: [String: String] = [:]
    /// Services with ports published without a host address: said once per service.
    var loopbackPorts: Set<String> = []
    /// Where each key path was written last (file and line), for messages.
    var locations: [String: (file: String, line: Int, column: Int)] = [:]

    /// `projectDirectory` is the folder of the first file; relative paths are resolved against it.
    /// `environment` is the shell's: it wins over `.env`, as in compose.
    public static func convert(_ sources: [Source], name: String? = nil, projectDirectory: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               readFile: @escaping ReadFile = LocalFiles.read) throws(ValidationFailure) -> Result {
        var importer = ComposeImporter(projectDirectory: projectDirectory, readFile: readFile)
        importer.file = sources.first?.display ?? "compose.yaml"
        importer.variables = try projectVariables(projectDirectory: projectDirectory, environment: environment, readFile: readFile)
        var merged: [String: Any] = [:]
        for source in sources {
            let root: YAMLNode?
            do { root = try YAMLReader.read(source.text, file: source.display) } catch { throw ValidationFailure([error.diagnostic]) }
            guard let root else { continue }
            guard case .mapping = root.value else {
                throw ValidationFailure([Diagnostic(file: source.display, path: "", message: "expected a mapping with \"services\" at the top level")])
            }
            let interpolated = importer.interpolate(root, path: "")
            guard importer.errors.isEmpty else { throw ValidationFailure(importer.errors) }
            importer.index(interpolated, path: "")
            var document = interpolated.resolved as? [String: Any] ?? [:]
            document = importer.applyExtends(document, file: source.display, directory: projectDirectory)
            document = importer.applyIncludes(document, file: source.display, directory: projectDirectory, environment: environment, chain: [source.display])
            guard importer.errors.isEmpty else { throw ValidationFailure(importer.errors) }
            merged = ComposeMerge.merge(merged, document)
        }
        let json = importer.environment(merged, name: name)
        guard importer.errors.isEmpty else { throw ValidationFailure(importer.errors) }
        return Result(json: CanonicalJSON.pretty(json) + "\n", warnings: importer.warnings)
    }

    // MARK: include

    static let resourceSections = ["services", "networks", "volumes", "secrets", "configs"]

    /// Top-level `include`: each entry is loaded as a compose application of its own (its folder
    /// is its project folder, its `.env` its variables, its own `extends` and `include`
    /// resolved), and its resources are added to this file's. A resource both define is an
    /// error, as in compose.
    mutating func applyIncludes(_ document: [String: Any], file: String, directory: String, environment: [String: String],
                                chain: [String]) -> [String: Any] {
        guard let entries = document["include"] else { return document }
        var out = document
        out.removeValue(forKey: "include")
        for (i, entry) in list(entries).enumerated() {
            let path = "include[\(i)]"
            var paths: [String] = []
            var projectDir: String?
            var envFiles: [String] = []
            if let text = entry as? String { paths = [text] } else if let body = entry as? [String: Any] {
                paths = list(body["path"] ?? []).map(Self.scalar)
                projectDir = body["project_directory"].map(Self.scalar)
                envFiles = list(body["env_file"] ?? []).map(Self.scalar)
                for key in body.keys.sorted() where !["path", "project_directory", "env_file"].contains(key) { warn("\(path).\(key)", "include option not supported; ignored") }
            }
            guard let first = paths.first else { fail(path, "expected a path or {path, project_directory, env_file}"); continue }
            let workspace = PathMath.directory(of: projectDirectory)
            let absolutes = paths.map { PathMath.join(directory, $0) }
            if let outside = absolutes.first(where: { !PathMath.isInside(workspace, $0) }) {
                fail(path, "\"\(outside)\" is outside the workspace \(workspace): include reads files of this project and its sibling repositories")
                continue
            }
            if chain.contains(first) || chain.count > 16 {
                fail(path, "include loop: \((chain + [first]).joined(separator: " → "))")
                continue
            }
            let includedDirectory = projectDir.map { PathMath.join(directory, $0) } ?? PathMath.directory(of: absolutes[0])
            // The included application's own variables: its .env (or env_file), under the shell's.
            let savedVariables = variables
            var ownVariables: [String: String] = [:]
            for envFile in envFiles.isEmpty ? [".env"] : envFiles {
                if let text = try? readFile(PathMath.join(envFiles.isEmpty ? includedDirectory : directory, envFile)),
                   case let .success(pairs) = Self.parseDotEnv(text, variables: environment) {
                    for (key, value) in pairs { ownVariables[key] = value }
                }
            }
            variables = ownVariables.merging(environment) { _, shell in shell }
            defer { variables = savedVariables }
            var included: [String: Any] = [:]
            for (display, absolute) in zip(paths, absolutes) {
                let text: String
                do { text = try readFile(absolute) } catch {
                    fail(path, "cannot read \(display): \(LocalFiles.reason(error))")
                    continue
                }
                let root: YAMLNode?
                do { root = try YAMLReader.read(text, file: display) } catch { errors.append(error.diagnostic); continue }
                guard let root else { continue }
                var part = interpolate(root, path: "").resolved as? [String: Any] ?? [:]
                part = applyExtends(part, file: display, directory: includedDirectory)
                part = applyIncludes(part, file: display, directory: PathMath.directory(of: absolute), environment: environment, chain: chain + [display])
                included = ComposeMerge.merge(included, part)
            }
            // Relative paths of the included application are relative to its own folder.
            if includedDirectory != projectDirectory, var services = included["services"] as? [String: Any] {
                for (name, body) in services {
                    if let body = body as? [String: Any] { services[name] = Self.rebase(body, from: includedDirectory, to: projectDirectory) }
                }
                included["services"] = services
            }
            for section in Self.resourceSections {
                guard let resources = included[section] as? [String: Any], !resources.isEmpty else { continue }
                var mine = out[section] as? [String: Any] ?? [:]
                for (name, resource) in resources {
                    if mine[name] != nil {
                        fail("\(section).\(name)", "\(section.dropLast()) \"\(name)\" is defined both here and in the included \(first): rename one of them")
                        continue
                    }
                    mine[name] = resource
                }
                out[section] = mine
            }
        }
        return out
    }

    // MARK: extends

    /// Services with `extends` become their base service merged with what they say themselves,
    /// by the same rules as overlays. The base may be in this file or another one; relative
    /// paths in another file are relative to its folder, as in compose.
    mutating func applyExtends(_ document: [String: Any], file: String, directory: String) -> [String: Any] {
        guard var services = document["services"] as? [String: Any] else { return document }
        for name in services.keys.sorted() {
            guard let body = services[name] as? [String: Any], body["extends"] != nil else { continue }
            if let resolved = resolveExtends(body, name: name, services: document["services"] as? [String: Any] ?? [:], file: file,
                                             directory: directory, chain: ["\(file)#\(name)"]) {
                services[name] = resolved
            }
        }
        var out = document
        out["services"] = services
        return out
    }

    /// Parsed files that services extend, by absolute path.
    static let maxExtendsDepth = 32

    mutating func resolveExtends(_ body: [String: Any], name: String, services: [String: Any], file: String, directory: String,
                                 chain: [String]) -> [String: Any]? {
        let path = "services.\(name).extends"
        var own = body
        own.removeValue(forKey: "extends")
        let base: String, otherFile: String?
        switch body["extends"] {
        case let text as String: base = text; otherFile = nil
        case let spec as [String: Any]:
            guard let service = spec["service"].map(Self.scalar) else { fail(path, "expected \"service\": the service to extend"); return nil }
            base = service
            otherFile = spec["file"].map(Self.scalar)
            for key in spec.keys.sorted() where key != "service" && key != "file" { warn("\(path).\(key)", "extends option not supported; ignored") }
        default:
            fail(path, "expected a service name or {service, file}")
            return nil
        }
        guard chain.count <= Self.maxExtendsDepth else { fail(path, "extends goes deeper than \(Self.maxExtendsDepth) services"); return nil }
        var baseServices = services
        var baseFile = file
        var baseDirectory = directory
        if let otherFile {
            let absolute = PathMath.join(directory, otherFile)
            let workspace = PathMath.directory(of: projectDirectory)
            guard PathMath.isInside(workspace, absolute) else {
                fail("\(path).file", "\"\(otherFile)\" is outside the workspace \(workspace): extends reads files of this project and its sibling repositories")
                return nil
            }
            guard let loaded = loadExtendedFile(absolute, display: otherFile, from: path) else { return nil }
            baseServices = loaded
            baseFile = otherFile
            baseDirectory = PathMath.directory(of: absolute)
        }
        let key = "\(baseFile)#\(base)"
        if chain.contains(key) {
            fail(path, "extends loop: \((chain + [key]).joined(separator: " → "))")
            return nil
        }
        guard var baseBody = baseServices[base] as? [String: Any] else {
            fail(path, "no service \"\(base)\" to extend in \(baseFile)\(Suggest.didYouMean(base, in: Array(baseServices.keys)))")
            return nil
        }
        if baseBody["extends"] != nil {
            guard let resolved = resolveExtends(baseBody, name: base, services: baseServices, file: baseFile, directory: baseDirectory, chain: chain + [key]) else { return nil }
            baseBody = resolved
        }
        if baseDirectory != directory { baseBody = Self.rebase(baseBody, from: baseDirectory, to: projectDirectory) }
        return ComposeMerge.merge(baseBody, own, key: name)
    }

    /// The services of a file that a service extends: read, interpolated, not indexed.
    mutating func loadExtendedFile(_ absolute: String, display: String, from path: String) -> [String: Any]? {
        let text: String
        do { text = try readFile(absolute) } catch {
            fail("\(path).file", "cannot read \(display): \(LocalFiles.reason(error))")
            return nil
        }
        let root: YAMLNode?
        do { root = try YAMLReader.read(text, file: display) } catch {
            errors.append(error.diagnostic)
            return nil
        }
        guard let root else { return [:] }
        let interpolated = interpolate(root, path: "")
        return (interpolated.resolved as? [String: Any])?["services"] as? [String: Any] ?? [:]
    }

    /// Relative paths of a service written in another folder, made relative to the project.
    static func rebase(_ body: [String: Any], from: String, to project: String) -> [String: Any] {
        func move(_ path: String) -> String {
            guard !path.hasPrefix("/"), !path.hasPrefix("~"), !path.hasPrefix("$") else { return path }
            return PathMath.relative(from: project, to: PathMath.join(from, path))
        }
        var out = body
        if let build = body["build"] as? String { out["build"] = move(build) }
        if var build = body["build"] as? [String: Any] {
            build["context"] = move(build["context"].map(scalar) ?? ".")
            out["build"] = build
        }
        if let files = body["env_file"] {
            let list = files as? [Any] ?? [files]
            out["env_file"] = list.map { item -> Any in
                if let path = item as? String { return move(path) }
                if var entry = item as? [String: Any], let path = entry["path"].map(scalar) { entry["path"] = move(path); return entry }
                return item
            }
        }
        if let volumes = body["volumes"] as? [Any] {
            out["volumes"] = volumes.map { item -> Any in
                if let text = item as? String, text.hasPrefix(".") {
                    var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                    parts[0] = move(parts[0])
                    let moved = parts.joined(separator: ":")
                    return moved.hasPrefix(".") || moved.hasPrefix("/") ? moved : "./" + moved
                }
                if var entry = item as? [String: Any], entry["type"].map(scalar) == "bind", let source = entry["source"].map(scalar), !source.hasPrefix("/") {
                    entry["source"] = move(source)
                    return entry
                }
                return item
            }
        }
        return out
    }

    /// `.env` in the project folder (its own variables and the environment's may be used in it),
    /// with the environment's values winning.
    static func parseDotEnv(_ text: String, variables: [String: String]) -> Swift.Result<[(key: String, value: String)], DotEnv.Failure> {
        do { return .success(try DotEnv.parse(text, lookup: { variables[$0] })) } catch { return .failure(error) }
    }

    public static func projectVariables(projectDirectory: String, environment: [String: String], readFile: ReadFile) throws(ValidationFailure) -> [String: String] {
        var variables: [String: String] = [:]
        if let text = try? readFile(PathMath.join(projectDirectory, ".env")) {
            do {
                for (key, value) in try DotEnv.parse(text, lookup: { environment[$0] }) { variables[key] = value }
            } catch {
                throw ValidationFailure([Diagnostic(file: ".env", path: "", message: error.message, line: error.line, column: 1)])
            }
        }
        variables.merge(environment) { _, shell in shell }
        return variables
    }

    /// Substitutes variables in every value (never in keys), as compose does before it reads
    /// types: a scalar that held a variable is a string afterwards, and each field casts it.
    mutating func interpolate(_ node: YAMLNode, path: String) -> YAMLNode {
        var out = node
        switch node.value {
        case let .scalar(text, plain, tag):
            guard text.contains("$") else { return node }
            do {
                let variables = self.variables
                var unset: [String] = []
                let expanded = try ComposeInterpolation.expand(text, lookup: { variables[$0] }, unset: { unset.append($0) })
                for name in unset {
                    warnings.append(Diagnostic(file: node.file, path: path, message: "the \"\(name)\" variable is not set: it is an empty string, as in compose",
                                               line: node.line, column: node.column))
                }
                out.value = .scalar(expanded, plain: plain, tag: tag ?? "tag:yaml.org,2002:str")
            } catch {
                errors.append(Diagnostic(file: node.file, path: path, message: error.message, line: node.line, column: node.column))
            }
        case let .sequence(items):
            out.value = .sequence(items.enumerated().map { interpolate($1, path: "\(path)[\($0)]") })
        case let .mapping(pairs):
            out.value = .mapping(pairs.map { ($0.key, interpolate($0.value, path: path.isEmpty ? $0.key : "\(path).\($0.key)")) })
        }
        return out
    }

    /// Records where each key was written, so a message can name the file and line.
    mutating func index(_ node: YAMLNode, path: String) {
        switch node.value {
        case .scalar: break
        case let .sequence(items):
            for (i, item) in items.enumerated() {
                let p = "\(path)[\(i)]"
                locations[p] = (item.file, item.line, item.column)
                index(item, path: p)
            }
        case let .mapping(pairs):
            for (key, value) in pairs {
                let p = path.isEmpty ? key : "\(path).\(key)"
                locations[p] = (value.file, value.line, value.column)
                index(value, path: p)
            }
        }
    }

    /// The file and line a path was written at, or those of its closest parent.
    func location(_ path: String) -> (file: String, line: Int?, column: Int?) {
        var p = path
        while !p.isEmpty {
            if let found = locations[p] { return (found.file, found.line, found.column) }
            if p.hasSuffix("]"), let open = p.lastIndex(of: "[") { p = String(p[..<open]); continue }
            guard let dot = p.lastIndex(of: ".") else { break }
            p = String(p[..<dot])
        }
        return (file, nil, nil)
    }

    mutating func warn(_ path: String, _ message: String) {
        let at = location(path)
        warnings.append(Diagnostic(file: at.file, path: path, message: message, line: at.line, column: at.column))
    }
    mutating func fail(_ path: String, _ message: String) {
        let at = location(path)
        errors.append(Diagnostic(file: at.file, path: path, message: message, line: at.line, column: at.column))
    }

    // MARK: the top level

    mutating func environment(_ root: [String: Any], name: String?) -> JSONValue {
        var out: [(String, JSONValue)] = []
        let envName = name ?? (root["name"] as? String).map(Self.sanitize) ?? Self.sanitize(PathMath.components(projectDirectory).last ?? "compose")
        out.append(("name", .string(envName)))
        var secrets: [(String, JSONValue)] = []
        var configs: [(String, JSONValue)] = []
        for key in root.keys.sorted() {
            let value = root[key]!
            switch key {
            case "services", "name", "version": break
            case "volumes": topLevelVolumes(value)
            case "networks":
                var networks: [(String, JSONValue)] = []
                let declared = value as? [String: Any] ?? [:]
                networkNames = renames(declared.keys.filter { $0 != EnvironmentSpec.defaultNetwork }, section: "networks", what: "network",
                                       consequence: "services refer to it by that name")
                for (network, spec) in declared.sorted(by: { $0.key < $1.key }) {
                    guard let converted = topLevelNetwork(network, spec) else { continue }
                    networks.append((networkNames[network] ?? network, converted))
                }
                if !networks.isEmpty { out.append(("networks", .obj(networks))) }
            case "secrets":
                for (secret, spec) in (value as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let body = spec as? [String: Any] ?? [:]
                    if let path = body["file"].map(Self.scalar) {
                        if path.hasPrefix("/") || path.hasPrefix("~") || PathMath.escapes(path) {
                            warn("secrets.\(secret).file", "secret file \"\(path)\" is outside the project folder; marked \"outsideProject\": true, review it")
                            secrets.append((secret, .obj([("fromFile", .string(path)), ("outsideProject", .bool(true))])))
                        } else {
                            secrets.append((secret, .obj([("fromFile", .string(path))])))
                        }
                    } else if let variable = body["environment"] as? String {
                        secrets.append((secret, .obj([("fromEnv", .string(variable))])))
                    } else {
                        warn("secrets.\(secret)", "only \"file\" and \"environment\" secrets are supported; ignored")
                    }
                }
            case "configs":
                let declared = value as? [String: Any] ?? [:]
                configNames = renames(Array(declared.keys), section: "configs", what: "config", consequence: "services refer to it by that name")
                for (original, spec) in declared.sorted(by: { $0.key < $1.key }) {
                    let config = configNames[original] ?? original
                    let body = spec as? [String: Any] ?? [:]
                    if let path = body["file"] as? String {
                        if path.hasPrefix("/") || PathMath.escapes(path) {
                            fail("configs.\(original).file", "config file \"\(path)\" is outside the project folder")
                        } else {
                            configs.append((config, .obj([("file", .string(path))])))
                        }
                    } else if let content = body["content"] as? String {
                        configs.append((config, .obj([("content", .string(Self.literal(content)))])))
                    } else {
                        warn("configs.\(original)", "only \"file\" and \"content\" configs are supported; ignored")
                    }
                }
            case let other where other.hasPrefix("x-"): break
            default: warn(key, "not supported by devstack; ignored")
            }
        }
        if !secrets.isEmpty { out.append(("secrets", .obj(secrets))) }
        if !configs.isEmpty { out.append(("configs", .obj(configs))) }
        var services: [(String, JSONValue)] = []
        guard let list = root["services"] as? [String: Any] else {
            fail("services", "expected a mapping of services")
            return .obj(out)
        }
        serviceNames = renames(Array(list.keys), section: "services", what: "service",
                               consequence: "the original name stays reachable as a network alias")
        for (serviceName, body) in list.sorted(by: { $0.key < $1.key }) {
            guard let body = body as? [String: Any] else { fail("services.\(serviceName)", "expected a mapping"); continue }
            services.append((serviceNames[serviceName] ?? serviceName, service(body, "services.\(serviceName)", name: serviceName)))
        }
        out.append(("services", .obj(services)))
        return .obj(out)
    }

    mutating func topLevelVolumes(_ value: Any) {
        declaredVolumes = Set((value as? [String: Any] ?? [:]).keys)
        volumeNames = renames(Array(declaredVolumes), section: "volumes", what: "volume", consequence: "the engine's volume is named after it")
        for (volume, spec) in (value as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let body = spec as? [String: Any] else { continue }
            if body["external"] as? Bool == true || body["external"] is [String: Any] {
                warn("volumes.\(volume).external", "devstack creates its own labelled volume for \"\(volume)\"; the external volume is not used")
            }
            for key in body.keys.sorted() where !["external", "name"].contains(key) && !key.hasPrefix("x-") {
                warn("volumes.\(volume).\(key)", "volume options are not supported; ignored")
            }
        }
    }

    // MARK: services

    static let ignoredWithReason: [String: String] = [
        "hostname": "services reach each other by service name",
        "expose": "services on the environment network reach each other's ports",
    ]

    mutating func service(_ body: [String: Any], _ path: String, name: String) -> JSONValue {
        var out: [(String, JSONValue)] = []
        var env: [String: String] = [:]
        var resources: [(String, JSONValue)] = []
        var extraAliases: [String] = []
        for key in body.keys.sorted() {
            let value = body[key]!
            let p = "\(path).\(key)"
            switch key {
            case "image": if let s = value as? String { out.append(("image", .string(Self.literal(s)))) }
            case "build": if let b = build(value, p) { out.append(("build", b)) }
            case "command": if let a = argv(value, p) { out.append(("command", .strings(a))) }
            case "entrypoint": if let a = argv(value, p) { out.append(("entrypoint", .strings(a))) }
            case "working_dir": if let s = value as? String { out.append(("workingDir", .string(s))) }
            case "user": out.append(("user", .string(Self.scalar(value))))
            case "environment": env.merge(keyValues(value, p, hostFallback: true)) { _, new in new }
            case "env_file": env.merge(envFiles(value, p)) { old, _ in old }
            case "ports": out.append(("ports", .array(list(value).enumerated().compactMap { port($1, "\(p)[\($0)]").map { JSONNode($0) } })))
            case "volumes": out.append(("volumes", .array(list(value).enumerated().compactMap { mount($1, "\(p)[\($0)]").map { JSONNode($0) } })))
            case "depends_on": out.append(("dependsOn", dependsOn(value, p)))
            case "healthcheck": if let h = healthcheck(value, p) { out.append(("healthcheck", h)) }
            case "restart": if let r = restart(value, p) { out.append(("restart", .string(r))) }
            case "profiles": out.append(("profiles", .strings(list(value).map(Self.scalar))))
            case "labels": out.append(("labels", .stringMap(keyValues(value, p, hostFallback: false))))
            case "init": out.append(("init", .bool(Self.truthy(value))))
            case "mem_limit": resources.append(("memory", .string(Self.scalar(value))))
            case "cpus": resources.append(("cpus", .number(Double(Self.scalar(value)) ?? 1)))
            case "deploy": resources += deployResources(value, p)
            case "networks": if let n = serviceNetworks(value, p) { out.append(("networks", n)) }
            case "network_mode":
                let mode = Self.scalar(value)
                if mode == "host" || mode.hasPrefix("container:") || mode.hasPrefix("service:") {
                    warn(p, "network_mode \"\(mode)\" is not supported: the service joins the environment's networks instead")
                } else if mode != "bridge" && mode != "default" {
                    warn(p, "network_mode \"\(mode)\" is not supported; ignored")
                }
            case "configs": if let c = serviceConfigs(value, p) { out.append(("configs", c)) }
            case "develop": if let d = develop(value, p, hasBuild: body["build"] != nil) { out.append(("develop", d)) }
            case "pull_policy": if let s = value as? String { out.append(("pullPolicy", .string(s == "if_not_present" ? "missing" : s))) }
            case "container_name":
                // Other services often reach a container by this name: it stays a DNS name.
                let containerName = Self.scalar(value)
                if DNSNames.isValid(containerName) {
                    extraAliases.append(containerName)
                    warn(p, "devstack names containers ENV-SERVICE; \"\(containerName)\" is kept as a network alias, so it still resolves")
                } else {
                    warn(p, "ignored: devstack names containers ENV-SERVICE")
                }
            case let other where other.hasPrefix("x-"): break
            default:
                warn(p, Self.ignoredWithReason[key].map { "ignored: \($0)" } ?? "not supported by devstack; ignored")
            }
        }
        if !env.isEmpty { out.append(("env", .stringMap(env))) }
        if !resources.isEmpty { out.append(("resources", .obj(resources))) }
        if serviceNames[name] != nil { extraAliases.insert(name, at: 0) }
        if !extraAliases.isEmpty { out = Self.addingAliases(extraAliases, to: out) }
        if loopbackPorts.contains(path) {
            warn("\(path).ports", "published on 127.0.0.1 only, where compose publishes on every address: write the address (\"0.0.0.0:8000:80\") to publish elsewhere")
        }
        return .obj(out)
    }

    /// Adds DNS aliases on every network the service joins (the default one when it names none).
    static func addingAliases(_ aliases: [String], to service: [(String, JSONValue)]) -> [(String, JSONValue)] {
        var out = service
        var networks: [(key: String, value: JSONNode)] = [(EnvironmentSpec.defaultNetwork, JSONNode(.obj([])))]
        if let index = out.firstIndex(where: { $0.0 == "networks" }), case let .object(members) = out[index].1 {
            networks = members
            out.remove(at: index)
        }
        networks = networks.map { member in
            guard case let .object(fields) = member.value.value else { return member }
            var existing: [String] = []
            if let node = fields.first(where: { $0.key == "aliases" })?.value, case let .array(items) = node.value {
                existing = items.compactMap { if case let .string(s) = $0.value { return s } else { return nil } }
            }
            let merged = existing + aliases.filter { !existing.contains($0) }
            return (member.key, JSONNode(.object(fields.filter { $0.key != "aliases" } + [(key: "aliases", value: JSONNode(.strings(merged)))])))
        }
        out.append(("networks", .object(networks)))
        return out
    }

    func list(_ value: Any) -> [Any] { value as? [Any] ?? (value is NSNull ? [] : [value]) }

    static func scalar(_ value: Any) -> String {
        switch value {
        case let s as String: return s
        case let b as Bool: return b ? "true" : "false"
        case let i as Int: return String(i)
        case let d as Double: return CanonicalJSON.formatNumber(d)
        default: return "\(value)"
        }
    }

    static let watchActions: [String: String] = ["sync": "sync", "rebuild": "rebuild", "sync+restart": "sync+restart"]

    /// `develop.watch` rules carry over as they are; actions devstack has no equivalent for are
    /// dropped with a warning, never turned into something else.
    mutating func develop(_ value: Any, _ path: String, hasBuild: Bool) -> JSONValue? {
        guard let body = value as? [String: Any] else { fail(path, "expected a mapping"); return nil }
        for key in body.keys.sorted() where key != "watch" && !key.hasPrefix("x-") { warn("\(path).\(key)", "develop option not supported; ignored") }
        var rules: [JSONNode] = []
        for (i, item) in list(body["watch"] ?? NSNull()).enumerated() {
            let p = "\(path).watch[\(i)]"
            guard let rule = item as? [String: Any] else { fail(p, "expected a mapping"); continue }
            guard let rulePath = rule["path"] as? String, !rulePath.isEmpty else { warn(p, "a watch rule without \"path\"; ignored"); continue }
            guard !rulePath.hasPrefix("/") && !rulePath.hasPrefix("~") else {
                warn("\(p).path", "watched paths are relative to the project in devstack; \"\(rulePath)\" ignored")
                continue
            }
            let actionText = rule["action"].map(Self.scalar) ?? ""
            guard let action = Self.watchActions[actionText] else {
                warn("\(p).action", "watch action \"\(actionText)\" is not supported (sync, rebuild, sync+restart are); rule ignored")
                continue
            }
            if action == "rebuild" && !hasBuild { warn("\(p).action", "\"rebuild\" needs a build section; rule ignored"); continue }
            var fields: [(String, JSONValue)] = [("path", .string(Self.literal(rulePath))), ("action", .string(action))]
            if let target = rule["target"] as? String {
                fields.append(("target", .string(Self.literal(target))))
            } else if action != "rebuild" {
                warn(p, "\"\(action)\" without \"target\"; rule ignored")
                continue
            }
            if let ignore = rule["ignore"] { fields.append(("ignore", .strings(list(ignore).map { Self.literal(Self.scalar($0)) }))) }
            for key in rule.keys.sorted() where !["path", "action", "target", "ignore"].contains(key) && !key.hasPrefix("x-") {
                warn("\(p).\(key)", "watch option not supported; ignored")
            }
            rules.append(JSONNode(.obj(fields)))
        }
        return rules.isEmpty ? nil : .obj([("watch", .array(rules))])
    }

    mutating func build(_ value: Any, _ path: String) -> JSONValue? {
        if let context = value as? String { return .string(context) }
        guard let body = value as? [String: Any] else { fail(path, "expected a path or a mapping"); return nil }
        var out: [(String, JSONValue)] = [("context", .string(body["context"] as? String ?? "."))]
        if let dockerfile = body["dockerfile"] as? String { out.append(("dockerfile", .string(dockerfile))) }
        if let args = body["args"] { out.append(("args", .stringMap(keyValues(args, "\(path).args", hostFallback: true)))) }
        for key in body.keys.sorted() where !["context", "dockerfile", "args"].contains(key) && !key.hasPrefix("x-") {
            warn("\(path).\(key)", "build option not supported; ignored")
        }
        return .obj(out)
    }

    /// compose splits a string command like a shell would, without running a shell.
    mutating func argv(_ value: Any, _ path: String) -> [String]? {
        if let items = value as? [Any] { return items.map { Self.literal(Self.scalar($0)) } }
        guard let text = value as? String else { fail(path, "expected a string or a list"); return nil }
        guard let words = ShellWords.split(text) else { fail(path, "unbalanced quotes in \"\(text)\""); return nil }
        return words.map(Self.literal)
    }

    /// `KEY=VALUE` lists and mappings (environment, labels, build args). A key without a value
    /// takes the host's, as in compose.
    mutating func keyValues(_ value: Any, _ path: String, hostFallback: Bool) -> [String: String] {
        var out: [String: String] = [:]
        if let map = value as? [String: Any] {
            for (key, v) in map {
                if v is NSNull {
                    // A key without a value takes the environment's, or is left out, as in compose.
                    if hostFallback, let value = variables[key] { out[key] = Self.literal(value) } else if !hostFallback { out[key] = "" }
                } else {
                    out[key] = Self.literal(Self.scalar(v))
                }
            }
        } else if let items = value as? [Any] {
            for item in items.map(Self.scalar) {
                if let eq = item.firstIndex(of: "=") {
                    out[String(item[..<eq])] = Self.literal(String(item[item.index(after: eq)...]))
                } else {
                    if hostFallback, let value = variables[item] { out[item] = Self.literal(value) } else if !hostFallback { out[item] = "" }
                }
            }
        } else {
            fail(path, "expected a mapping or a list of KEY=VALUE")
        }
        return out
    }

    mutating func envFiles(_ value: Any, _ path: String) -> [String: String] {
        var out: [String: String] = [:]
        for (i, item) in list(value).enumerated() {
            let entry = item as? [String: Any]
            guard let relative = (item as? String) ?? entry?["path"] as? String else { fail("\(path)[\(i)]", "expected a path"); continue }
            let required = entry?["required"] as? Bool ?? true
            if relative.hasPrefix("/") || PathMath.escapes(relative) {
                fail("\(path)[\(i)]", "env file \"\(relative)\" is outside the project folder")
                continue
            }
            do {
                // Later files win, as in compose.
                let text = try readFile(PathMath.join(projectDirectory, relative))
                switch Self.parseDotEnv(text, variables: variables) {
                case let .success(pairs): for (key, value) in pairs { out[key] = Self.literal(value) }
                case let .failure(failure): errors.append(Diagnostic(file: relative, path: "", message: failure.message, line: failure.line, column: 1))
                }
            } catch {
                if required { fail("\(path)[\(i)]", "cannot read \(relative): \(LocalFiles.reason(error))") }
            }
        }
        return out
    }


    mutating func port(_ value: Any, _ path: String) -> JSONValue? {
        if let body = value as? [String: Any] {
            guard let target = body["target"].map(Self.scalar).flatMap(Int.init) else { fail(path, "expected \"target\""); return nil }
            var out: [(String, JSONValue)] = [("containerPort", .number(Double(target)))]
            if let published = body["published"].map(Self.scalar) {
                guard let port = Int(published) else { warn(path, "port ranges are not supported; ignored"); return nil }
                out.append(("hostPort", .number(Double(port))))
            }
            if let ip = body["host_ip"].map(Self.scalar) { out.append(("hostIP", .string(ip))) } else { loopbackPorts.insert(servicePath(path)) }
            if let proto = body["protocol"].map(Self.scalar) { out.append(("protocol", .string(proto))) }
            if let mode = body["mode"].map(Self.scalar), mode != "ingress" { warn("\(path).mode", "port mode \"\(mode)\" is not supported: published as usual") }
            for key in body.keys.sorted() where !["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"].contains(key) && !key.hasPrefix("x-") {
                warn("\(path).\(key)", "port option not supported; ignored")
            }
            return .obj(out)
        }
        let text = Self.scalar(value)
        if (text.split(separator: "/").first ?? "").contains("-") { warn(path, "port ranges are not supported; \"\(text)\" ignored"); return nil }
        if text.hasPrefix("[") { warn(path, "IPv6 host addresses are not supported; \"\(text)\" ignored"); return nil }
        if text.split(separator: ":").count < 3 { loopbackPorts.insert(servicePath(path)) }
        return .string(Self.literal(text))
    }

    static let propagationModes: Set<String> = ["shared", "rshared", "slave", "rslave", "private", "rprivate"]

    mutating func mount(_ value: Any, _ path: String) -> JSONValue? {
        var type = "volume", source = "", target = "", readOnly = false
        if let body = value as? [String: Any] {
            type = body["type"].map(Self.scalar) ?? "volume"
            source = body["source"].map(Self.scalar) ?? ""
            target = body["target"].map(Self.scalar) ?? ""
            readOnly = body["read_only"].map(Self.truthy) ?? false
            for key in body.keys.sorted() where !["type", "source", "target", "read_only"].contains(key) && !key.hasPrefix("x-") {
                if let options = body[key] as? [String: Any] {
                    for option in options.keys.sorted() { warn("\(path).\(key).\(option)", "mount option not supported; ignored") }
                } else {
                    warn("\(path).\(key)", "mount option not supported; ignored")
                }
            }
        } else {
            let parts = Self.scalar(value).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 1 {
                warn(path, "anonymous volumes are not supported; name it (\"NAME:\(parts[0])\"); ignored")
                return nil
            }
            guard parts.count <= 3 else { fail(path, "expected SOURCE:TARGET[:MODE], found \"\(Self.scalar(value))\""); return nil }
            source = parts[0]
            target = parts[1]
            type = source.hasPrefix(".") || source.hasPrefix("/") || source.hasPrefix("~") || source.hasPrefix("$") ? "bind" : "volume"
            if parts.count == 3 {
                for mode in parts[2].split(separator: ",").map(String.init) {
                    switch mode {
                    case "ro": readOnly = true
                    case "rw": readOnly = false
                    case "z", "Z": warn(path, "SELinux relabelling \"\(mode)\" is not supported; the mount is not relabelled")
                    case "nocopy": warn(path, "\"nocopy\" is not supported: a new volume is filled from the image as usual")
                    case "cached", "delegated", "consistent": break // macOS-only consistency hints; compose ignores them on Linux too
                    case _ where Self.propagationModes.contains(mode): warn(path, "bind propagation \"\(mode)\" is not supported; the engine's default applies")
                    default: fail(path, "invalid mode \"\(mode)\" in \"\(Self.scalar(value))\": expected ro, rw, z, Z, nocopy or a propagation mode")
                    }
                }
            }
        }
        if type == "volume", !source.isEmpty, !declaredVolumes.contains(source) {
            fail(path, "service refers to undefined volume \(source): declare it under the top-level \"volumes\"")
            return nil
        }
        if type == "volume", let renamed = volumeNames[source] { source = renamed }
        guard ["volume", "bind"].contains(type) else { warn(path, "\(type) mounts are not supported; ignored"); return nil }
        if source.isEmpty { warn(path, "anonymous volumes are not supported; ignored"); return nil }
        source = Self.literal(source)
        var out: [(String, JSONValue)] = [("type", .string(type)), ("source", .string(source)), ("target", .string(target)), ("readOnly", .bool(readOnly))]
        if type == "bind", source.hasPrefix("/") || source.hasPrefix("~") || source.hasPrefix("$") || PathMath.escapes(source) {
            warn(path, "bind \"\(source)\" is outside the project folder; marked \"outsideProject\": true, review it")
            out.append(("outsideProject", .bool(true)))
        }
        return .obj(out)
    }

    mutating func dependsOn(_ value: Any, _ path: String) -> JSONValue {
        if let names = value as? [Any] { return .strings(names.map(Self.scalar).map { serviceNames[$0] ?? $0 }) }
        if let name = value as? String { return .strings([serviceNames[name] ?? name]) }
        var out: [(String, JSONValue)] = []
        for (name, spec) in (value as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            let body = spec as? [String: Any] ?? [:]
            if let restart = body["restart"], Self.truthy(restart) {
                warn("\(path).\(name).restart", "restarting this service when \(name) restarts is not supported; ignored")
            }
            if let required = body["required"], !Self.truthy(required) {
                warn("\(path).\(name).required", "an optional dependency is waited for like a required one")
            }
            for key in body.keys.sorted() where !["condition", "restart", "required"].contains(key) {
                warn("\(path).\(name).\(key)", "depends_on option not supported; ignored")
            }
            let condition = body["condition"].map(Self.scalar) ?? "service_started"
            switch condition {
            case "service_started": out.append((serviceNames[name] ?? name, .string("started")))
            case "service_healthy": out.append((serviceNames[name] ?? name, .string("healthy")))
            case "service_completed_successfully": out.append((serviceNames[name] ?? name, .string("completed")))
            default: fail("\(path).\(name).condition", "unknown condition \"\(condition)\"")
            }
        }
        return .obj(out)
    }

    mutating func healthcheck(_ value: Any, _ path: String) -> JSONValue? {
        guard let body = value as? [String: Any] else { fail(path, "expected a mapping"); return nil }
        let disabled = JSONValue.obj([("disable", .bool(true))])
        if let flag = body["disable"], Self.truthy(flag) { return disabled }
        var command: [String]
        switch body["test"] {
        case let text as String: command = ["sh", "-c", text]
        case let items as [Any]:
            let words = items.map(Self.scalar)
            switch words.first {
            case "NONE": return disabled
            case "CMD": command = Array(words.dropFirst())
            case "CMD-SHELL": command = ["sh", "-c", words.dropFirst().joined(separator: " ")]
            default: command = words
            }
        default:
            warn(path, "a healthcheck without \"test\" uses the image's; devstack needs the command, so it is ignored")
            return nil
        }
        command = command.map(Self.literal)
        var out: [(String, JSONValue)] = [("command", .strings(command))]
        // The engine's defaults where compose leaves them out (30s, 30s, 3 retries), not devstack's.
        for (key, name, fallback) in [("interval", "interval", "30s"), ("timeout", "timeout", "30s"), ("start_period", "startPeriod", "0s")] {
            out.append((name, .string(body[key].map(Self.scalar) ?? fallback)))
        }
        if let retries = body["retries"] {
            if let n = Int(Self.scalar(retries)) { out.append(("retries", .number(Double(n)))) } else { fail("\(path).retries", "expected a whole number, found \"\(Self.scalar(retries))\"") }
        }
        for key in body.keys.sorted() where !["test", "interval", "timeout", "start_period", "retries", "disable"].contains(key) {
            warn("\(path).\(key)", "healthcheck option not supported; ignored")
        }
        return .obj(out)
    }

    mutating func restart(_ value: Any, _ path: String) -> String? {
        if value as? Bool == false { return "no" }
        let text = Self.scalar(value)
        if text.hasPrefix("on-failure:") {
            warn(path, "a retry count is not supported; \"on-failure\" retries without limit")
            return "on-failure"
        }
        guard ["no", "always", "on-failure", "unless-stopped"].contains(text) else { fail(path, "unknown restart policy \"\(text)\""); return nil }
        return text
    }

    mutating func deployResources(_ value: Any, _ path: String) -> [(String, JSONValue)] {
        let body = value as? [String: Any] ?? [:]
        var out: [(String, JSONValue)] = []
        let resources = body["resources"] as? [String: Any] ?? [:]
        let limits = resources["limits"] as? [String: Any] ?? [:]
        if let memory = limits["memory"] { out.append(("memory", .string(Self.scalar(memory)))) }
        if let cpus = limits["cpus"].map(Self.scalar).flatMap(Double.init) { out.append(("cpus", .number(cpus))) }
        for key in limits.keys.sorted() where key != "memory" && key != "cpus" { warn("\(path).resources.limits.\(key)", "resource limit not supported; ignored") }
        if resources["reservations"] != nil { warn("\(path).resources.reservations", "resource reservations are not supported; ignored") }
        for key in resources.keys.sorted() where key != "limits" && key != "reservations" { warn("\(path).resources.\(key)", "deploy option not supported; ignored") }
        for key in body.keys.sorted() where key != "resources" { warn("\(path).\(key)", "deploy option not supported; ignored") }
        return out
    }

    /// `networks: [a, b]` or `networks: {a: {aliases: [...], ipv4_address: ...}}`.
    mutating func serviceNetworks(_ value: Any, _ path: String) -> JSONValue? {
        if let names = value as? [Any] {
            return .obj(names.map(Self.scalar).map { (networkNames[$0] ?? $0, .obj([])) })
        }
        guard let map = value as? [String: Any] else { fail(path, "expected a list or a mapping of networks"); return nil }
        var out: [(String, JSONValue)] = []
        for (name, body) in map.sorted(by: { $0.key < $1.key }) {
            let p = "\(path).\(name)"
            var fields: [(String, JSONValue)] = []
            let options = body as? [String: Any] ?? [:]
            if !(body is NSNull) && !(body is [String: Any]) { fail(p, "expected a mapping or nothing"); continue }
            for key in options.keys.sorted() {
                let v = options[key]!
                switch key {
                case "aliases": fields.append(("aliases", .strings(list(v).map(Self.scalar))))
                case "ipv4_address": fields.append(("ipv4Address", .string(Self.scalar(v))))
                default: warn("\(p).\(key)", "network option not supported; ignored")
                }
            }
            out.append((networkNames[name] ?? name, .obj(fields)))
        }
        return .obj(out)
    }

    /// A top-level network: created by devstack (with `name`, `internal`, `driver`, IPAM
    /// subnets), or `external`, which devstack uses and never creates or removes.
    mutating func topLevelNetwork(_ network: String, _ spec: Any) -> JSONValue? {
        let p = "networks.\(network)"
        if spec is NSNull { return network == "default" ? nil : .obj([]) }
        guard let body = spec as? [String: Any] else { fail(p, "expected a mapping"); return nil }
        var out: [(String, JSONValue)] = []
        if let name = body["name"] { out.append(("name", .string(Self.scalar(name)))) }
        switch body["external"] {
        case nil: break
        case let flag as Bool: if flag { out.append(("external", .bool(true))) }
        case let legacy as [String: Any]:
            // Compose file format 2/3: `external: {name: x}`.
            out.append(("external", .bool(true)))
            if let name = legacy["name"], body["name"] == nil { out.append(("name", .string(Self.scalar(name)))) }
        case let text as String where text == "true" || text == "false":
            if text == "true" { out.append(("external", .bool(true))) }
        default: fail("\(p).external", "expected true or false")
        }
        let external = out.contains { $0.0 == "external" }
        if let flag = body["internal"] { out.append(("internal", .bool(Self.truthy(flag)))) }
        if let driver = body["driver"] { out.append(("driver", .string(Self.scalar(driver)))) }
        if let ipam = body["ipam"] as? [String: Any] {
            var subnets: [String] = []
            for (i, entry) in list(ipam["config"] ?? []).enumerated() {
                let config = entry as? [String: Any] ?? [:]
                if let subnet = config["subnet"] {
                    let text = Self.scalar(subnet)
                    if text.contains(":") { warn("\(p).ipam.config[\(i)].subnet", "IPv6 subnets are not supported; \"\(text)\" ignored") } else { subnets.append(text) }
                }
                for key in config.keys.sorted() where key != "subnet" { warn("\(p).ipam.config[\(i)].\(key)", "IPAM option not supported; ignored") }
            }
            if !subnets.isEmpty { out.append(("subnets", .strings(subnets))) }
            for key in ipam.keys.sorted() where key != "config" { warn("\(p).ipam.\(key)", "IPAM option not supported; ignored") }
        }
        for key in body.keys.sorted() where !["name", "external", "internal", "driver", "ipam"].contains(key) && !key.hasPrefix("x-") {
            warn("\(p).\(key)", "network option not supported; ignored")
        }
        if external && out.contains(where: { ["internal", "driver", "subnets"].contains($0.0) }) {
            fail(p, "conflicting parameters: an external network cannot set \"internal\", \"driver\" or \"ipam\"")
        }
        return .obj(out)
    }

    /// Names devstack's rule does not allow (upper case, dots, …) become allowed ones, each with
    /// a warning that says what it became.
    mutating func renames(_ names: [String], section: String, what: String, consequence: String) -> [String: String] {
        var out: [String: String] = [:]
        var taken = Set(names.filter(Names.isValid))
        for original in names.sorted() where !Names.isValid(original) {
            var base = String(original.lowercased().map { c -> Character in (c.isASCII && (c.isLetter || c.isNumber)) || c == "-" || c == "_" ? c : "-" })
            while let first = base.first, !(first.isASCII && (first.isLetter || first.isNumber)) { base.removeFirst() }
            base = String((base.isEmpty ? what : base).prefix(60))
            var candidate = base
            var n = 2
            while taken.contains(candidate) { candidate = "\(base)-\(n)"; n += 1 }
            taken.insert(candidate)
            out[original] = candidate
            warn("\(section).\(original)", "\(what) name \"\(original)\" does not follow devstack's naming rule (\(Names.ruleText)): it is \"\(candidate)\" here; \(consequence)")
        }
        return out
    }

    /// `services.web.ports[0]` → `services.web`.
    func servicePath(_ path: String) -> String {
        let parts = path.split(separator: ".", maxSplits: 2)
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : path
    }

    static func truthy(_ value: Any) -> Bool {
        if let b = value as? Bool { return b }
        // compose-go casts strings for boolean fields: y, yes, true, on (and their opposites).
        return ["true", "1", "y", "yes", "on"].contains(scalar(value).lowercased())
    }

    mutating func serviceConfigs(_ value: Any, _ path: String) -> JSONValue? {
        var out: [(String, JSONValue)] = []
        for (i, item) in list(value).enumerated() {
            if let name = item as? String {
                out.append(("/\(name)", .string(configNames[name] ?? name)))
            } else if let body = item as? [String: Any], let source = body["source"].map(Self.scalar) {
                let target = body["target"].map(Self.scalar) ?? "/\(source)"
                out.append((target.hasPrefix("/") ? target : "/" + target, .string(configNames[source] ?? source)))
                for key in body.keys.sorted() where key != "source" && key != "target" {
                    warn("\(path)[\(i)].\(key)", "config option not supported: the file is written with mode 0644, owned by root")
                }
            } else {
                fail("\(path)[\(i)]", "expected a config name or {source, target}")
            }
        }
        return out.isEmpty ? nil : .obj(out)
    }

    // MARK: names and strings

    /// Lower case, and anything outside `a-z 0-9 - _` becomes "-".
    /// Compose's project-name rule: lower case, and characters outside `a-z 0-9 - _` removed.
    public static func sanitize(_ name: String) -> String {
        let mapped = name.lowercased().filter { c in (c.isASCII && (c.isLetter || c.isNumber)) || c == "-" || c == "_" }
        let trimmed = String(mapped).trimmingCharacters(in: CharacterSet(charactersIn: "-_"))
        return String((trimmed.isEmpty ? "compose" : trimmed).prefix(63))
    }

    /// A value compose has already interpolated, written so that devstack's own interpolation
    /// leaves it as it is: every `$` becomes `$$`.
    static func literal(_ text: String) -> String {
        text.replacingOccurrences(of: "$", with: "$$")
    }
}

/// Splitting a command string into words the way a POSIX shell would, without expansions.
enum ShellWords {
    static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped { current.append(c); escaped = false; continue }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { current.append(c) }
                continue
            }
            switch c {
            case "\\": escaped = true; inWord = true
            case "\"", "'": quote = c; inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(c); inWord = true
            }
        }
        if quote != nil || escaped { return nil }
        if inWord { words.append(current) }
        return words
    }
}

/// compose's rules for overlaying files (`-f base.yml -f override.yml`): mappings merge, and
/// the lists that add up (ports, volumes, env files…) are joined; anything else is replaced.
enum ComposeMerge {
    static let appended: Set<String> = ["ports", "expose", "env_file", "dns", "profiles", "external_links", "extra_hosts", "cap_add", "cap_drop", "devices"]
    static let keyed: Set<String> = ["environment", "labels", "args"]

    static func merge(_ base: [String: Any], _ overlay: [String: Any], key parent: String = "") -> [String: Any] {
        var out = base
        for (key, value) in overlay {
            guard let existing = out[key] else { out[key] = value; continue }
            if keyed.contains(key) {
                out[key] = mapForm(existing).merging(mapForm(value)) { _, new in new }
            } else if key == "volumes", parent != "", let a = existing as? [Any], let b = value as? [Any] {
                // Service mounts merge by target.
                var byTarget: [String: Any] = [:]
                var order: [String] = []
                for item in a + b {
                    let target = target(of: item)
                    if byTarget[target] == nil { order.append(target) }
                    byTarget[target] = item
                }
                out[key] = order.map { byTarget[$0]! }
            } else if appended.contains(key), let a = existing as? [Any], let b = value as? [Any] {
                out[key] = a + b.filter { item in !a.contains { "\($0)" == "\(item)" } }
            } else if key == "depends_on", existing is [Any] || value is [Any] {
                out[key] = dependsOnMap(existing).merging(dependsOnMap(value)) { _, new in new }
            } else if let a = existing as? [String: Any], let b = value as? [String: Any] {
                out[key] = merge(a, b, key: key)
            } else {
                out[key] = value
            }
        }
        return out
    }

    static func mapForm(_ value: Any) -> [String: Any] {
        if let map = value as? [String: Any] { return map }
        var out: [String: Any] = [:]
        for item in (value as? [Any] ?? []).map({ "\($0)" }) {
            if let eq = item.firstIndex(of: "=") { out[String(item[..<eq])] = String(item[item.index(after: eq)...]) } else { out[item] = NSNull() }
        }
        return out
    }

    static func dependsOnMap(_ value: Any) -> [String: Any] {
        if let map = value as? [String: Any] { return map }
        return Dictionary((value as? [Any] ?? []).map { ("\($0)", ["condition": "service_started"] as [String: Any]) }) { a, _ in a }
    }

    static func target(of mount: Any) -> String {
        if let body = mount as? [String: Any] { return body["target"] as? String ?? "" }
        let parts = "\(mount)".split(separator: ":")
        return parts.count > 1 ? String(parts[1]) : String(parts.first ?? "")
    }
}
