import EnvSpec
import Foundation
import NIOHTTP1
import Reconciler

/// The swarm engine: each workload is a Swarm service, scheduled by the swarm whose manager the
/// engine is. Same planner, same plan: "create" creates a service, "recreate" updates it in
/// place (its ID and history stay), "remove" removes it; the swarm restarts and places tasks.
/// Networks are attachable overlays; config files become Swarm configs and referenced secrets
/// Swarm secrets (under /run/secrets), each labelled and named after the content it holds.
///
/// Not here (docs/distributed.md): builds (nodes pull), seeds and snapshots (a volume lives on
/// whichever node ran its task), and anything that copies files into a task's container.
public struct SwarmServiceEngine: ContainerEngine {
    public let client: DockerClient
    /// The same engine's container side: volumes, and exec into tasks on the manager's node.
    let containers: DockerContainerEngine

    public init(client: DockerClient) {
        self.client = client
        containers = DockerContainerEngine(client: client)
    }

    public var remoteHost: String? { client.remoteHost }
    public var takesFilesAtCreation: Bool { true }

    // MARK: observing

    public func observe(environment: String, containerNames: [String], images: [String], networkNames: [String]) async throws -> ObservedState {
        async let manager = managerInfo()
        async let serviceList = client.request(.GET, "/services")
        async let taskList = client.request(.GET, "/tasks")
        async let nodeList = client.request(.GET, "/nodes")
        async let containerSide = containers.observeNetworksAndVolumes(environment: environment, networkNames: networkNames)
        // Not a manager: that, in one line, rather than whatever the swarm calls failed with.
        _ = try await manager
        let services = try await serviceList.decode([SwarmAPI.Service].self)
        let tasks = Dictionary(grouping: try await taskList.decode([SwarmAPI.Task].self), by: \.ServiceID)
        let nodes = Self.nodeNames(try await nodeList.decode([SwarmAPI.Node].self))
        var state = try await containerSide
        let wanted = Set(containerNames)
        state.containers = services.filter { $0.Spec.Labels?[Labels.environment] == environment }
            .map { Self.observed($0, tasks: tasks[$0.ID] ?? [], nodes: nodes) }
        state.foreign = services.filter { wanted.contains($0.Spec.Name) && $0.Spec.Labels?[Labels.environment] != environment }
            .map { Self.observed($0, tasks: tasks[$0.ID] ?? [], nodes: nodes) }
        // Each node pulls what its tasks run: nothing to pull or build here.
        state.images = Dictionary(images.map { ($0, $0) }, uniquingKeysWith: { first, _ in first })
        return state
    }

    /// The engine must manage a swarm: a worker cannot create services, and an engine outside
    /// any swarm has none to run them.
    public func requireManager() async throws { _ = try await managerInfo() }

    func managerInfo() async throws -> SwarmAPI.SwarmInfo {
        let swarm = try await client.request(.GET, "/info").decode(SwarmAPI.Info.self).Swarm
        guard swarm?.LocalNodeState == "active" else {
            throw EngineError(.badRequest, "the engine at \(client.endpoint) is not part of a swarm (docker swarm init makes it a manager), and the environment asks for the swarm engine")
        }
        guard swarm?.ControlAvailable == true else {
            throw EngineError(.badRequest, "the engine at \(client.endpoint) is a swarm worker: point DOCKER_HOST at a manager (docker node ls there lists them)")
        }
        return swarm!
    }

    /// Hostnames by node ID; a hostname two nodes share gets its node ID's first 12 characters.
    static func nodeNames(_ nodes: [SwarmAPI.Node]) -> [String: String] {
        let counts = Dictionary(grouping: nodes, by: { $0.Description?.Hostname ?? "" }).mapValues(\.count)
        var out: [String: String] = [:]
        for node in nodes {
            let host = node.Description?.Hostname ?? ""
            out[node.ID] = host.isEmpty || counts[host, default: 0] > 1 ? "\(host.isEmpty ? "node" : host) \(node.ID.prefix(12))" : host
        }
        return out
    }

    static let pendingStates: Set<String> = ["new", "pending", "assigned", "accepted", "ready", "preparing", "starting"]

