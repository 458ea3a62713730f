import Crypto
import Foundation

/// Canonical JSON: keys sorted, no insignificant whitespace, integers without a fraction. Two
/// documents that mean the same thing encode to the same bytes, so their SHA-256 is equal.
public enum CanonicalJSON {
    public static func encode(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out, pretty: false, indent: 0)
        return out
    }

    /// Indented, sorted output for people (show, export).
    public static func pretty(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out, pretty: true, indent: 0)
        return out
    }

    public static func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }

    public static func sha256(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// SHA-256 over bytes that arrive in pieces (archives streamed through fixed-size buffers).
    public struct Hasher: Sendable {
        var state = SHA256()
        public init() {}
        public mutating func update(_ data: Data) { state.update(data: data) }
        public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { state.update(bufferPointer: $0) } }
        /// Lower-case hex of the digest of everything given so far.
        public func finalize() -> String { CanonicalJSON.hex(state.finalize()) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex, without a formatter per byte (this runs once per service per command).
    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func hash(_ value: JSONValue) -> String { sha256(encode(value)) }

    static func write(_ value: JSONValue, into out: inout String, pretty: Bool, indent: Int) {
        switch value {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += formatNumber(n)
        case let .string(s): writeString(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                write(item.value, into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case let .object(members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                writeString(member.key, into: &out)
                out += pretty ? ": " : ":"
                write(member.value.value, into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    public static func formatNumber(_ n: Double) -> String {
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return n.description
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        // Almost every string needs no escape: append it whole, not scalar by scalar (which was
        // a fifth of `diff -f` on a 10,000-service file).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += s
            out += "\""
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

// MARK: - Spec → canonical tree

extension JSONValue {
    public static func obj(_ members: [(String, JSONValue)]) -> JSONValue {
        .object(members.map { (key: $0.0, value: JSONNode($0.1)) })
    }
    public static func strings(_ items: [String]) -> JSONValue { .array(items.map { JSONNode(.string($0)) }) }
    public static func stringMap(_ map: [String: String]) -> JSONValue { .obj(map.map { ($0.key, .string($0.value)) }) }
}

extension EnvValue {
    /// A map of variables as written: literals as strings, secrets as `{"secret": NAME}`.
    public static func canonical(_ env: [String: EnvValue]) -> JSONValue {
        .obj(env.map { key, value in
            switch value {
            case let .literal(s): return (key, .string(s))
            case let .secret(name): return (key, .obj([("secret", .string(name))]))
            }
        })
    }
}

public enum DurationText {
    /// "5s" when whole seconds, "1500ms" otherwise: one spelling per value.
    public static func format(ms: Int) -> String { ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms" }
}

extension ServiceSpec {
    /// The canonical form: every default explicit. It is also valid env-file syntax, so the store
    /// and exports read it back with the same decoder that reads a user's file.
    public var canonical: JSONValue {
        var m: [(String, JSONValue)] = []
        if let image { m.append(("image", .string(image))) }
        if let build {
            m.append(("build", .obj([("context", .string(build.context)), ("dockerfile", .string(build.dockerfile)), ("args", .stringMap(build.args))])))
        }
        m.append(("pullPolicy", .string(pullPolicy.rawValue)))
        if let command { m.append(("command", .strings(command))) }
        if let entrypoint { m.append(("entrypoint", .strings(entrypoint))) }
        if let workingDir { m.append(("workingDir", .string(workingDir))) }
        if let user { m.append(("user", .string(user))) }
        m.append(("env", EnvValue.canonical(env)))
        m.append(("ports", .array(ports.map { p in
            var fields: [(String, JSONValue)] = [("hostIP", .string(p.hostIP)), ("containerPort", .number(Double(p.containerPort))), ("protocol", .string(p.proto))]
            if let hostPort = p.hostPort { fields.append(("hostPort", .number(Double(hostPort)))) }
            return JSONNode(.obj(fields))
        })))
        m.append(("volumes", .array(volumes.map { v in
            var fields: [(String, JSONValue)] = [("type", .string(v.type.rawValue)), ("source", .string(v.source)), ("target", .string(v.target)), ("readOnly", .bool(v.readOnly))]
            if v.outsideProject { fields.append(("outsideProject", .bool(true))) }
            return JSONNode(.obj(fields))
        })))
        m.append(("dependsOn", .obj(dependsOn.map { ($0.key, .obj([("condition", .string($0.value.rawValue))])) })))
        if let healthcheck {
            m.append(("healthcheck", .obj([
                ("command", .strings(healthcheck.command)),
                ("interval", .string(DurationText.format(ms: healthcheck.intervalMs))),
                ("timeout", .string(DurationText.format(ms: healthcheck.timeoutMs))),
                ("retries", .number(Double(healthcheck.retries))),
                ("startPeriod", .string(DurationText.format(ms: healthcheck.startPeriodMs))),
            ])))
        }
        // Only when set, so that other services' hashes stay as they were.
        if healthcheckDisabled { m.append(("healthcheck", .obj([("disable", .bool(true))]))) }
        m.append(("restart", .string(restart.rawValue)))
        var res: [(String, JSONValue)] = []
        if let memory = resources.memoryBytes { res.append(("memory", .number(Double(memory)))) }
        if let milli = resources.milliCPUs { res.append(("cpus", .number(Double(milli) / 1000))) }
        m.append(("resources", .obj(res)))
        m.append(("labels", .stringMap(labels)))
        m.append(("profiles", .strings(profiles)))
        m.append(("init", .bool(initProcess)))
        // Only when used, so the hashes of services without configs stay as they were.
        if !configs.isEmpty {
            m.append(("configs", .obj(configs.map { ($0.key, .obj([("config", .string($0.value.config)), ("sha256", .string($0.value.sha256))])) })))
        }
        // Only when used, as above.
        if !deploy.isDefault {
            var fields: [(String, JSONValue)] = [("replicas", .number(Double(deploy.replicas)))]
            if !deploy.constraints.isEmpty { fields.append(("placement", .obj([("constraints", .strings(deploy.constraints))]))) }
            var res: [(String, JSONValue)] = []
            if let memory = deploy.reservations.memoryBytes { res.append(("memory", .number(Double(memory)))) }
            if let milli = deploy.reservations.milliCPUs { res.append(("cpus", .number(Double(milli) / 1000))) }
            if !res.isEmpty { fields.append(("reservations", .obj(res))) }
            m.append(("deploy", .obj(fields)))
        }
        // Only when used, as above: an alias that changes recreates exactly this container.
        if !networks.isEmpty {
            m.append(("networks", .obj(networks.map { key, value in
                var fields: [(String, JSONValue)] = [("aliases", .strings(value.aliases))]
                if let ip = value.ipv4Address { fields.append(("ipv4Address", .string(ip))) }
                return (key, .obj(fields))
            })))
        }
        return .obj(m)
    }

    public var canonicalJSON: String { CanonicalJSON.encode(canonical) }
    /// SHA-256 of the canonical form: the value of the `dev.devstack.spec-hash` label.
    public var specHash: String { CanonicalJSON.sha256(canonicalJSON) }
}

extension NetworkSpec {
    public var canonical: JSONValue {
        var m: [(String, JSONValue)] = []
        if let name { m.append(("name", .string(name))) }
        m.append(("external", .bool(external)))
        if !external {
            m.append(("internal", .bool(isInternal)))
            m.append(("driver", .string(driver ?? "bridge")))
            m.append(("subnets", .strings(subnets)))
        }
        return .obj(m)
    }
}

extension SeedSpec {
    public var canonical: JSONValue {
        var m: [(String, JSONValue)] = []
        if let service { m.append(("service", .string(service))) }
        if let volume { m.append(("volume", .string(volume))) }
        switch action {
        case let .exec(cmd): m.append(("exec", .strings(cmd)))
        case let .run(cmd): m.append(("run", .strings(cmd)))
        case let .copy(path): m.append(("copy", .string(path)))
        case let .snapshot(path, sha256): m.append(("snapshot", .string(path))); m.append(("sha256", .string(sha256)))
        case let .registrySnapshot(reference): m.append(("snapshot", .string(reference)))
        }
        if let stdin { m.append(("stdin", .string(stdin))) }
        m.append(("after", .strings(after)))
        return .obj(m)
    }
}

extension SecretSource {
    /// An absolute path, or one that climbs out of the project folder.
    public var isOutsideProject: Bool {
        guard case let .file(path) = self else { return false }
        return path.hasPrefix("/") || PathMath.escapes(path)
    }

    public var canonical: JSONValue {
        switch self {
        case let .environment(name): return .obj([("fromEnv", .string(name))])
        case let .file(path):
            // A file outside the project says so, as a bind does, so that the form reads back.
            if isOutsideProject { return .obj([("fromFile", .string(path)), ("outsideProject", .bool(true))]) }
            return .obj([("fromFile", .string(path))])
        }
    }
}

extension EnvironmentSpec {
    /// Everything but the services: stored once per distinct value, like a service spec.
    public var settingsCanonical: JSONValue { .obj(settingsMembers) }

    public var canonical: JSONValue {
        .obj([("name", .string(name)), ("services", .obj(services.map { ($0.key, $0.value.canonical) }))] + settingsMembers)
    }

    var settingsMembers: [(String, JSONValue)] {
        var m: [(String, JSONValue)] = [
            ("seeds", .obj(seeds.map { ($0.key, $0.value.canonical) })),
            ("secrets", .obj(secrets.map { ($0.key, $0.value.canonical) })),
        ]
        // Only when used, so revisions recorded before configs existed keep their hashes.
        if !configs.isEmpty { m.append(("configs", .obj(configs.map { ($0.key, .obj([("content", .string($0.value))])) }))) }
        if !networks.isEmpty { m.append(("networks", .obj(networks.map { ($0.key, $0.value.canonical) }))) }
        // Only off the default, so revisions recorded before engines were chosen keep their hashes.
        if engine != .docker { m.append(("engine", .obj([("kind", .string(engine.rawValue))]))) }
        // Tasks and watch rules likewise, and outside the services' forms: editing them records a
        // revision but recreates no container.
        if !tasks.isEmpty { m.append(("tasks", .obj(tasks.map { ($0.key, $0.value.canonical) }))) }
        let watched = services.filter { !$0.value.develop.isEmpty }
        if !watched.isEmpty {
            m.append(("develop", .obj(watched.map { ($0.key, .obj([("watch", .array($0.value.develop.map { JSONNode($0.canonical) }))])) })))
        }
        return m
    }

    /// The canonical form as an environment file: each service's watch rules back inside it
    /// (`develop`), where a user writes them. `devstack show` prints this; applying it records
    /// the same hashes.
    public var fileForm: JSONValue {
        let members = [("name", JSONValue.string(name)), ("services", .obj(services.map { name, service in
            guard case let .object(fields) = service.canonical, !service.develop.isEmpty else { return (name, service.canonical) }
            let develop = JSONValue.obj([("watch", .array(service.develop.map { JSONNode($0.canonical) }))])
            return (name, .object(fields + [(key: "develop", value: JSONNode(develop))]))
        }))] + settingsMembers.filter { $0.0 != "develop" }
        return .obj(members)
    }

    public var canonicalJSON: String { canonicalForms.environment }
    public var specHash: String { CanonicalJSON.sha256(canonicalJSON) }

    /// The canonical JSON of the environment and of each service, every service encoded once:
    /// the environment's form embeds the services' forms byte for byte (the same bytes as
    /// `CanonicalJSON.encode(canonical)`, without encoding 10,000 services twice).
    public var canonicalForms: (environment: String, services: [String: String]) {
        let names = Array(self.services.keys)
        let forms = Parallel.map(names) { self.services[$0]!.canonicalJSON }
        let services = Dictionary(uniqueKeysWithValues: zip(names, forms))
        return (CanonicalJSON.environment(name: name, services: services, settings: settingsMembers), services)
    }

    /// The environment's hash and its services' hashes, from one encoding.
    public var hashes: (environment: String, services: [String: String]) {
        let forms = canonicalForms
        return (CanonicalJSON.sha256(forms.environment), forms.services.mapValues { CanonicalJSON.sha256($0) })
    }
}

extension CanonicalJSON {
    /// An environment's canonical JSON from its services' canonical JSON (as stored) and its
    /// settings: members sorted as `encode` sorts them, services embedded verbatim.
    public static func environment(name: String, services: [String: String], settings: [(String, JSONValue)]) -> String {
        var servicesJSON = "{"
        for (index, key) in services.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { servicesJSON += "," }
            writeString(key, into: &servicesJSON)
            servicesJSON += ":"
            servicesJSON += services[key]!
        }
        servicesJSON += "}"
        let members = [("name", encode(.string(name))), ("services", servicesJSON)] + settings.map { ($0.0, encode($0.1)) }
        var out = "{"
        for (index, member) in members.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }).enumerated() {
            if index > 0 { out += "," }
            writeString(member.0, into: &out)
            out += ":"
            out += member.1
        }
        return out + "}"
    }
}
