import EnvSpec

/// reconcile(desired, observed) → plan. Pure: everything it needs is in its arguments.
public enum Planner {
    public struct Inputs: Sendable {
        public var desired: DesiredState
        public var observed: ObservedState
        /// Specs of hashes seen on running containers, so a recreate can name the fields that changed.
        public var knownSpecs: [String: ServiceSpec]

        public init(desired: DesiredState, observed: ObservedState, knownSpecs: [String: ServiceSpec] = [:]) {
            self.desired = desired
            self.observed = observed
            self.knownSpecs = knownSpecs
        }
    }

    /// The host ports the desired state publishes that this environment's containers do not hold
    /// already: observation asks the host which of them are taken.
    /// Every bind source of the desired workloads, sorted, once each.
    public static func bindSourcesToCheck(desired: DesiredState) -> [String] {
        Set(desired.workloads.values.flatMap { $0.mounts.filter { $0.type == .bind }.map(\.source) }).sorted()
    }

    public static func hostPortsToProbe(desired: DesiredState, observed: ObservedState) -> [HostPort] {
        let ours = Set(observed.containers.flatMap { $0.ports.map { HostPort(hostIP: $0.hostIP, port: $0.hostPort, proto: $0.proto) } })
        var seen: Set<HostPort> = []
        return desired.workloads.keys.sorted().flatMap { name in
            desired.workloads[name]!.ports.compactMap { port -> HostPort? in
                guard let hostPort = port.hostPort else { return nil }
                let key = HostPort(hostIP: port.hostIP, port: hostPort, proto: port.proto)
                return ours.contains(key) || !seen.insert(key).inserted ? nil : key
            }
        }
    }