    /// A service as the planner sees a container: running while a task of its current spec
    /// runs; being replaced (`restarting`) while the swarm starts one; exited once its last
    /// task ended with nothing coming after it (restart condition "none").
    static func observed(_ service: SwarmAPI.Service, tasks: [SwarmAPI.Task], nodes: [String: String]) -> ObservedContainer {
        let (state, health, counts) = status(service, tasks: tasks, nodes: nodes)
        let ports = (service.Endpoint?.Ports ?? []).compactMap { p -> PublishedPort? in
            guard let published = p.PublishedPort, published > 0 else { return nil }
            return PublishedPort(hostIP: "0.0.0.0", hostPort: published, containerPort: p.TargetPort, proto: p.Protocol)
        }
        var container = ObservedContainer(id: service.ID, name: service.Spec.Name, labels: service.Spec.Labels ?? [:], state: state, health: health,
                                          image: service.Spec.TaskTemplate.ContainerSpec?.Image ?? "", ports: ports)
        container.tasks = counts
        return container
    }

    static func status(_ service: SwarmAPI.Service, tasks: [SwarmAPI.Task], nodes: [String: String]) -> (ContainerState, Health, TaskCounts) {
        let hash = service.Spec.Labels?[Labels.specHash]
        let current = tasks.filter { ($0.Spec?.ContainerSpec?.Labels?[Labels.specHash] ?? hash) == hash }
        let running = current.filter { $0.DesiredState == "running" && $0.Status.State == "running" }
        let desired = service.Spec.Mode?.Replicated?.Replicas ?? 1
        let ended = tasks.filter { ["failed", "rejected"].contains($0.Status.State) }.sorted { ($0.UpdatedAt ?? "") < ($1.UpdatedAt ?? "") }
        let lastEnding = ended.last.map { task in
            let words = task.Status.Err ?? task.Status.Message ?? task.Status.State
            return words.hasPrefix("task: ") ? String(words.dropFirst(6)) : words
        }
        let counts = TaskCounts(running: running.count, desired: desired, replaced: ended.count, lastEnding: lastEnding,
                                nodes: running.compactMap { $0.NodeID.map { nodes[$0] ?? String($0.prefix(12)) } }.sorted())
        let hasCheck = (service.Spec.TaskTemplate.ContainerSpec?.Healthcheck?.Test.map { $0.first != "NONE" }) ?? false
        if !running.isEmpty || desired == 0 {
            // A task with a health check is reported running only once it is healthy.
            return (.running, hasCheck && !running.isEmpty ? .healthy : .none, counts)
        }
        if current.contains(where: { $0.DesiredState == "running" && pendingStates.contains($0.Status.State) }) {
            return (.restarting, hasCheck ? .starting : .none, counts)
        }
        let newest = current.sorted { ($0.UpdatedAt ?? "") < ($1.UpdatedAt ?? "") }.last
        if let newest, ["complete", "failed", "shutdown", "rejected", "orphaned"].contains(newest.Status.State) {
            // Ended, and the swarm will start another after its restart delay: being replaced.
            let condition = service.Spec.TaskTemplate.RestartPolicy?.Condition ?? "any"
            if condition == "any" || (condition == "on-failure" && newest.Status.State != "complete") { return (.restarting, .none, counts) }
            return (.exited(code: newest.Status.ContainerStatus?.ExitCode ?? (newest.Status.State == "complete" ? 0 : 1)), .none, counts)
        }
        return (.restarting, .none, counts)
    }

    public func inspectContainer(_ id: String) async throws -> ContainerStatus {
        let (service, tasks) = try await serviceAndTasks(id)
        let (state, health, _) = Self.status(service, tasks: tasks, nodes: [:])
        return ContainerStatus(state: state, health: health)
    }

    // MARK: networks and volumes

    public func createNetwork(_ network: NetworkDefinition, environment: String) async throws {
        let body = EngineAPI.NetworkCreate(
            Name: network.name, CheckDuplicate: true, Driver: network.driver == "bridge" ? "overlay" : network.driver, Internal: network.isInternal,
            Labels: [Labels.environment: environment, Labels.networkHash: network.settingsHash],
            IPAM: network.subnets.isEmpty ? nil : EngineAPI.IPAM(Driver: "default", Config: network.subnets.map { EngineAPI.IPAMPool(Subnet: $0) }),
            Attachable: true)
        try await client.request(.POST, "/networks/create", body: body, context: "network \(network.name)")
    }

