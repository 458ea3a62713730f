/// Turns the JSON of one environment file (or of a canonical spec, which uses the same syntax)
/// into spec values, collecting every problem with its JSON path instead of stopping at the first.
struct SpecDecoder {
    let file: String
    /// Rewrites a relative path written in this file so that it is relative to the root file.
    var rebasePath: (String) -> String = { $0 }
    var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    mutating func fail(_ path: String, _ message: String) {
        diagnostics.append(Diagnostic(file: file, path: path, message: message))
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // MARK: primitives

    mutating func object(_ node: JSONNode, _ path: String, allowed: [String]) -> [(key: String, value: JSONNode)]? {
        guard case let .object(members) = node.value else {
            fail(path, "expected an object, found \(node.typeName)")
            return nil
        }
        for member in members where !allowed.contains(member.key) {
            fail(Self.join(path, member.key), "unknown key \"\(member.key)\"\(Suggest.didYouMean(member.key, in: allowed))")
        }
        return members.filter { allowed.contains($0.key) }
    }

    mutating func map(_ node: JSONNode, _ path: String) -> [(key: String, value: JSONNode)]? {
        guard case let .object(members) = node.value else {
            fail(path, "expected an object, found \(node.typeName)")
            return nil
        }
        return members
    }

    mutating func string(_ node: JSONNode, _ path: String, nonEmpty: Bool = true) -> String? {
        guard case let .string(s) = node.value else {
            fail(path, "expected a string, found \(node.typeName)")
            return nil
        }
        if nonEmpty && s.isEmpty { fail(path, "expected a non-empty string"); return nil }
        return s
    }

    mutating func bool(_ node: JSONNode, _ path: String) -> Bool? {
        guard case let .bool(b) = node.value else {
            fail(path, "expected true or false, found \(node.typeName)")
            return nil
        }
        return b
    }

    mutating func integer(_ node: JSONNode, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard case let .number(n) = node.value, n == n.rounded(), abs(n) < 1e15 else {
            fail(path, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(node.typeName)")
            return nil
        }
        guard range.contains(Int(n)) else {
            fail(path, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(Int(n))")
            return nil
        }
        return Int(n)
    }

    /// An argument array; a plain string is refused because commands are never shell strings.
    mutating func argv(_ node: JSONNode, _ path: String) -> [String]? {
        guard case let .array(items) = node.value else {
            let hint = node.typeName == "a string" ? " (write the command as an argument array, e.g. [\"sh\", \"-c\", \"...\"])" : ""
            fail(path, "expected an array of strings, found \(node.typeName)\(hint)")
            return nil
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = string(item, "\(path)[\(i)]", nonEmpty: false) else { return nil }
            out.append(s)
        }
        return out
    }

    mutating func stringMap(_ node: JSONNode, _ path: String) -> [String: String]? {
        guard let members = map(node, path) else { return nil }
        var out: [String: String] = [:]
        for (key, value) in members {
            switch value.value {
            case let .string(s): out[key] = s
            case let .number(n): out[key] = CanonicalJSON.formatNumber(n)
            case let .bool(b): out[key] = b ? "true" : "false"
            default: fail(Self.join(path, key), "expected a string, found \(value.typeName)")
            }
        }
        return out
    }

    mutating func name(_ text: String, _ path: String, what: String) -> Bool {
        if Names.isValid(text) { return true }
        fail(path, "invalid \(what) name \"\(text)\": \(Names.ruleText)")
        return false
    }

    mutating func enumValue<E: RawRepresentable & CaseIterable>(_ node: JSONNode, _ path: String, _: E.Type) -> E? where E.RawValue == String {
        guard let s = string(node, path) else { return nil }
        if let value = E(rawValue: s) { return value }
        let all = E.allCases.map(\.rawValue)
        fail(path, "expected one of \(all.map { "\"\($0)\"" }.joined(separator: ", ")), found \"\(s)\"\(Suggest.didYouMean(s, in: all))")
        return nil
    }

    mutating func duration(_ node: JSONNode, _ path: String) -> Int? {
        guard let s = string(node, path) else { return nil }
        switch Self.checkedDuration(s) {
        case let .value(ms): return ms
        case .tooLarge: fail(path, "duration \"\(s)\" is out of range: at most \(Self.maxDurationText)")
        case .invalid: fail(path, "expected a duration such as \"500ms\", \"5s\" or \"1m30s\", found \"\(s)\"")
        }
        return nil
    }

    /// The longest duration accepted: a year, so that every duration still fits in nanoseconds
    /// (the engine's unit) with room to add them up.
    public static let maxDurationMs = 365 * 24 * 3_600_000
    static let maxDurationText = "8760h (a year)"
    /// The largest memory size accepted: 1 PiB, far above any machine and far below Int64's limit.
    public static let maxMemoryBytes = 1 << 50

    enum Checked: Equatable {
        case value(Int)
        case invalid
        case tooLarge
    }

    static func parseDuration(_ s: String) -> Int? {
        if case let .value(ms) = checkedDuration(s) { return ms }
        return nil
    }

    /// `1h30m`, `500ms`, `5s`: every step is checked, so a huge number is a range error, never
    /// an overflow.
    static func checkedDuration(_ s: String) -> Checked {
        var total = 0
        var digits = ""
        var rest = Substring(s)
        guard !s.isEmpty else { return .invalid }
        var tooLarge = false
        while let c = rest.first {
            if c.isASCII && c.isNumber { digits.append(c); rest = rest.dropFirst(); continue }
            guard !digits.isEmpty else { return .invalid }
            let factor: Int
            if rest.hasPrefix("ms") { factor = 1; rest = rest.dropFirst(2) }
            else if rest.hasPrefix("s") { factor = 1000; rest = rest.dropFirst() }
            else if rest.hasPrefix("m") { factor = 60_000; rest = rest.dropFirst() }
            else if rest.hasPrefix("h") { factor = 3_600_000; rest = rest.dropFirst() }
            else { return .invalid }
            if let n = Int(digits) {
                let (product, o1) = n.multipliedReportingOverflow(by: factor)
                let (sum, o2) = total.addingReportingOverflow(product)
                if o1 || o2 || sum > maxDurationMs { tooLarge = true } else { total = sum }
            } else {
                tooLarge = true
            }
            digits = ""
        }
        guard digits.isEmpty else { return .invalid }
        return tooLarge ? .tooLarge : .value(total)
    }

    static func parseMemory(_ s: String) -> Int? {
        if case let .value(bytes) = checkedMemory(s) { return bytes }
        return nil
    }

    static func checkedMemory(_ s: String) -> Checked {
        var text = s.lowercased()
        if text.hasSuffix("b") && text.count > 1 && !(text.dropLast().last?.isNumber ?? true) { text.removeLast() }
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        var factor = 1
        if let last = text.last, let f = units[last] { factor = f; text.removeLast() }
        else if text.last == "b" { text.removeLast() }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .invalid }
        guard let n = Int(text) else { return .tooLarge }
        guard n > 0 else { return .invalid }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: factor)
        return overflow || bytes > maxMemoryBytes ? .tooLarge : .value(bytes)
    }

    // MARK: service

    static let serviceKeys = ["image", "build", "pullPolicy", "command", "entrypoint", "workingDir", "user", "env",
                              "ports", "volumes", "dependsOn", "healthcheck", "restart", "resources", "labels",
                              "profiles", "init", "configs", "networks", "develop", "deploy"]

    mutating func service(_ node: JSONNode, _ path: String) -> ServiceSpec? {
        guard let members = object(node, path, allowed: Self.serviceKeys) else { return nil }
        let before = diagnostics.count
        var spec = ServiceSpec()
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "image": spec.image = string(value, p)
            case "build": spec.build = build(value, p)
            case "pullPolicy": spec.pullPolicy = enumValue(value, p, PullPolicy.self) ?? .missing
            case "command": spec.command = argv(value, p)
            case "entrypoint": spec.entrypoint = argv(value, p)
            case "workingDir": spec.workingDir = string(value, p)
            case "user": spec.user = string(value, p)
            case "env": spec.env = env(value, p)
            case "ports":
                guard case let .array(items) = value.value else { fail(p, "expected an array of ports, found \(value.typeName)"); continue }
                spec.ports = items.enumerated().compactMap { port($1, "\(p)[\($0)]") }
            case "volumes":
                guard case let .array(items) = value.value else { fail(p, "expected an array of volumes, found \(value.typeName)"); continue }
                spec.volumes = items.enumerated().compactMap { mount($1, "\(p)[\($0)]") }
            case "dependsOn": spec.dependsOn = dependsOn(value, p)
            case "healthcheck":
                if case let .object(members) = value.value, members.count == 1, members[0].key == "disable" {
                    spec.healthcheckDisabled = bool(members[0].value, Self.join(p, "disable")) ?? false
                } else {
                    spec.healthcheck = healthcheck(value, p)
                }
            case "restart": spec.restart = enumValue(value, p, RestartPolicy.self) ?? .no
            case "resources": spec.resources = resources(value, p)
            case "labels":
                spec.labels = stringMap(value, p) ?? [:]
                for key in spec.labels.keys where key.hasPrefix("dev.devstack.") {
                    fail(Self.join(p, key), "labels starting with \"dev.devstack.\" are reserved for devstack")
                }
            case "profiles":
                spec.profiles = argv(value, p) ?? []
            case "init": spec.initProcess = bool(value, p) ?? true
            case "configs": spec.configs = configMounts(value, p)
            case "networks": spec.networks = serviceNetworks(value, p)
            case "develop": spec.develop = develop(value, p)
            case "deploy": spec.deploy = deploy(value, p)
            default: break
            }
        }
        if spec.image == nil && spec.build == nil {
            fail(path, "expected \"image\" or \"build\": a service needs one of them")
        }
        return diagnostics.count == before ? spec : nil
    }

    mutating func build(_ node: JSONNode, _ path: String) -> BuildSpec? {
        if case let .string(context) = node.value {
            return context.isEmpty ? nil : BuildSpec(context: rebasePath(context))
        }
        guard let members = object(node, path, allowed: ["context", "dockerfile", "args"]) else { return nil }
        guard let contextNode = members.first(where: { $0.key == "context" })?.value else {
            fail(path, "expected \"context\": the folder sent to the image build")
            return nil
        }
        guard let context = string(contextNode, Self.join(path, "context")) else { return nil }
        var spec = BuildSpec(context: rebasePath(context))
        for (key, value) in members {
            if key == "dockerfile", let s = string(value, Self.join(path, key)) { spec.dockerfile = s }
            if key == "args", let m = stringMap(value, Self.join(path, key)) { spec.args = m }
        }
        return spec
    }

    mutating func env(_ node: JSONNode, _ path: String) -> [String: EnvValue] {
        guard let members = map(node, path) else { return [:] }
        var out: [String: EnvValue] = [:]
        for (key, value) in members {
            let p = Self.join(path, key)
            switch value.value {
            case let .string(s): out[key] = .literal(s)
            case let .number(n): out[key] = .literal(CanonicalJSON.formatNumber(n))
            case let .bool(b): out[key] = .literal(b ? "true" : "false")
            case .object:
                guard let m = object(value, p, allowed: ["secret"]), let ref = m.first?.value,
                      let name = string(ref, Self.join(p, "secret")) else {
                    if diagnostics.last?.path.hasPrefix(p) != true { fail(p, "expected {\"secret\": \"NAME\"}") }
                    continue
                }
                out[key] = .secret(name)
            default: fail(p, "expected a string or {\"secret\": \"NAME\"}, found \(value.typeName)")
            }
        }
        return out
    }

    mutating func port(_ node: JSONNode, _ path: String) -> PortSpec? {
        switch node.value {
        case let .string(s):
            if let port = Self.parsePort(s) { return port }
            fail(path, "expected a port such as \"8000\", \"8000:80\", \"127.0.0.1:8000:80\" or \"5353:53/udp\", found \"\(s)\"")
            return nil
        case let .number(n):
            guard n == n.rounded(), (1...65535).contains(n) else { fail(path, "expected a port from 1 to 65535"); return nil }
            return PortSpec(hostPort: nil, containerPort: Int(n))
        case .object:
            guard let members = object(node, path, allowed: ["hostIP", "hostPort", "containerPort", "protocol"]) else { return nil }
            guard let cp = members.first(where: { $0.key == "containerPort" }) else {
                fail(path, "expected \"containerPort\"")
                return nil
            }
            guard let containerPort = integer(cp.value, Self.join(path, "containerPort"), range: 1...65535) else { return nil }
            var spec = PortSpec(hostPort: nil, containerPort: containerPort)
            for (key, value) in members {
                let p = Self.join(path, key)
                switch key {
                case "hostIP":
                    guard let ip = string(value, p) else { return nil }
                    guard Self.isIPv4(ip) else { fail(p, "expected an IPv4 address such as \"127.0.0.1\", found \"\(ip)\""); return nil }
                    spec.hostIP = ip
                case "hostPort": guard let hp = integer(value, p, range: 1...65535) else { return nil }; spec.hostPort = hp
                case "protocol":
                    guard let proto = string(value, p) else { return nil }
                    guard ["tcp", "udp", "sctp"].contains(proto) else { fail(p, "expected \"tcp\", \"udp\" or \"sctp\", found \"\(proto)\""); return nil }
                    spec.proto = proto
                default: break
                }
            }
            return spec
        default:
            fail(path, "expected a port string or object, found \(node.typeName)")
            return nil
        }
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in p.count <= 3 && Int(p).map { (0...255).contains($0) } == true }
    }

    static func parsePort(_ text: String) -> PortSpec? {
        var s = Substring(text)
        var proto = "tcp"
        if let slash = s.lastIndex(of: "/") {
            proto = String(s[s.index(after: slash)...])
            guard ["tcp", "udp", "sctp"].contains(proto) else { return nil }
            s = s[..<slash]
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number(_ p: String) -> Int? { Int(p).flatMap { (1...65535).contains($0) && String($0) == p ? $0 : nil } }
        switch parts.count {
        case 1:
            guard let c = number(parts[0]) else { return nil }
            return PortSpec(hostPort: nil, containerPort: c, proto: proto)
        case 2:
            guard let h = number(parts[0]), let c = number(parts[1]) else { return nil }
            return PortSpec(hostPort: h, containerPort: c, proto: proto)
        case 3:
            guard isIPv4(parts[0]), let c = number(parts[2]) else { return nil }
            let h = parts[1].isEmpty ? nil : number(parts[1])
            if !parts[1].isEmpty && h == nil { return nil }
            return PortSpec(hostIP: parts[0], hostPort: h, containerPort: c, proto: proto)
        default: return nil
        }
    }

    mutating func mount(_ node: JSONNode, _ path: String) -> MountSpec? {
        switch node.value {
        case let .string(s):
            let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || (parts.count == 3 && ["ro", "rw"].contains(parts[2])), !parts[0].isEmpty, parts[1].hasPrefix("/") else {
                fail(path, "expected a volume such as \"data:/var/lib/mysql\" or \"./src:/app:ro\", found \"\(s)\"")
                return nil
            }
            let isBind = parts[0].hasPrefix(".") || parts[0].hasPrefix("/") || parts[0].hasPrefix("~")
            let spec = MountSpec(type: isBind ? .bind : .volume, source: parts[0], target: parts[1], readOnly: parts.count == 3 && parts[2] == "ro")
            return finishMount(spec, path)
        case .object:
            guard let members = object(node, path, allowed: ["type", "source", "target", "readOnly", "outsideProject"]) else { return nil }
            var type: MountType = .volume
            var source: String?, target: String?, readOnly = false, outsideProject = false
            for (key, value) in members {
                let p = Self.join(path, key)
                switch key {
                case "type":
                    guard let t = string(value, p) else { return nil }
                    guard let mt = MountType(rawValue: t) else { fail(p, "expected \"volume\" or \"bind\", found \"\(t)\""); return nil }
                    type = mt
                case "source": source = string(value, p)
                case "target": target = string(value, p)
                case "readOnly": readOnly = bool(value, p) ?? false
                case "outsideProject": outsideProject = bool(value, p) ?? false
                default: break
                }
            }
            guard let source else { fail(path, "expected \"source\": a volume name or a host path"); return nil }
            guard let target, target.hasPrefix("/") else { fail(Self.join(path, "target"), "expected an absolute path inside the container"); return nil }
            return finishMount(MountSpec(type: type, source: source, target: target, readOnly: readOnly, outsideProject: outsideProject), path)
        default:
            fail(path, "expected a volume string or object, found \(node.typeName)")
            return nil
        }
    }

    mutating func finishMount(_ spec: MountSpec, _ path: String) -> MountSpec? {
        var spec = spec
        switch spec.type {
        case .volume:
            guard name(spec.source, path, what: "volume") else { return nil }
        case .bind:
            if spec.source.hasPrefix("~") { fail(path, "bind sources are paths relative to the environment file or absolute; \"~\" is not expanded"); return nil }
            // Checked against the folder of the file that declares it, before rebasing.
            if !spec.outsideProject && (spec.source.hasPrefix("/") || PathMath.escapes(spec.source)) {
                fail(path, "bind source \"\(spec.source)\" is outside the project folder: write the long form with \"outsideProject\": true to share it with the container")
                return nil
            }
            if !spec.source.hasPrefix("/") { spec.source = rebasePath(spec.source) }
            // An included repository's own folder is outside the root's: the recorded form says
            // so, so that it reads back as it was checked.
            if PathMath.escapes(spec.source) { spec.outsideProject = true }
        }
        if spec.outsideProject && spec.type == .volume {
            fail(Self.join(path, "outsideProject"), "\"outsideProject\" goes with bind mounts")
            return nil
        }
        return spec
    }

    mutating func dependsOn(_ node: JSONNode, _ path: String) -> [String: DependencyCondition] {
        var out: [String: DependencyCondition] = [:]
        switch node.value {
        case let .array(items):
            for (i, item) in items.enumerated() {
                if let s = string(item, "\(path)[\(i)]") { out[s] = .started }
            }
        case let .object(members):
            for (key, value) in members {
                let p = Self.join(path, key)
                if case .string = value.value {
                    if let c = enumValue(value, p, DependencyCondition.self) { out[key] = c }
                    continue
                }
                guard let m = object(value, p, allowed: ["condition"]) else { continue }
                if let c = m.first?.value { out[key] = enumValue(c, Self.join(p, "condition"), DependencyCondition.self) ?? .started }
                else { out[key] = .started }
            }
        default:
            fail(path, "expected an array of service names or an object of conditions, found \(node.typeName)")
        }
        return out
    }

    mutating func healthcheck(_ node: JSONNode, _ path: String) -> HealthcheckSpec? {
        guard let members = object(node, path, allowed: ["command", "interval", "timeout", "retries", "startPeriod", "disable"]) else { return nil }
        if members.contains(where: { $0.key == "disable" }) {
            fail(Self.join(path, "disable"), "\"disable\" stands alone: {\"disable\": true} turns off the image's health check")
            return nil
        }
        guard let commandNode = members.first(where: { $0.key == "command" })?.value else {
            fail(path, "expected \"command\": the argument array that exits 0 when the service is healthy")
            return nil
        }
        guard let command = argv(commandNode, Self.join(path, "command")), !command.isEmpty else {
            if diagnostics.last?.path != Self.join(path, "command") { fail(Self.join(path, "command"), "expected a non-empty argument array") }
            return nil
        }
        var spec = HealthcheckSpec(command: command)
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "interval": if let d = duration(value, p) { spec.intervalMs = max(d, 1) }
            case "timeout": if let d = duration(value, p) { spec.timeoutMs = max(d, 1) }
            case "startPeriod": if let d = duration(value, p) { spec.startPeriodMs = d }
            case "retries": if let r = integer(value, p, range: 1...1000) { spec.retries = r }
            default: break
            }
        }
        return spec
    }

    /// `{"replicas": 2, "placement": {"constraints": ["node.labels.zone==eu"]}, "reservations": {"memory": "64m"}}`
    mutating func deploy(_ node: JSONNode, _ path: String) -> DeploySpec {
        var spec = DeploySpec()
        guard let members = object(node, path, allowed: ["replicas", "placement", "reservations"]) else { return spec }
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "replicas": spec.replicas = integer(value, p, range: 0...1000) ?? 1
            case "placement":
                guard let placement = object(value, p, allowed: ["constraints"]) else { continue }
                for (_, list) in placement {
                    let cp = Self.join(p, "constraints")
                    for (i, text) in (argv(list, cp) ?? []).enumerated() {
                        if PlacementConstraint.isValid(text) { spec.constraints.append(text) } else {
                            fail("\(cp)[\(i)]", "expected a constraint such as \"node.labels.zone==eu\" or \"node.role!=manager\" (node.* or engine.labels.*, == or !=), found \"\(text)\"")
                        }
                    }
                }
            case "reservations": spec.reservations = resources(value, p)
            default: break
            }
        }
        return spec
    }

    mutating func resources(_ node: JSONNode, _ path: String) -> ResourcesSpec {
        guard let members = object(node, path, allowed: ["memory", "cpus"]) else { return ResourcesSpec() }
        var spec = ResourcesSpec()
        for (key, value) in members {
            let p = Self.join(path, key)
            switch (key, value.value) {
            case let ("memory", .string(s)):
                switch Self.checkedMemory(s) {
                case let .value(m): spec.memoryBytes = m
                case .tooLarge: fail(p, "size \"\(s)\" is out of range: at most 1024t (1 PiB)")
                case .invalid: fail(p, "expected a size such as \"512m\" or \"2g\", found \"\(s)\"")
                }
            case ("memory", _):
                spec.memoryBytes = integer(value, p, range: 1...Self.maxMemoryBytes)
            case let ("cpus", .number(n)):
                if n > 0, n <= 1024 { spec.milliCPUs = Int((n * 1000).rounded()) } else { fail(p, "expected a number of CPUs above 0, such as 0.5") }
            case let ("cpus", .string(s)):
                if let n = Double(s), n > 0, n <= 1024 { spec.milliCPUs = Int((n * 1000).rounded()) } else { fail(p, "expected a number of CPUs above 0, such as 0.5") }
            default: fail(p, "expected a number of CPUs above 0, such as 0.5")
            }
        }
        return spec
    }

    /// `["backend"]`, or `{"backend": {"aliases": ["db.internal"], "ipv4Address": "172.28.0.5"}}`.
    mutating func serviceNetworks(_ node: JSONNode, _ path: String) -> [String: ServiceNetwork] {
        var out: [String: ServiceNetwork] = [:]
        switch node.value {
        case let .array(items):
            for (i, item) in items.enumerated() {
                let p = "\(path)[\(i)]"
                if let name = string(item, p), networkKey(name, p) {
                    if out[name] != nil { fail(p, "network \"\(name)\" is listed twice") }
                    out[name] = ServiceNetwork()
                }
            }
        case let .object(members):
            for (name, value) in members {
                let p = Self.join(path, name)
                guard networkKey(name, p) else { continue }
                if case .null = value.value { out[name] = ServiceNetwork(); continue }
                guard let fields = object(value, p, allowed: ["aliases", "ipv4Address"]) else { continue }
                var joined = ServiceNetwork()
                for (key, field) in fields {
                    let fp = Self.join(p, key)
                    if key == "aliases", let aliases = argv(field, fp) {
                        for (j, alias) in aliases.enumerated() where !Self.isDNSName(alias) {
                            fail("\(fp)[\(j)]", "invalid alias \"\(alias)\": letters, digits, \".\", \"-\" and \"_\", up to 253 characters")
                        }
                        joined.aliases = aliases
                    }
                    if key == "ipv4Address", let ip = string(field, fp) {
                        if Self.isIPv4(ip) { joined.ipv4Address = ip } else { fail(fp, "expected an IPv4 address such as \"172.28.0.5\", found \"\(ip)\"") }
                    }
                }
                out[name] = joined
            }
        default:
            fail(path, "expected an array of network names or an object of networks, found \(node.typeName)")
        }
        return out
    }

    mutating func networkKey(_ name: String, _ path: String) -> Bool {
        name == EnvironmentSpec.defaultNetwork || self.name(name, path, what: "network")
    }

    static func isDNSName(_ s: String) -> Bool { DNSNames.isValid(s) }

    /// A top-level network: `{"name", "external", "internal", "driver", "subnets"}`.
    /// `{"kind": "swarm"}`: the backend the environment runs on.
    mutating func engine(_ node: JSONNode, _ path: String) -> EngineKind? {
        guard let members = object(node, path, allowed: ["kind"]) else { return nil }
        guard let kind = members.first(where: { $0.key == "kind" }) else {
            fail(path, "expected \"kind\": \"docker\" or \"swarm\"")
            return nil
        }
        return enumValue(kind.value, Self.join(path, "kind"), EngineKind.self)
    }

    mutating func network(_ node: JSONNode, _ path: String) -> NetworkSpec? {
        if case .null = node.value { return NetworkSpec() }
        guard let members = object(node, path, allowed: ["name", "external", "internal", "driver", "subnets"]) else { return nil }
        let before = diagnostics.count
        var spec = NetworkSpec()
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "name":
                if let s = string(value, p) {
                    if Self.isDNSName(s) { spec.name = s } else { fail(p, "invalid network name \"\(s)\"") }
                }
            case "external": spec.external = bool(value, p) ?? false
            case "internal": spec.isInternal = bool(value, p) ?? false
            case "driver": spec.driver = string(value, p)
            case "subnets":
                for (i, subnet) in (argv(value, p) ?? []).enumerated() {
                    if IPv4Subnet(subnet) == nil { fail("\(p)[\(i)]", "expected an IPv4 subnet such as \"172.28.0.0/16\", found \"\(subnet)\"") }
                    else { spec.subnets.append(subnet) }
                }
            default: break
            }
        }
        if spec.external, let conflict = members.first(where: { ["internal", "driver", "subnets"].contains($0.key) }) {
            fail(Self.join(path, conflict.key), "an external network is used as it is: \"\(conflict.key)\" goes with networks devstack creates")
        }
        return diagnostics.count == before ? spec : nil
    }

    /// `{"/etc/app.yml": "app-config"}`; the canonical form also carries the config's digest.
    mutating func configMounts(_ node: JSONNode, _ path: String) -> [String: ConfigMount] {
        var out: [String: ConfigMount] = [:]
        for (target, value) in map(node, path) ?? [] {
            let p = Self.join(path, target)
            guard target.hasPrefix("/"), !PathMath.components(target).contains(".."), target.count > 1 else {
                fail(p, "expected an absolute path in the container such as \"/etc/app/app.yml\", found \"\(target)\"")
                continue
            }
            if case .string = value.value {
                if let name = string(value, p) { out[target] = ConfigMount(config: name) }
            } else if let members = object(value, p, allowed: ["config", "sha256"]) {
                var mount = ConfigMount(config: "")
                for (key, field) in members {
                    if key == "config", let s = string(field, Self.join(p, key)) { mount.config = s }
                    if key == "sha256", let s = string(field, Self.join(p, key), nonEmpty: false) { mount.sha256 = s }
                }
                if mount.config.isEmpty { fail(p, "expected \"config\": the name of a config in \"configs\"") } else { out[target] = mount }
            }
        }
        return out
    }

    /// An object with exactly one of `keys`, such as `{"fromEnv": …}` or `{"fromFile": …}`.
    mutating func exactlyOne(_ node: JSONNode, _ path: String, of keys: [String]) -> (key: String, value: JSONNode)? {
        guard let members = object(node, path, allowed: keys) else { return nil }
        guard members.count == 1, let member = members.first else {
            fail(path, "expected exactly one of " + keys.map { "\"\($0)\"" }.joined(separator: " or "))
            return nil
        }
        return member
    }

    /// A top-level config: `{"content": "..."}` (interpolated like any string) or `{"file": "path"}`.
    mutating func config(_ node: JSONNode, _ path: String) -> ConfigSource? {
        guard let (key, value) = exactlyOne(node, path, of: ["content", "file"]) else { return nil }
        let p = Self.join(path, key)
        guard let s = string(value, p, nonEmpty: key == "file") else { return nil }
        if key == "content" { return .content(s) }
        return relativeFile(s, p) ? .file(rebasePath(s)) : nil
    }

    // MARK: seeds and secrets

    mutating func seed(_ node: JSONNode, _ path: String) -> SeedSpec? {
        guard let members = object(node, path, allowed: ["service", "volume", "exec", "run", "copy", "snapshot", "sha256", "stdin", "after"]) else { return nil }
        let before = diagnostics.count
        var service: String?, volume: String?, stdin: String?, sha256: String?, after: [String] = []
        var actions: [SeedSpec.Action] = []
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "service": service = string(value, p)
            case "volume": volume = string(value, p)
            case "exec": if let a = argv(value, p) { actions.append(.exec(a)) }
            case "run": if let a = argv(value, p) { actions.append(.run(a)) }
            case "copy": if let s = string(value, p), relativeFile(s, p) { actions.append(.copy(rebasePath(s))) }
            case "snapshot":
                guard let s = string(value, p) else { break }
                if OCIReference.isWritten(s) {
                    do {
                        let reference = try OCIReference.parse(s)
                        guard reference.digest != nil else { fail(p, "a snapshot from a registry is pinned by digest: expected oci://REGISTRY/PATH[:TAG]@sha256:DIGEST, found \"\(s)\""); break }
                        actions.append(.registrySnapshot(OCIReference.scheme + reference.description))
                    } catch { fail(p, "\(error)") }
                } else if relativeFile(s, p) {
                    actions.append(.snapshot(rebasePath(s), sha256: ""))
                }
            case "sha256":
                if let s = string(value, p) {
                    if s.count == 64, s.allSatisfy(\.isHexDigit) { sha256 = s.lowercased() } else { fail(p, "expected 64 hexadecimal digits, found \"\(s)\"") }
                }
            case "stdin": if let s = string(value, p), relativeFile(s, p) { stdin = rebasePath(s) }
            case "after": after = argv(value, p) ?? []
            default: break
            }
        }
        guard diagnostics.count == before else { return nil }
        guard actions.count == 1, var action = actions.first else {
            fail(path, "expected exactly one of \"exec\", \"run\", \"copy\" or \"snapshot\"")
            return nil
        }
        switch action {
        case .exec, .run:
            if service == nil { fail(path, "expected \"service\": the service whose container or image runs the seed"); return nil }
        case .copy, .snapshot, .registrySnapshot:
            if volume == nil { fail(path, "expected \"volume\": the named volume the files go into"); return nil }
            if stdin != nil { fail(Self.join(path, "stdin"), "\"stdin\" goes with \"exec\" or \"run\""); return nil }
        }
        if case let .snapshot(file, _) = action {
            guard let sha256 else { fail(path, "expected \"sha256\": the digest the snapshot archive must have, so a changed file is refused"); return nil }
            action = .snapshot(file, sha256: sha256)
        } else if sha256 != nil {
            if case .registrySnapshot = action {
                fail(Self.join(path, "sha256"), "\"sha256\" is not needed with a registry snapshot: its @sha256 digest pins it"); return nil
            }
            fail(Self.join(path, "sha256"), "\"sha256\" goes with \"snapshot\""); return nil
        }
        if let volume, !name(volume, Self.join(path, "volume"), what: "volume") { return nil }
        return SeedSpec(service: service, volume: volume, action: action, stdin: stdin, after: after)
    }

    /// Seed files must stay inside the project: no absolute paths, no climbing out with "..".
    mutating func relativeFile(_ s: String, _ path: String) -> Bool {
        if s.hasPrefix("/") || s.hasPrefix("~") {
            fail(path, "expected a path relative to the environment file, found \"\(s)\"")
            return false
        }
        if PathMath.escapes(s) {
            fail(path, "path \"\(s)\" leaves the environment's folder")
            return false
        }
        return true
    }

    /// `{"fromEnv": "VAR"}` or `{"fromFile": "path"}`. A file is relative to the project folder;
    /// one outside it (absolute, `..`) must say `"outsideProject": true`, as a bind does.
    mutating func secret(_ node: JSONNode, _ path: String) -> SecretSource? {
        guard case let .object(members) = node.value else { fail(path, "expected an object, found \(node.typeName)"); return nil }
        var outsideProject = false
        if let flag = members.first(where: { $0.key == "outsideProject" }) {
            guard let b = bool(flag.value, Self.join(path, "outsideProject")) else { return nil }
            outsideProject = b
        }
        let rest = JSONNode(.object(members.filter { $0.key != "outsideProject" }), line: node.line, column: node.column)
        guard let (key, value) = exactlyOne(rest, path, of: ["fromEnv", "fromFile"]) else { return nil }
        let p = Self.join(path, key)
        guard let s = string(value, p) else { return nil }
        if key == "fromEnv" {
            if members.contains(where: { $0.key == "outsideProject" }) { fail(Self.join(path, "outsideProject"), "\"outsideProject\" goes with \"fromFile\""); return nil }
            return .environment(s)
        }
        if s.hasPrefix("~") { fail(p, "secret files are paths relative to the environment file or absolute; \"~\" is not expanded"); return nil }
        let outside = s.hasPrefix("/") || PathMath.escapes(s)
        if outside && !outsideProject {
            fail(p, "secret file \"\(s)\" is outside the project folder: add \"outsideProject\": true to read it from there")
            return nil
        }
        return .file(s.hasPrefix("/") ? s : rebasePath(s))
    }
}

