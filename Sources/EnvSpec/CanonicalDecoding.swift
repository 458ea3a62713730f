/// Reading canonical specs back, from the store or from an export bundle. The canonical form is
/// env-file syntax, so the same decoder applies; `source` names where the text came from.
extension ServiceSpec {
    public static func decodeCanonical(_ node: JSONNode, source: String, path: String) throws(ValidationFailure) -> ServiceSpec {
        var decoder = SpecDecoder(file: source)
        guard let spec = decoder.service(node, path) else { throw ValidationFailure(decoder.diagnostics) }
        return spec
    }
}

extension EnvironmentSpec {
    /// Decodes `{"name", "services", "seeds", "secrets", "configs"}` as produced by `canonical`.
    /// `services`: services decoded already (the store decodes them on every core); the node's
    /// own "services" member is then left empty.
    public static func decodeCanonical(_ node: JSONNode, source: String, services: [String: ServiceSpec] = [:]) throws(ValidationFailure) -> EnvironmentSpec {
        var decoder = SpecDecoder(file: source)
        guard let members = decoder.object(node, "", allowed: ["name", "services", "seeds", "secrets", "configs", "networks", "tasks", "develop", "engine"]) else {
            throw ValidationFailure(decoder.diagnostics)
        }
        var spec = EnvironmentSpec(name: "")
        spec.services = services
        var develop: [(key: String, value: JSONNode)] = []
        for (key, value) in members {
            switch key {
            case "name":
                if let s = decoder.string(value, "name"), decoder.name(s, "name", what: "environment") { spec.name = s }
            case "services":
                for (name, node) in decoder.map(value, "services") ?? [] where decoder.name(name, "services.\(name)", what: "service") {
                    if let s = decoder.service(node, "services.\(name)") { spec.services[name] = s }
                }
            case "seeds":
                for (name, node) in decoder.map(value, "seeds") ?? [] {
                    if let s = decoder.seed(node, "seeds.\(name)") { spec.seeds[name] = s }
                }
            case "networks":
                for (name, node) in decoder.map(value, "networks") ?? [] where decoder.networkKey(name, "networks.\(name)") {
                    if let n = decoder.network(node, "networks.\(name)") { spec.networks[name] = n }
                }
            case "secrets":
                for (name, node) in decoder.map(value, "secrets") ?? [] {
                    if let s = decoder.secret(node, "secrets.\(name)") { spec.secrets[name] = s }
                }
            case "tasks":
                for (name, node) in decoder.map(value, "tasks") ?? [] where decoder.taskKey(name, "tasks.\(name)") {
                    if let t = decoder.task(node, "tasks.\(name)") { spec.tasks[name] = t }
                }
            case "develop": develop = decoder.map(value, "develop") ?? []
            case "engine": spec.engine = decoder.engine(value, "engine") ?? .docker
            case "configs":
                for (name, node) in decoder.map(value, "configs") ?? [] {
                    switch decoder.config(node, "configs.\(name)") {
                    case let .content(text)?: spec.configs[name] = text
                    case .file?: decoder.fail("configs.\(name)", "a recorded config holds its text as \"content\"")
                    case nil: break
                    }
                }
            default: break
            }
        }
        // Watch rules belong to services, which may be decoded only by now.
        for (name, node) in develop {
            let rules = decoder.develop(node, "develop.\(name)")
            if spec.services[name] == nil { decoder.fail("develop.\(name)", "no service named \"\(name)\"") } else { spec.services[name]!.develop = rules }
        }
        spec.sealConfigDigests()
        if spec.name.isEmpty && decoder.diagnostics.isEmpty { decoder.fail("", "expected \"name\"") }
        guard decoder.diagnostics.isEmpty else { throw ValidationFailure(decoder.diagnostics) }
        let cross = CrossValidation.check(spec, origin: { _, _ in source }, inactive: [:])
        guard cross.isEmpty else { throw ValidationFailure(cross) }
        return spec
    }

    public static func decodeCanonical(json text: String, source: String) throws(ValidationFailure) -> EnvironmentSpec {
        do {
            return try decodeCanonical(try JSONParser.parse(text), source: source)
        } catch let error as JSONSyntaxError {
            throw ValidationFailure([Diagnostic(file: source, path: "", message: "invalid JSON: \(error.message)", line: error.line, column: error.column)])
        } catch let error as ValidationFailure {
            throw error
        } catch {
            throw ValidationFailure([Diagnostic(file: source, path: "", message: "\(error)")])
        }
    }
}