    /// The manager answers before its own node has let go of the network: wait for that, or an
    /// apply right after a `down` would see it still there and not create it again.
    public func removeNetwork(_ name: String) async throws {
        try await containers.removeNetwork(name)
        for _ in 0..<100 {
            do { _ = try await client.request(.GET, "/networks/\(name)") } catch let error as EngineError where error.kind == .notFound { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    public func createVolume(_ name: String, environment: String) async throws { try await containers.createVolume(name, environment: environment) }
    public func removeVolume(_ name: String) async throws { try await containers.removeVolume(name) }

    // MARK: images

    public func imageDigest(_ reference: String) async throws -> String? { nil }

    public func pullImage(_ reference: String) async throws -> String {
        throw EngineError(.badRequest, "pull \(reference): on the swarm engine each node pulls the images its tasks run")
    }

    public func buildImage(_ build: ImageBuild) async throws -> String {
        throw EngineError(.badRequest, "build \(build.tag): the swarm engine does not build; push the image to a registry and name it in \"image\"")
    }

    // MARK: services

    public func createContainer(_ workload: Workload) async throws -> String {
        let spec = try await serviceSpec(workload, forceUpdate: 0)
        return try await client.request(.POST, "/services/create", body: spec, context: workload.service).decode(SwarmAPI.Created.self).ID
    }

    public func update(_ id: String, to workload: Workload) async throws -> String? {
        let service = try await client.request(.GET, "/services/\(id)", context: "service \(workload.name)").decode(SwarmAPI.Service.self)
        let spec = try await serviceSpec(workload, forceUpdate: service.Spec.TaskTemplate.ForceUpdate ?? 0)
        try await client.request(.POST, "/services/\(id)/update", query: [("version", String(service.Version.Index))], body: spec, context: workload.service)
        try await waitForTask(id)
        await removeUnusedObjects(service: workload.service, environment: workload.environment, keeping: spec)
        return id
    }

    /// A created service has started once a task of its spec runs (or ran to its end); one whose
    /// tasks all ended with nothing coming after them is given new ones first.
    public func startContainer(_ id: String) async throws {
        if case .exited = try await inspectContainer(id).state { return try await restart(id) }
        try await waitForTask(id)
    }

    /// New tasks of the same spec, once they run (`devstack restart` on the swarm engine).
    public func restart(_ id: String) async throws {
        let before = Set(try await serviceAndTasks(id).1.map(\.ID))
        try await forceUpdate(id)
        try await waitForTask(id, replacing: before)
    }

    /// Waits while the swarm places, pulls and starts a task; the last ending is the error.
    /// `replacing`: tasks that do not count (those a forced update replaces).
    func waitForTask(_ id: String, replacing old: Set<String> = [], limit: Duration = .seconds(120)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var delay = Duration.milliseconds(50)
        while true {
            let (service, all) = try await serviceAndTasks(id)
            let tasks = all.filter { !old.contains($0.ID) }
            let (state, _, counts) = Self.status(service, tasks: tasks, nodes: [:])
            switch state {
            case .running, .exited: return
            default: break
            }
            guard clock.now < deadline else {
                let pending = tasks.filter { $0.DesiredState == "running" }.map { $0.Status.Err ?? $0.Status.Message ?? $0.Status.State }.first
                throw EngineError(.server, "\(service.Spec.Name): no task is running after \(limit) (\(counts.lastEnding ?? pending ?? "no task was scheduled"))")
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(500))
        }
    }

    func serviceAndTasks(_ id: String) async throws -> (SwarmAPI.Service, [SwarmAPI.Task]) {
        let service = try await client.request(.GET, "/services/\(id)", context: "service \(id)").decode(SwarmAPI.Service.self)
        let tasks = try await client.request(.GET, "/tasks", query: [("filters", DockerContainerEngine.filters(["service": [service.ID]]))])
            .decode([SwarmAPI.Task].self).filter { $0.ServiceID == service.ID }
        return (service, tasks)
    }

    /// Replaces the service's tasks with new ones of the same spec (`docker service update --force`).
    func forceUpdate(_ id: String) async throws {
        let response = try await client.request(.GET, "/services/\(id)", context: "service \(id)")
        let version = try response.decode(SwarmAPI.Service.self).Version.Index
        // The spec as the engine holds it, changed in that one field only.
        guard let root = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any],
              var spec = root["Spec"] as? [String: Any], var template = spec["TaskTemplate"] as? [String: Any] else {
            throw EngineError(.server, "service \(id): the engine's answer has no task template")
        }
        template["ForceUpdate"] = ((template["ForceUpdate"] as? Int) ?? 0) + 1
        spec["TaskTemplate"] = template
        try await client.request(.POST, "/services/\(id)/update", query: [("version", String(version))],
                                 body: try JSONSerialization.data(withJSONObject: spec), contentType: "application/json", context: "service \(id)")
    }

    /// A service's tasks stop when it is removed.
    public func stopContainer(_ id: String, timeoutSeconds: Int) async throws {}

    /// Removes the service, waits until its tasks are gone (so its network can go next), then
    /// its configs and secrets.
    public func removeContainer(_ id: String) async throws {
        let service = try await client.request(.GET, "/services/\(id)", context: "service \(id)").decode(SwarmAPI.Service.self)
        try await client.request(.DELETE, "/services/\(service.ID)", context: "service \(service.Spec.Name)")
        let filter = DockerContainerEngine.filters(["service": [service.ID]])
        for _ in 0..<150 {
            let tasks = (try? await client.request(.GET, "/tasks", query: [("filters", filter)]).decode([SwarmAPI.Task].self)) ?? []
            if tasks.filter({ $0.ServiceID == service.ID }).isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        if let environment = service.Spec.Labels?[Labels.environment], let name = service.Spec.Labels?[Labels.service] {
            await removeUnusedObjects(service: name, environment: environment, keeping: nil)
        }
    }

    /// The service's spec, with its configs and secrets created first (by content-derived name,
    /// so an existing one is the same bytes).
    func serviceSpec(_ workload: Workload, forceUpdate: Int) async throws -> SwarmAPI.ServiceSpec {
        var configs: [SwarmAPI.FileReference] = []
        for file in workload.files {
            let name = Self.objectName(workload, file.path, digest: CanonicalJSON.sha256(file.contents))
            let id = try await ensureObject("configs", name: name, data: Data(file.contents.utf8), workload: workload)
            configs.append(SwarmAPI.FileReference(File: SwarmAPI.FileTarget(Name: file.path, Mode: 0o444), ConfigID: id, ConfigName: name))
        }
        var secrets: [SwarmAPI.FileReference] = []
        for (secret, value) in workload.secrets.sorted(by: { $0.key < $1.key }) {
            // The keyed digest devstack already labels the service with, never a plain hash of the value.
            let digest = workload.labels[Labels.secrets] ?? CanonicalJSON.sha256(secret + "\u{0}" + value)
            let name = Self.objectName(workload, secret, digest: digest)
            let id = try await ensureObject("secrets", name: name, data: Data(value.utf8), workload: workload)
            secrets.append(SwarmAPI.FileReference(File: SwarmAPI.FileTarget(Name: secret, Mode: 0o400), SecretID: id, SecretName: name))
        }
        return Self.serviceSpec(workload, configs: configs, secrets: secrets, forceUpdate: forceUpdate)
    }

    /// "ENV-SERVICE-DIGEST12-KEY", cut to the engine's 64 characters.
    static func objectName(_ workload: Workload, _ key: String, digest: String) -> String {
        let safe = String(key.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }.drop(while: { $0 == "_" }))
        return String("\(workload.name)-\(digest.prefix(12))-\(safe)".prefix(64))
    }

    func ensureObject(_ kind: String, name: String, data: Data, workload: Workload) async throws -> String {
        let body = SwarmAPI.ObjectCreate(Name: name, Labels: [Labels.environment: workload.environment, Labels.service: workload.service],
                                         Data: data.base64EncodedString())
        do {
            return try await client.request(.POST, "/\(kind)/create", body: body, context: "\(workload.service): \(kind.dropLast()) \(name)").decode(SwarmAPI.Created.self).ID
        } catch let error as EngineError where error.kind == .conflict {
            let listed = try await client.request(.GET, "/\(kind)", query: [("filters", DockerContainerEngine.filters(["name": [name]]))]).decode([SwarmAPI.Object].self)
            guard let existing = listed.first(where: { $0.Spec.Name == name }) else { throw error }
            guard existing.Spec.Labels?[Labels.environment] == workload.environment else {
                throw EngineError(.conflict, "\(workload.service): a \(kind.dropLast()) named \(name) exists without this environment's label; devstack does not adopt it")
            }
            return existing.ID
        }
    }

    /// Configs and secrets of a service that its spec no longer names; one still held by a
    /// task that is shutting down stays, and goes with the next change or removal.
    func removeUnusedObjects(service: String, environment: String, keeping spec: SwarmAPI.ServiceSpec?) async {
        let kept = Set((spec?.TaskTemplate.ContainerSpec.Configs ?? []).compactMap(\.ConfigID) + (spec?.TaskTemplate.ContainerSpec.Secrets ?? []).compactMap(\.SecretID))
        let filter = DockerContainerEngine.filters(["label": ["\(Labels.environment)=\(environment)", "\(Labels.service)=\(service)"]])
        for kind in ["configs", "secrets"] {
            let listed = (try? await client.request(.GET, "/\(kind)", query: [("filters", filter)]).decode([SwarmAPI.Object].self)) ?? []
            for object in listed where !kept.contains(object.ID) && object.Spec.Labels?[Labels.environment] == environment && object.Spec.Labels?[Labels.service] == service {
                _ = try? await client.request(.DELETE, "/\(kind)/\(object.ID)")
            }
        }
    }

    /// The service spec for a workload: pure, so its mapping is tested without a swarm.
    static func serviceSpec(_ w: Workload, configs: [SwarmAPI.FileReference], secrets: [SwarmAPI.FileReference], forceUpdate: Int) -> SwarmAPI.ServiceSpec {
        var health = w.healthcheck.map { check in
            SwarmAPI.Health(Test: ["CMD"] + check.command, Interval: check.intervalMs * 1_000_000, Timeout: check.timeoutMs * 1_000_000,
                            Retries: check.retries, StartPeriod: check.startPeriodMs * 1_000_000)
        }
        if w.healthcheckDisabled { health = SwarmAPI.Health(Test: ["NONE"]) }
        let mounts = w.mounts.map { m in
            SwarmAPI.Mount(Type: m.type.rawValue, Source: m.source, Target: m.target, ReadOnly: m.readOnly,
                           VolumeOptions: m.type == .volume ? SwarmAPI.VolumeOptions(Labels: [Labels.environment: w.environment]) : nil)
        }
        let container = SwarmAPI.ContainerSpec(
            Image: w.image, Labels: w.labels, Command: w.entrypoint, Args: w.command,
            Env: w.env.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }, Dir: w.workingDir, User: w.user,
            Mounts: mounts, Healthcheck: health, Init: w.initProcess, Configs: configs, Secrets: secrets)
        let condition: String
        switch w.restart {
        case .no: condition = "none"
        case .onFailure: condition = "on-failure"
        case .always, .unlessStopped: condition = "any"
        }
        let resources = SwarmAPI.Resources(
            Limits: SwarmAPI.ResourceAmounts(NanoCPUs: w.resources.milliCPUs.map { $0 * 1_000_000 }, MemoryBytes: w.resources.memoryBytes),
            Reservations: SwarmAPI.ResourceAmounts(NanoCPUs: w.deploy.reservations.milliCPUs.map { $0 * 1_000_000 }, MemoryBytes: w.deploy.reservations.memoryBytes))
        let template = SwarmAPI.TaskTemplate(
            ContainerSpec: container, Resources: resources, RestartPolicy: SwarmAPI.RestartPolicy(Condition: condition),
            Placement: SwarmAPI.Placement(Constraints: w.deploy.constraints),
            Networks: w.networks.map { SwarmAPI.NetworkAttachment(Target: $0.name, Aliases: $0.aliases) }, ForceUpdate: forceUpdate)
        let ports = w.ports.map { SwarmAPI.PortConfig(Protocol: $0.proto, TargetPort: $0.containerPort, PublishedPort: $0.hostPort, PublishMode: "host") }
        return SwarmAPI.ServiceSpec(Name: w.name, Labels: w.labels, TaskTemplate: template, Mode: SwarmAPI.Mode(Replicated: SwarmAPI.Replicated(Replicas: w.deploy.replicas)),
                                    UpdateConfig: SwarmAPI.UpdateConfig(), EndpointSpec: SwarmAPI.EndpointSpec(Ports: ports))
    }

    // MARK: tasks' containers

    /// A running task's container on the manager's own node: the only containers its API reaches.
    public func localTaskContainer(_ id: String) async throws -> String {
        let info = try await managerInfo()
        let service = try await client.request(.GET, "/services/\(id)", context: "service \(id)").decode(SwarmAPI.Service.self)
        let tasks = try await client.request(.GET, "/tasks", query: [("filters", DockerContainerEngine.filters(["service": [service.ID], "desired-state": ["running"]]))])
            .decode([SwarmAPI.Task].self).filter { $0.ServiceID == service.ID && $0.Status.State == "running" }
        if let local = tasks.first(where: { $0.NodeID == info.NodeID }), let container = local.Status.ContainerStatus?.ContainerID { return container }
        throw EngineError(.badRequest, "\(service.Spec.Name) runs no task on the manager's node; the engine's API reaches only that node's containers (run it with DOCKER_HOST at the node that runs the task)")
    }

    public func exec(_ id: String, command: [String]) async throws -> ExecResult {
        try await containers.exec(try await localTaskContainer(id), command: command)
    }

    static func unsupported(_ what: String) -> EngineError {
        EngineError(.badRequest, "\(what) is not supported on the swarm engine: a task's files live on the node that runs it (docs/distributed.md)")
    }

    public func putArchive(_ id: String, path: String, archive: Data) async throws { throw Self.unsupported("copying files into a service") }
    public func getArchive(_ id: String, path: String) async throws -> Data { throw Self.unsupported("copying files out of a service") }
    public func waitContainer(_ id: String) async throws -> Int { throw Self.unsupported("waiting for a one-off container") }
    public func output(_ id: String) async throws -> String {
        let response = try await client.request(.GET, "/services/\(id)/logs", query: [("stdout", "1"), ("stderr", "1")], context: "service \(id)")
        return DockerClient.demultiplex(response.body).map { String(decoding: $0.payload, as: UTF8.self) }.joined()
    }
}

extension SwarmServiceEngine {
    /// The manager's own node as one Docker engine, where a service's name stands for its task
    /// there: what seeds run against (an exec in the service, a one-off container).
    public var managerNode: any ContainerEngine { ManagerNode(swarm: self) }
}

/// Containers on the swarm manager's node. `exec` and `putArchive` given a service's name reach
/// its running task there; everything else is that node's Docker engine as it is.
struct ManagerNode: ContainerEngine {
    let swarm: SwarmServiceEngine
    var node: DockerContainerEngine { swarm.containers }

