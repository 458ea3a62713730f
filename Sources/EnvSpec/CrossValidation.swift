/// Checks that span services: references, cycles and host-port clashes.
enum CrossValidation {
    enum Kind { case service, seed, task }

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
        // Grouped by port and protocol, so thousands of ports are checked in linear time.
        var taken: [String: [(ip: String, path: String)]] = [:]
        for name in names {
            for (i, port) in spec.services[name]!.ports.enumerated() {
                guard let hostPort = port.hostPort else { continue }
                let path = "services.\(name).ports[\(i)]"
                let key = "\(hostPort)/\(port.proto)"
                if let clash = taken[key]?.first(where: { $0.ip == port.hostIP || $0.ip == "0.0.0.0" || port.hostIP == "0.0.0.0" }) {
                    out.append(Diagnostic(file: origin(.service, name), path: path, message: "host port \(hostPort)/\(port.proto) is already published by \(clash.path)"))
                } else {
                    taken[key, default: []].append((port.hostIP, path))
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
        out += checkTasks(spec, origin: origin, inactive: inactive)
        out += checkEngine(spec, origin: origin)
        return out
    }

    /// What the chosen engine cannot honour is refused here, before anything is recorded: a
    /// swarm schedules tasks on nodes that pull their images and publish on every interface;
    /// one Docker engine has one copy of each service and no nodes to place it on.
    static func checkEngine(_ spec: EnvironmentSpec, origin: (Kind, String) -> String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for name in spec.serviceNames {
            let service = spec.services[name]!
            let file = origin(.service, name)
            let path = "services.\(name)"
            switch spec.engine {
            case .docker:
                if service.deploy.replicas != 1 {
                    out.append(Diagnostic(file: file, path: "\(path).deploy.replicas", message: "replicas other than 1 need the swarm engine (\"engine\": {\"kind\": \"swarm\"})"))
                }
                if !service.deploy.constraints.isEmpty {
                    out.append(Diagnostic(file: file, path: "\(path).deploy.placement", message: "placement constraints need the swarm engine (\"engine\": {\"kind\": \"swarm\"})"))
                }
                if service.deploy.reservations != ResourcesSpec() {
                    out.append(Diagnostic(file: file, path: "\(path).deploy.reservations", message: "reservations need the swarm engine (\"engine\": {\"kind\": \"swarm\"}); one engine has \"resources\" limits"))
                }
            case .swarm:
                if service.build != nil {
                    out.append(Diagnostic(file: file, path: "\(path).build", message: "a swarm's nodes pull their images: build and push the image to a registry, then name it in \"image\""))
                }
                for (i, port) in service.ports.enumerated() where port.hostIP != "0.0.0.0" {
                    out.append(Diagnostic(file: file, path: "\(path).ports[\(i)]", message: "a swarm publishes a port on every interface of the node that runs the task, not on \(port.hostIP): write \"hostIP\": \"0.0.0.0\" to accept that"))
                }
            }
        }
        if spec.engine == .swarm {
            for name in spec.seeds.keys.sorted() where spec.seeds[name]!.volume != nil {
                out.append(Diagnostic(file: origin(.seed, name), path: "seeds.\(name)", message: "a seed into a volume is not supported on the swarm engine: the volume lives on the node that runs its task, which the manager's API does not reach; seed through the service (\"exec\" or \"run\") instead (docs/distributed.md)"))
            }
        }
        return out
    }

    /// Tasks name services, secrets and dependencies that exist; a rebuild rule needs a build.
    static func checkTasks(_ spec: EnvironmentSpec, origin: (Kind, String) -> String, inactive: [String: [String]]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let names = spec.serviceNames
        func missing(_ service: String) -> String {
            if let profiles = inactive[service] {
                return "service \"\(service)\" is only in profile \(profiles.joined(separator: ", ")), which is not active (pass --profile \(profiles[0]))"
            }
            return "no service named \"\(service)\"\(Suggest.didYouMean(service, in: names))"
        }
        for name in spec.tasks.keys.sorted() {
            let task = spec.tasks[name]!
            let path = "tasks.\(name)"
            if spec.services[task.service] == nil { out.append(Diagnostic(file: origin(.task, name), path: "\(path).service", message: missing(task.service))) }
            for (i, service) in task.dependsOn.enumerated() where spec.services[service] == nil {
                out.append(Diagnostic(file: origin(.task, name), path: "\(path).dependsOn[\(i)]", message: missing(service)))
            }
            for key in task.env.keys.sorted() {
                if case let .secret(secret) = task.env[key]!, spec.secrets[secret] == nil {
                    out.append(Diagnostic(file: origin(.task, name), path: "\(path).env.\(key)",
                                          message: "no secret named \"\(secret)\" in \"secrets\"\(Suggest.didYouMean(secret, in: spec.secrets.keys))"))
                }
            }
        }
        for name in names {
            let service = spec.services[name]!
            for (i, rule) in service.develop.enumerated() where rule.action == .rebuild && service.build == nil {
                out.append(Diagnostic(file: origin(.service, name), path: "services.\(name).develop.watch[\(i)].action",
                                      message: "\"rebuild\" needs a service built from \"build\"; \(name) runs the image \(service.image ?? "")"))
            }
        }
        return out
    }

    /// The first cycle found by depth-first search, as `a, b, a`. Iterative, with an explicit
    /// stack: a chain of ten thousand dependencies is walked, not a stack overflow.
    static func findCycle(nodes: [String], edges: (String) -> [String]) -> [String]? {
        let known = Set(nodes)
        var state: [String: Int] = [:] // 1 visiting, 2 done
        var path: [String] = []
        var position: [String: Int] = [:]
        for root in nodes where state[root] == nil {
            // Each frame: a node and the edges still to follow from it.
            var frames: [(node: String, next: [String], index: Int)] = [(root, edges(root).filter(known.contains), 0)]
            state[root] = 1
            position[root] = path.count
            path.append(root)
            while !frames.isEmpty {
                let top = frames.count - 1
                guard frames[top].index < frames[top].next.count else {
                    let done = frames.removeLast().node
                    state[done] = 2
                    path.removeLast()
                    position[done] = nil
                    continue
                }
                let next = frames[top].next[frames[top].index]
                frames[top].index += 1
                if state[next] == 1, let start = position[next] { return Array(path[start...]) + [next] }
                if state[next] == nil {
                    state[next] = 1
                    position[next] = path.count
                    path.append(next)
                    frames.append((next, edges(next).filter(known.contains), 0))
                }
            }
        }
        return nil
    }
}

extension EnvironmentSpec {
    /// Services in an order where each comes after what it depends on (ties by name).
    /// Round by round (what is ready now, by name), in time linear in services and dependencies.
    public var startOrder: [String] {
        var waiting: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        for (name, service) in services {
            let deps = service.dependsOn.keys.filter { services[$0] != nil }
            waiting[name] = deps.count
            for dep in deps { dependents[dep, default: []].append(name) }
        }
        var placed: [String] = []
        placed.reserveCapacity(services.count)
        var ready = waiting.filter { $0.value == 0 }.keys.sorted()
        while !ready.isEmpty {
            placed += ready
            var next: [String] = []
            for name in ready {
                for dependent in dependents[name] ?? [] {
                    waiting[dependent]! -= 1
                    if waiting[dependent] == 0 { next.append(dependent) }
                }
            }
            ready = next.sorted()
        }
        // A cycle (reported elsewhere) leaves the rest, placed by name.
        if placed.count < services.count {
            let done = Set(placed)
            placed += services.keys.filter { !done.contains($0) }.sorted()
        }
        return placed
    }
}