    public static func plan(_ inputs: Inputs) -> Plan {
        let desired = inputs.desired
        let observed = inputs.observed
        let spec = desired.spec
        var steps: [Plan.Step] = []
        var problems: [String] = []

        func add(_ action: Plan.Action, service: String?, cause: String, dependsOn: [Int] = []) -> Int {
            let id = steps.count
            steps.append(Plan.Step(id: id, action: action, service: service, cause: cause, dependsOn: dependsOn.sorted()))
            return id
        }

        // Problems that would make the run fail half-way, or touch what is not ours.
        for foreign in observed.foreign.sorted(by: { $0.name < $1.name }) {
            if let service = desired.workloads.values.first(where: { $0.name == foreign.name })?.service {
                problems.append("services.\(service): the container name \"\(foreign.name)\" is taken by a container devstack does not manage (\(foreign.id.prefix(12))); devstack will not touch it: rename or remove it yourself")
            }
        }
        for network in desired.networks.keys.sorted() where observed.foreignNetworks.contains(network) || observed.unlabelledNetworks.contains(network) {
            problems.append("network \"\(network)\" exists but devstack did not create it (it has no dev.devstack.env label); devstack will not use or remove it: rename or remove it yourself, or declare it \"external\"")
        }
        for network in desired.externalNetworks where !observed.unlabelledNetworks.contains(network) && !observed.networks.contains(network) {
            problems.append("external network \"\(network)\" does not exist: devstack uses external networks and never creates them; create it first (docker network create \(network))")
        }
        for (network, definition) in desired.networks.sorted(by: { $0.key < $1.key }) {
            if let hash = observed.networkHashes[network], hash != definition.settingsHash {
                problems.append("network \"\(network)\" was created with other settings (driver, internal or subnets changed): run devstack down, then apply again, to recreate it")
            }
        }
        for volume in desired.volumeNames where observed.foreignVolumes.contains(volume) {
            problems.append("volume \"\(volume)\" exists but devstack did not create it (it has no dev.devstack.env label); devstack will not mount or remove it: rename or remove it yourself")
        }
        for name in spec.serviceNames {
            let service = spec.services[name]!
            guard desired.builds[name] == nil, let image = service.image else { continue }
            if service.pullPolicy == .never && observed.images[image] == nil {
                problems.append("services.\(name).image: image \"\(image)\" is not present and pullPolicy is \"never\": build or load it first")
            }
        }

        let byService = Dictionary(grouping: observed.containers.filter { $0.service != nil }, by: { $0.service! })

        // Shared infrastructure first.
        var infra: [Int] = []
        for (network, definition) in desired.networks.sorted(by: { $0.key < $1.key }) where !observed.networks.contains(network) {
            infra.append(add(.createNetwork(definition), service: nil, cause: "no network"))
        }
        var volumeStep: [String: Int] = [:]
        for volume in desired.volumeNames where !observed.volumes.contains(volume) {
            volumeStep[volume] = add(.createVolume(volume), service: nil, cause: "no volume")
        }
        var imageStep: [String: Int] = [:]
        if let remote = observed.remoteHost {
            for name in spec.serviceNames {
                for mount in desired.workloads[name]!.mounts where mount.type == .bind && observed.missingBindSources.contains(mount.source) {
                    problems.append("services.\(name).volumes: the bind source \(mount.source) does not exist on \(remote), where the engine runs: with a remote engine a bind names a folder of that machine, not of this one; create it there, or use a named volume (docs/remote.md)")
                }
            }
        }
        for name in spec.serviceNames {
            let workload = desired.workloads[name]!
            if let build = desired.builds[name] {
                if observed.images[build.tag] == nil, imageStep[build.tag] == nil {
                    imageStep[build.tag] = add(.buildImage(build), service: name, cause: "build context changed or never built")
                }
                continue
            }
            let policy = spec.services[name]!.pullPolicy
            // A swarm's nodes pull what their tasks run, when they run it: no step here.
            guard imageStep[workload.image] == nil, spec.engine == .docker else { continue }
            if policy == .always {
                imageStep[workload.image] = add(.pullImage(workload.image), service: name, cause: "pullPolicy is always")
            } else if policy == .missing && observed.images[workload.image] == nil {
                imageStep[workload.image] = add(.pullImage(workload.image), service: name, cause: "image not present")
            }
        }

        // Which services others wait on, and how.
        var neededConditions: [String: Set<DependencyCondition>] = [:]
        for service in spec.services.values {
            for (dependency, condition) in service.dependsOn { neededConditions[dependency, default: []].insert(condition) }
        }


        var containerStep: [String: Int] = [:]
        var readyStep: [String: [DependencyCondition: Int]] = [:]
        var observedHealth: [String: Health] = [:]

        /// The step a dependent must wait for; an unchanged dependency that is not healthy yet gets a wait of its own.
        func readiness(_ dependency: String, _ condition: DependencyCondition) -> Int? {
            if let step = readyStep[dependency]?[condition] { return step }
            switch condition {
            case .started: return containerStep[dependency]
            case .completed: return nil
            case .healthy:
                guard spec.services[dependency]?.healthcheck != nil, observedHealth[dependency] != .healthy,
                      let workload = desired.workloads[dependency] else { return containerStep[dependency] }
                let wait = add(.waitHealthy(workload), service: dependency, cause: "dependents need it healthy",
                               dependsOn: containerStep[dependency].map { [$0] } ?? [])
                readyStep[dependency, default: [:]][.healthy] = wait
                return wait
            }
        }
        for name in spec.startOrder {
            let workload = desired.workloads[name]!
            let service = spec.services[name]!
            var existing = (byService[name] ?? []).sorted { rank($0, workload) < rank($1, workload) }
            let keep = existing.isEmpty ? nil : existing.removeFirst()
            // A duplicate (an interrupted replacement leaves one) is gone before the kept one
            // starts: the two would share ports and volumes.
            let duplicates = existing.map { extra in
                add(.remove(containerID: extra.id, name: extra.name), service: name, cause: "duplicate container for the service")
            }

            var deps = infra + duplicates
            deps += workload.mounts.compactMap { $0.type == .volume ? volumeStep[$0.source] : nil }
            if let step = imageStep[workload.image] { deps.append(step) }
            let dependencyOrder = service.dependsOn.sorted { $0.key < $1.key }

            let decision = decide(keep, workload: workload, service: service, observed: observed, knownSpecs: inputs.knownSpecs,
                                  isOneShot: neededConditions[name]?.contains(.completed) == true)
            if decision != .none {
                // Only a service about to change waits for its dependencies; an untouched one has waited before.
                for (dependency, condition) in dependencyOrder {
                    if let step = readiness(dependency, condition) { deps.append(step) }
                }
            }
            var touched = false
            switch decision {
            case .none: break
            case let .create(cause):
                containerStep[name] = add(.create(workload), service: name, cause: cause, dependsOn: deps)
                touched = true
            case let .recreate(id, cause):
                containerStep[name] = add(.recreate(containerID: id, workload), service: name, cause: cause, dependsOn: deps)
                touched = true
            case let .start(id, cause):
                containerStep[name] = add(.start(containerID: id), service: name, cause: cause, dependsOn: deps)
                touched = true
            }

            if touched {
                for (i, port) in workload.ports.enumerated() {
                    guard let hostPort = port.hostPort else { continue }
                    if observed.busyHostPorts.contains(HostPort(hostIP: port.hostIP, port: hostPort, proto: port.proto)) {
                        problems.append("services.\(name).ports[\(i)]: host port \(port.hostIP):\(hostPort)/\(port.proto) is already in use by a process devstack does not manage: stop it, or change the port")
                    }
                }
            }

            // Readiness after a change: wait for health, or for completion when a dependent needs it.
            let needs = neededConditions[name] ?? []
            if touched, service.healthcheck != nil {
                let cause = needs.contains(.healthy) ? "dependents need it healthy" : "converge to healthy"
                readyStep[name, default: [:]][.healthy] = add(.waitHealthy(workload), service: name, cause: cause, dependsOn: [containerStep[name]!])
            }
            if touched, needs.contains(.completed) {
                readyStep[name, default: [:]][.completed] = add(.waitCompleted(workload), service: name, cause: "dependents need it completed", dependsOn: [containerStep[name]!])
            }
            observedHealth[name] = keep?.health ?? Health.none
        }

        for container in observed.containers.sorted(by: { $0.name < $1.name }) {
            guard let service = container.service, spec.services[service] == nil else { continue }
            _ = add(.remove(containerID: container.id, name: container.name), service: service, cause: "service no longer in the environment")
        }
        return Plan(environment: spec.name, steps: steps, problems: problems)
    }