    /// A service's task container on this node, or `name` itself when no service has that name.
    func container(_ name: String) async throws -> String {
        do {
            _ = try await swarm.client.request(.GET, "/services/\(name)")
        } catch let error as EngineError where error.kind == .notFound {
            return name
        }
        return try await swarm.localTaskContainer(name)
    }

    func exec(_ id: String, command: [String]) async throws -> ExecResult { try await node.exec(try await container(id), command: command) }
    func putArchive(_ id: String, path: String, archive: Data) async throws { try await node.putArchive(try await container(id), path: path, archive: archive) }
    func observe(environment: String, containerNames: [String], images: [String], networkNames: [String]) async throws -> ObservedState {
        try await node.observe(environment: environment, containerNames: containerNames, images: images, networkNames: networkNames)
    }
    func createNetwork(_ network: NetworkDefinition, environment: String) async throws { try await swarm.createNetwork(network, environment: environment) }
    func removeNetwork(_ name: String) async throws { try await swarm.removeNetwork(name) }
    func createVolume(_ name: String, environment: String) async throws { try await node.createVolume(name, environment: environment) }
    func removeVolume(_ name: String) async throws { try await node.removeVolume(name) }
    func imageDigest(_ reference: String) async throws -> String? { try await node.imageDigest(reference) }
    func pullImage(_ reference: String) async throws -> String { try await node.pullImage(reference) }
    func buildImage(_ build: ImageBuild) async throws -> String { try await node.buildImage(build) }
    func createContainer(_ workload: Workload) async throws -> String { try await node.createContainer(workload) }
    func startContainer(_ id: String) async throws { try await node.startContainer(id) }
    func stopContainer(_ id: String, timeoutSeconds: Int) async throws { try await node.stopContainer(id, timeoutSeconds: timeoutSeconds) }
    func removeContainer(_ id: String) async throws { try await node.removeContainer(id) }
    func inspectContainer(_ id: String) async throws -> ContainerStatus { try await node.inspectContainer(id) }
    func getArchive(_ id: String, path: String) async throws -> Data { try await node.getArchive(id, path: path) }
    func waitContainer(_ id: String) async throws -> Int { try await node.waitContainer(id) }
    func output(_ id: String) async throws -> String { try await node.output(id) }
}

