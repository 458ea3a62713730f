/// Checks that span services: references, cycles and host-port clashes.
enum CrossValidation {
    enum Kind { case service, seed }

    static func check(_ spec: EnvironmentSpec, origin: (Kind, String) -> String, inactive: [String: [String]]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let names = spec.serviceNames

        for name in names {
            let service = spec.services[name]!
            for dependency in service.dependsOn.keys.sorted() where spec.services[dependency] == nil {
                let message: String
                if let profiles = inactive[dependency] {
                    message = "service \"\(dependency)\" is only in profile \(profiles.joined(separator: ", ")), which is not active (pass --profile \(profiles[0]))"
                } else {
                    message = "no service named \"\(dependency)\"\(Suggest.didYouMean(dependency, in: names))"
                }
                out.append(Diagnostic(file: origin(.service, name), path: "services.\(name).dependsOn.\(dependency)", message: message))
            }
            for key in service.env.keys.sorted() {
                if case let .secret(secret) = service.env[key]!, spec.secrets[secret] == nil {
                    out.append(Diagnostic(file: origin(.service, name), path: "services.\(name).env.\(key)",
                                          message: "no secret named \"\(secret)\" in \"secrets\"\(Suggest.didYouMean(secret, in: spec.secrets.keys))"))
                }
            }
            for target in service.configs.keys.sorted() {
                let config = service.configs[target]!.config
                if spec.configs[config] == nil {
                    out.append(Diagnostic(file: origin(.service, name), path: "services.\(name).configs.\(target)",
                                          message: "no config named \"\(config)\" in \"configs\"\(Suggest.didYouMean(config, in: spec.configs.keys))"))
                }
            }
        }

        // Networks: declared (or the default one), and fixed addresses inside a declared subnet.
        var addresses: [String: String] = [:]
        for name in names {
            let service = spec.services[name]!
            for key in service.networks.keys.sorted() {
                let path = "services.\(name).networks.\(key)"
                let declared = spec.networks[key]
                if declared == nil && key != EnvironmentSpec.defaultNetwork {
                    out.append(Diagnostic(file: origin(.service, name), path: path,
                                          message: "no network named \"\(key)\" in \"networks\"\(Suggest.didYouMean(key, in: spec.networks.keys))"))
                    continue
                }
                guard let ip = service.networks[key]!.ipv4Address else { continue }
                let subnets = (declared?.subnets ?? []).compactMap(IPv4Subnet.init)
                if subnets.isEmpty {
                    out.append(Diagnostic(file: origin(.service, name), path: "\(path).ipv4Address",
                                          message: "a fixed address needs a subnet: declare \"subnets\" on network \"\(key)\""))
                } else if !subnets.contains(where: { $0.contains(ip) }) {
                    out.append(Diagnostic(file: origin(.service, name), path: "\(path).ipv4Address",
                                          message: "\(ip) is outside network \"\(key)\"'s subnets \(declared!.subnets.joined(separator: ", "))"))
                } else if let other = addresses["\(key) \(ip)"] {
                    out.append(Diagnostic(file: origin(.service, name), path: "\(path).ipv4Address", message: "\(ip) is already the address of \(other) on \"\(key)\""))
                } else {
                    addresses["\(key) \(ip)"] = "services.\(name)"
                }
            }
        }

        if let cycle = findCycle(nodes: names, edges: { spec.services[$0]?.dependsOn.keys.sorted() ?? [] }) {
            out.append(Diagnostic(file: origin(.service, cycle[0]), path: "services.\(cycle[0]).dependsOn",
                                  message: "dependency cycle: \(cycle.joined(separator: " → "))"))
        }

        // Host ports: the same port and protocol on overlapping addresses can bind only once.
        var taken: [(ip: String, port: Int, proto: String, path: String)] = []
        for name in names {
            for (i, port) in spec.services[name]!.ports.enumerated() {
                guard let hostPort = port.hostPort else { continue }
                let path = "services.\(name).ports[\(i)]"
                if let clash = taken.first(where: { $0.port == hostPort && $0.proto == port.proto && ($0.ip == port.hostIP || $0.ip == "0.0.0.0" || port.hostIP == "0.0.0.0") }) {
                    out.append(Diagnostic(file: origin(.service, name), path: path, message: "host port \(hostPort)/\(port.proto) is already published by \(clash.path)"))
                } else {
                    taken.append((port.hostIP, hostPort, port.proto, path))
                }
            }
        }

        let volumes = Set(spec.services.values.flatMap { $0.volumes.filter { $0.type == .volume }.map(\.source) })
        let seedNames = spec.seeds.keys.sorted()
        for name in seedNames {
            let seed = spec.seeds[name]!
            let path = "seeds.\(name)"
            if let service = seed.service, spec.services[service] == nil {
                out.append(Diagnostic(file: origin(.seed, name), path: "\(path).service", message: "no service named \"\(service)\"\(Suggest.didYouMean(service, in: names))"))
            }
            if let volume = seed.volume, !volumes.contains(volume) {
                out.append(Diagnostic(file: origin(.seed, name), path: "\(path).volume", message: "no service mounts a volume named \"\(volume)\"\(Suggest.didYouMean(volume, in: volumes))"))
            }
            for after in seed.after where spec.seeds[after] == nil {
                out.append(Diagnostic(file: origin(.seed, name), path: "\(path).after", message: "no seed named \"\(after)\"\(Suggest.didYouMean(after, in: seedNames))"))
            }
        }
        if let cycle = findCycle(nodes: seedNames, edges: { spec.seeds[$0]?.after.sorted() ?? [] }) {
            out.append(Diagnostic(file: origin(.seed, cycle[0]), path: "seeds.\(cycle[0]).after", message: "seed cycle: \(cycle.joined(separator: " → "))"))
        }
        return out
    }

    /// The first cycle found by depth-first search, as `a, b, a`.
    static func findCycle(nodes: [String], edges: (String) -> [String]) -> [String]? {
        var state: [String: Int] = [:] // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ node: String) -> [String]? {
            state[node] = 1
            stack.append(node)
            for next in edges(node) where nodes.contains(next) {
                if state[next] == 1, let start = stack.firstIndex(of: next) { return Array(stack[start...]) + [next] }
                if state[next] == nil, let cycle = visit(next) { return cycle }
            }
            stack.removeLast()
            state[node] = 2
            return nil
        }
        for node in nodes where state[node] == nil {
            if let cycle = visit(node) { return cycle }
        }
        return nil
    }
}

extension EnvironmentSpec {
    /// Services in an order where each comes after what it depends on (ties by name).
    public var startOrder: [String] {
        var placed: [String] = []
        var remaining = Set(services.keys)
        while !remaining.isEmpty {
            let ready = remaining.filter { name in services[name]!.dependsOn.keys.allSatisfy { !remaining.contains($0) } }.sorted()
            if ready.isEmpty { placed += remaining.sorted(); break }
            placed += ready
            remaining.subtract(ready)
        }
        return placed
    }
}