    enum Decision: Equatable {
        case none
        case create(String)
        case recreate(String, String)
        case start(String, String)
    }

    static func decide(_ container: ObservedContainer?, workload: Workload, service: ServiceSpec, observed: ObservedState,
                       knownSpecs: [String: ServiceSpec], isOneShot: Bool) -> Decision {
        guard let container else { return .create("no existing container") }
        let wantHash = workload.labels[Labels.specHash]!
        if container.specHash != wantHash {
            return .recreate(container.id, changeCause(from: container.specHash, to: service, knownSpecs: knownSpecs))
        }
        if container.labels[Labels.secrets] != workload.labels[Labels.secrets] {
            return .recreate(container.id, "secret value changed")
        }
        if !container.image.isEmpty, container.image != workload.image, !container.image.hasPrefix("sha256:") {
            return .recreate(container.id, "image changed (\(container.image) → \(workload.image))")
        }
        if let imageID = observed.images[workload.image], !container.imageID.isEmpty, imageID != container.imageID {
            return .recreate(container.id, "image \(workload.image) changed (\(short(container.imageID)) → \(short(imageID)))")
        }
        switch container.state {
        case .running, .restarting, .removing, .paused: return .none
        case .exited(0) where isOneShot: return .none
        case let .exited(code): return .start(container.id, "container exited (code \(code))")
        case .created: return .start(container.id, "container created but not started")
        case .dead: return .recreate(container.id, "container is dead")
        }
    }

    /// Prefer the container to keep: matching spec, then running, then by name.
    static func rank(_ c: ObservedContainer, _ w: Workload) -> (Int, Int, String) {
        (c.specHash == w.labels[Labels.specHash] ? 0 : 1, c.state == .running ? 0 : 1, c.name == w.name ? "" : c.name)
    }

    static func changeCause(from oldHash: String?, to new: ServiceSpec, knownSpecs: [String: ServiceSpec]) -> String {
        guard let oldHash, let old = knownSpecs[oldHash] else {
            return "spec changed (\(short(oldHash ?? "none")) → \(short(new.specHash)))"
        }
        let fields = SpecDiff.fields(old.canonical, new.canonical).map(\.path)
        let shown = fields.prefix(3).joined(separator: ", ")
        return "spec changed: \(shown)\(fields.count > 3 ? " and \(fields.count - 3) more" : "")"
    }

    static func short(_ id: String) -> String {
        let trimmed = id.hasPrefix("sha256:") ? String(id.dropFirst(7)) : id
        return String(trimmed.prefix(12))
    }

    /// Everything labelled for the environment goes; volumes only when asked.
    public static func teardown(environment: String, observed: ObservedState, removeVolumes: Bool) -> Plan {
        var steps: [Plan.Step] = []
        var removals: [Int] = []
        for c in observed.containers.sorted(by: { $0.name < $1.name }) {
            removals.append(steps.count)
            steps.append(Plan.Step(id: steps.count, action: .remove(containerID: c.id, name: c.name), service: c.service, cause: "down", dependsOn: []))
        }
        for n in observed.networks.sorted() {
            // Only networks labelled for the environment are observed here: external ones stay.
            steps.append(Plan.Step(id: steps.count, action: .removeNetwork(n), service: nil, cause: "down", dependsOn: removals))
        }
        if removeVolumes {
            for v in observed.volumes.sorted() {
                steps.append(Plan.Step(id: steps.count, action: .removeVolume(v), service: nil, cause: "down --volumes", dependsOn: removals))
            }
        }
        return Plan(environment: environment, steps: steps, problems: [])
    }
}