/// Lexical path arithmetic, so that decoding stays free of file-system calls.
public enum PathMath {
    public static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    /// Normalises `a/./b/../c` to `a/c`, keeping leading `..` of a relative path.
    public static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var out: [String] = []
        for c in components(path) {
            if c == "..", let last = out.last, last != ".." { out.removeLast() }
            else if c == "..", absolute { continue }
            else { out.append(c) }
        }
        let joined = out.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// True when `path` is `folder` or lies inside it (lexically).
    public static func isInside(_ folder: String, _ path: String) -> Bool {
        let f = normalize(folder), p = normalize(path)
        return p == f || p.hasPrefix(f == "/" ? "/" : f + "/")
    }

    public static func escapes(_ relative: String) -> Bool {
        normalize(relative).split(separator: "/").first == ".."
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    public static func join(_ base: String, _ relative: String) -> String {
        if relative.hasPrefix("/") { return normalize(relative) }
        return normalize(base == "." ? relative : base + "/" + relative)
    }

    /// `to` expressed relative to the folder `from`; both absolute or both relative to one place.
    public static func relative(from: String, to: String) -> String {
        let a = components(normalize(from)), b = components(normalize(to))
        var common = 0
        while common < a.count, common < b.count, a[common] == b[common] { common += 1 }
        let up = Array(repeating: "..", count: a.count - common)
        let result = (up + b[common...]).joined(separator: "/")
        return result.isEmpty ? "." : result
    }
}

/// An IPv4 subnet in CIDR form, for checking that a fixed address lies inside it.
public struct IPv4Subnet: Sendable, Equatable {
    public var base: UInt32
    public var prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), (0...32).contains(prefix), let base = Self.address(String(parts[0])) else { return nil }
        self.base = base
        self.prefix = prefix
    }

    public static func address(_ text: String) -> UInt32? {
        guard SpecDecoder.isIPv4(text) else { return nil }
        return text.split(separator: ".").reduce(UInt32(0)) { $0 << 8 | UInt32($1)! }
    }

    public func contains(_ ip: String) -> Bool {
        guard let address = Self.address(ip) else { return false }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        return address & mask == base & mask
    }
}

/// Names a container answers to on a network: aliases, and compose's container names kept as aliases.
public enum DNSNames {
    public static func isValid(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 253 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
    }
}
