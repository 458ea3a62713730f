import EnvSpec
import Foundation
import NIOCore
import NIOHTTP1
import Reconciler
import Synchronization

/// The live ContainerEngine: Docker Engine API 1.41 and newer.
public struct DockerContainerEngine: ContainerEngine {
    public let client: DockerClient
    /// Bind sources a probe found on the engine's machine, shared by every copy of this engine:
    /// a controller probes each once, not on every pass.
    let bindSourcesFound = BindSourcesFound()

    public init(client: DockerClient) { self.client = client }

    static func filters(_ f: [String: [String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(f)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// One round trip per kind of object, all at once: every container, network and volume
    /// of the engine, sorted into ours and the unlabelled ones in our way here. (Filtered lists
    /// took two container calls; under forty 1-second health checks each call can take 150 ms,
    /// and the engine's cost is per container on the engine whatever the filter.)
    public func observe(environment: String, containerNames: [String], images: [String], networkNames: [String]) async throws -> ObservedState {
        async let containerList = client.request(.GET, "/containers/json", query: [("all", "1")])
        async let networksAndVolumes = observeNetworksAndVolumes(environment: environment, networkNames: networkNames)
        async let imageIDs = inspectImages(images)

        let all = Self.observed(try await containerList.decode([EngineAPI.ContainerSummary].self))
        let wanted = Set(containerNames)
        var state = try await networksAndVolumes
        state.containers = all.filter { $0.labels[Labels.environment] == environment }
        state.foreign = all.filter { wanted.contains($0.name) && $0.labels[Labels.environment] != environment }
        state.images = try await imageIDs
        return state
    }

    /// The environment's networks and volumes, and the unlabelled ones in its way: the part of
    /// an observation the swarm engine shares.
    func observeNetworksAndVolumes(environment: String, networkNames: [String]) async throws -> ObservedState {
        async let networkList = client.request(.GET, "/networks")
        async let volumeList = client.request(.GET, "/volumes")
        let networks = try await networkList.decode([EngineAPI.NetworkSummary].self)
        let volumes = try await volumeList.decode(EngineAPI.VolumeList.self).Volumes ?? []
        let labelledNetworks = networks.filter { $0.Labels?[Labels.environment] == environment }
        // Named like ours but carrying no environment label: someone else's, never touched.
        func unlabelled(_ named: [(name: String, labels: [String: String]?)]) -> [String] {
            named.filter { ($0.labels ?? [:])[Labels.environment] == nil }.map(\.name).filter { $0.hasPrefix("\(environment)-") }.sorted()
        }
        var state = ObservedState(networks: labelledNetworks.map(\.Name).sorted(),
                                  volumes: volumes.filter { $0.Labels?[Labels.environment] == environment }.map(\.Name).sorted())
        state.foreignNetworks = unlabelled(networks.map { ($0.Name, $0.Labels) })
        for network in labelledNetworks {
            if let hash = network.Labels?[Labels.networkHash] { state.networkHashes[network.Name] = hash }
        }
        let wantedNetworks = Set(networkNames)
        state.unlabelledNetworks = networks.filter { wantedNetworks.contains($0.Name) && $0.Labels?[Labels.environment] != environment }.map(\.Name).sorted()
        state.foreignVolumes = unlabelled(volumes.map { ($0.Name, $0.Labels) })
        return state
    }

    func inspectImages(_ references: [String]) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: (String, String?).self) { group in
            for reference in references {
                group.addTask { (reference, try await imageID(reference)) }
            }
            var out: [String: String] = [:]
            for try await (reference, id) in group { if let id { out[reference] = id } }
            return out
        }
    }

    func imageID(_ reference: String) async throws -> String? {
        do {
            return try await client.request(.GET, "/images/\(reference)/json").decode(EngineAPI.ImageInspect.self).Id
        } catch let error as EngineError where error.kind == .notFound || error.kind == .badRequest {
            return nil
        }
    }

    static func observed(_ list: [EngineAPI.ContainerSummary]) -> [ObservedContainer] {
        list.map { c in
            let name = (c.Names?.first ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            let status = c.Status ?? ""
            let ports = (c.Ports ?? []).compactMap { p -> PublishedPort? in
                guard let publicPort = p.PublicPort else { return nil }
                return PublishedPort(hostIP: p.IP ?? "", hostPort: publicPort, containerPort: p.PrivatePort, proto: p.Type ?? "tcp")
            }
            var container = ObservedContainer(id: c.Id, name: name, labels: c.Labels ?? [:],
                                              state: parseState(c.State ?? "", exitCode: exitCode(fromStatus: status)),
                                              health: health(fromStatus: status), image: c.Image ?? "", imageID: c.ImageID ?? "", ports: ports)
            container.created = c.Created ?? 0
            return container
        }
    }

    /// The list endpoint carries health only in its status text: "Up 3 seconds (healthy)".
    static func health(fromStatus status: String) -> Health {
        if status.hasSuffix("(healthy)") { return .healthy }
        if status.hasSuffix("(unhealthy)") { return .unhealthy }
        if status.hasSuffix("(health: starting)") { return .starting }
        return .none
    }

    static func parseState(_ state: String, exitCode: Int) -> ContainerState {
        switch state {
        case "running": return .running
        case "created": return .created
        case "paused": return .paused
        case "restarting": return .restarting
        case "removing": return .removing
        case "dead": return .dead
        default: return .exited(code: exitCode)
        }
    }

    static func exitCode(fromStatus status: String) -> Int {
        guard let open = status.firstIndex(of: "("), let close = status[open...].firstIndex(of: ")") else { return 0 }
        return Int(status[status.index(after: open)..<close]) ?? 0
    }

    public func createNetwork(_ network: NetworkDefinition, environment: String) async throws {
        let body = EngineAPI.NetworkCreate(
            Name: network.name, CheckDuplicate: true, Driver: network.driver, Internal: network.isInternal,
            Labels: [Labels.environment: environment, Labels.networkHash: network.settingsHash],
            IPAM: network.subnets.isEmpty ? nil : EngineAPI.IPAM(Driver: "default", Config: network.subnets.map { EngineAPI.IPAMPool(Subnet: $0) }))
        try await client.request(.POST, "/networks/create", body: body, context: "network \(network.name)")
    }

    public func removeNetwork(_ name: String) async throws {
        do {
            try await client.request(.DELETE, "/networks/\(name)", context: "network \(name)")
        } catch let error as EngineError where error.message.contains("active endpoints") {
            // Stale endpoints left by dockerd 20.10 (moby#42119): disconnect them by force, then retry once.
            let inspected = try await client.request(.GET, "/networks/\(name)").decode(EngineAPI.NetworkSummary.self)
            for endpoint in (inspected.Containers ?? [:]).keys {
                _ = try? await client.request(.POST, "/networks/\(name)/disconnect", body: EngineAPI.NetworkConnect(Container: endpoint, Force: true))
            }
            try await client.request(.DELETE, "/networks/\(name)", context: "network \(name)")
        }
    }

    public func createVolume(_ name: String, environment: String) async throws {
        try await client.request(.POST, "/volumes/create", body: EngineAPI.VolumeCreate(Name: name, Labels: [Labels.environment: environment]),
                                 context: "volume \(name)")
    }

    public func removeVolume(_ name: String) async throws {
        try await client.request(.DELETE, "/volumes/\(name)", context: "volume \(name)")
    }

    public func imageDigest(_ reference: String) async throws -> String? {
        let response: DockerClient.Response
        do { response = try await client.request(.GET, "/images/\(reference)/json") } catch let error as EngineError where error.kind == .notFound {
            return nil
        }
        let digests = try response.decode(EngineAPI.ImageInspect.self).RepoDigests ?? []
        let repository = Self.splitReference(reference).0
        return digests.first { $0.hasPrefix(repository + "@") } ?? (reference.contains("@") ? reference : nil)
    }

    public func pullImage(_ reference: String) async throws -> String {
        let (name, tag) = Self.splitReference(reference)
        let response = try await client.request(.POST, "/images/create", query: [("fromImage", name), ("tag", tag)], timeout: .minutes(30), context: "pull \(reference)")
        if let error = Self.streamError(response.body) { throw EngineError(.badRequest, "pull \(reference): \(error)") }
        guard let id = try await imageID(reference) else { throw EngineError(.notFound, "pull \(reference): the image is still missing after the pull") }
        return id
    }

    public func buildImage(_ build: ImageBuild) async throws -> String {
        let context: ByteChunks
        do { context = try ContextArchive.chunks(directory: build.contextDirectory, dockerfile: build.dockerfile) } catch {
            throw EngineError(.badRequest, "build \(build.tag): \(error)")
        }
        let args = String(decoding: try JSONEncoder().encode(build.args), as: UTF8.self)
        var progress = ProgressScanner()
        try await client.transfer(.POST, "/build", query: [("t", build.tag), ("dockerfile", build.dockerfile), ("buildargs", args), ("rm", "1")],
                                  chunks: context, context: "build \(build.tag)") { piece in progress.push(piece) }
        if let error = progress.finish() { throw EngineError(.badRequest, "build \(build.tag): \(error)") }
        guard let id = try await imageID(build.tag) else { throw EngineError(.notFound, "build \(build.tag): no image was produced") }
        return id
    }

    /// Finds the first {"error": …} line of a progress stream as it arrives, holding one line.
    struct ProgressScanner {
        var partial = Data()
        var error: String?

        mutating func push(_ piece: Data) {
            partial.append(piece)
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                take(partial[partial.startIndex..<newline])
                partial = Data(partial[(newline + 1)...])
            }
        }

        mutating func finish() -> String? {
            take(partial)
            partial = Data()
            return error
        }

        mutating func take(_ line: Data) {
            guard error == nil, !line.isEmpty else { return }
            error = DockerContainerEngine.streamError(Data(line))
        }
    }

    /// Progress streams answer 200 and report failure inline as {"error": "..."}.
    static func streamError(_ body: Data) -> String? {
        for line in body.split(separator: UInt8(ascii: "\n")) {
            if let error = (try? JSONDecoder().decode(EngineAPI.ProgressLine.self, from: Data(line)))?.error {
                return error.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return nil
    }

    static func splitReference(_ reference: String) -> (String, String) {
        if reference.contains("@") { return (reference, "") }
        if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }

    public var remoteHost: String? { client.remoteHost }

    /// A bind's source must exist on the engine's machine (devstack binds with `Mounts`, which
    /// the engine checks at create, unlike `Binds`, which would make an empty folder). Each
    /// source is asked by creating a container that is never started, and removing it.
    public func missingBindSources(_ sources: [String], image: String) async -> Set<String> {
        var missing: Set<String> = []
        for source in sources where !bindSourcesFound.contains(source) {
            let hostConfig = EngineAPI.HostConfig(Init: false, PortBindings: [:],
                                                  Mounts: [EngineAPI.Mount(Type: "bind", Source: source, Target: "/devstack-bind-probe", ReadOnly: true)],
                                                  RestartPolicy: EngineAPI.RestartPolicy(Name: ""), NetworkMode: "none", Memory: nil, NanoCpus: nil)
            let body = EngineAPI.ContainerCreate(Image: image, Env: [], Labels: [Labels.helper: "bind-probe"], ExposedPorts: [:], Cmd: ["true"],
                                                 Entrypoint: nil, WorkingDir: nil, User: nil, Healthcheck: nil, HostConfig: hostConfig, NetworkingConfig: nil)
            do {
                let id = try await client.request(.POST, "/containers/create", body: body, context: "bind source \(source)").decode(EngineAPI.Created.self).Id
                try? await removeContainer(id)
                bindSourcesFound.insert(source)
            } catch let error as EngineError where error.message.contains("bind source path does not exist") {
                missing.insert(source)
            } catch {
                // Anything else is the create's to report, when the plan runs.
            }
        }
        return missing
    }

    public func createContainer(_ w: Workload) async throws -> String {
        var bindings: [String: [EngineAPI.PortBinding]] = [:]
        for p in w.ports {
            bindings["\(p.containerPort)/\(p.proto)", default: []].append(EngineAPI.PortBinding(HostIp: p.hostIP, HostPort: p.hostPort.map(String.init) ?? ""))
        }
        let hostConfig = EngineAPI.HostConfig(
            Init: w.initProcess, PortBindings: bindings,
            Mounts: w.mounts.map { EngineAPI.Mount(Type: $0.type.rawValue, Source: $0.source, Target: $0.target, ReadOnly: $0.readOnly) },
            RestartPolicy: EngineAPI.RestartPolicy(Name: w.restart == .no ? "" : w.restart.rawValue),
            NetworkMode: w.networks.first?.name ?? "none",
            Memory: w.resources.memoryBytes, NanoCpus: w.resources.milliCPUs.map { $0 * 1_000_000 })
        var healthcheck = w.healthcheck.map { check in
            EngineAPI.HealthConfig(Test: ["CMD"] + check.command, Interval: check.intervalMs * 1_000_000, Timeout: check.timeoutMs * 1_000_000,
                                   Retries: check.retries, StartPeriod: check.startPeriodMs * 1_000_000)
        }
        if w.healthcheckDisabled { healthcheck = EngineAPI.HealthConfig(Test: ["NONE"]) }
        let body = EngineAPI.ContainerCreate(
            Image: w.image, Env: w.env.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }, Labels: w.labels,
            ExposedPorts: Dictionary(w.ports.map { ("\($0.containerPort)/\($0.proto)", EngineAPI.Empty()) }, uniquingKeysWith: { first, _ in first }),
            Cmd: w.command, Entrypoint: w.entrypoint, WorkingDir: w.workingDir, User: w.user, Healthcheck: healthcheck, HostConfig: hostConfig,
            NetworkingConfig: w.networks.first.map { EngineAPI.NetworkingConfig(EndpointsConfig: [$0.name: Self.endpoint($0)]) },
            Tty: w.terminal ? true : nil, OpenStdin: w.terminal ? true : nil, StdinOnce: w.terminal ? true : nil,
            AttachStdin: w.terminal ? true : nil, AttachStdout: w.terminal ? true : nil, AttachStderr: w.terminal ? true : nil)
        let id = try await client.request(.POST, "/containers/create", query: [("name", w.name)], body: body, context: w.service)
            .decode(EngineAPI.Created.self).Id
        // API 1.41 creates with one network; the others are joined before the container starts.
        for network in w.networks.dropFirst() {
            try await client.request(.POST, "/networks/\(network.name)/connect", body: EngineAPI.NetworkConnect(Container: id, EndpointConfig: Self.endpoint(network)),
                                     context: "\(w.service): network \(network.name)")
        }
        return id
    }

    static func endpoint(_ network: WorkloadNetwork) -> EngineAPI.EndpointSettings {
        EngineAPI.EndpointSettings(Aliases: network.aliases, IPAMConfig: network.ipv4Address.map { EngineAPI.EndpointIPAM(IPv4Address: $0) })
    }

    public func startContainer(_ id: String) async throws {
        try await client.request(.POST, "/containers/\(id)/start")
    }

    public func stopContainer(_ id: String, timeoutSeconds: Int) async throws {
        try await client.request(.POST, "/containers/\(id)/stop", query: [("t", String(timeoutSeconds))], timeout: .seconds(Int64(timeoutSeconds) + 30))
    }

    public func removeContainer(_ id: String) async throws {
        try await client.request(.DELETE, "/containers/\(id)", query: [("force", "1")])
    }

    public func renameContainer(_ id: String, to name: String) async throws -> Bool {
        try await client.request(.POST, "/containers/\(id)/rename", query: [("name", name)])
        return true
    }

    public func inspectContainer(_ id: String) async throws -> ContainerStatus {
        let state = try await client.request(.GET, "/containers/\(id)/json").decode(EngineAPI.ContainerInspect.self).State
        let health = Health(rawValue: state.Health?.Status ?? "none") ?? .none
        return ContainerStatus(state: Self.parseState(state.Status, exitCode: state.ExitCode ?? 0), health: health)
    }

    public func putArchive(_ id: String, path: String, archive: Data) async throws {
        try await client.request(.PUT, "/containers/\(id)/archive", query: [("path", path)], body: archive, contentType: "application/x-tar")
    }

    public func getArchive(_ id: String, path: String) async throws -> Data {
        try await client.request(.GET, "/containers/\(id)/archive", query: [("path", path)], timeout: .minutes(30)).body
    }

    public func putArchive(_ id: String, path: String, chunks: ByteChunks) async throws {
        try await client.transfer(.PUT, "/containers/\(id)/archive", query: [("path", path)], chunks: chunks, context: "copy into \(path)")
    }

    public func getArchive(_ id: String, path: String, into sink: (Data) async throws -> Void) async throws {
        try await client.transfer(.GET, "/containers/\(id)/archive", query: [("path", path)], context: "copy out of \(path)", sink: sink)
    }

    public func waitContainer(_ id: String) async throws -> Int {
        try await client.request(.POST, "/containers/\(id)/wait", timeout: .hours(24)).decode(EngineAPI.WaitResult.self).StatusCode
    }

    public func output(_ id: String) async throws -> String {
        let response = try await client.request(.GET, "/containers/\(id)/logs", query: [("stdout", "1"), ("stderr", "1")])
        return DockerClient.demultiplex(response.body).map { String(decoding: $0.payload, as: UTF8.self) }.joined()
    }

    public func exec(_ id: String, command: [String]) async throws -> ExecResult {
        let execID = try await client.request(.POST, "/containers/\(id)/exec", body: EngineAPI.ExecCreate(AttachStdout: true, AttachStderr: true, Cmd: command))
            .decode(EngineAPI.Created.self).Id
        let started = try await client.request(.POST, "/exec/\(execID)/start", body: EngineAPI.ExecStart(Detach: false, Tty: false), timeout: .minutes(10))
        let output = DockerClient.demultiplex(started.body).map { String(decoding: $0.payload, as: UTF8.self) }.joined()
        let code = try await client.request(.GET, "/exec/\(execID)/json").decode(EngineAPI.ExecInspect.self).ExitCode ?? -1
        return ExecResult(exitCode: code, output: output)
    }
}

/// The bind sources a probe found present: a folder that exists on the engine's machine is not
/// probed again by the same process (one that is deleted later fails at create, with the
/// engine's own message). One that was missing is probed every time, so creating it is noticed.
final class BindSourcesFound: Sendable {
    private let found = Mutex<Set<String>>([])
    func contains(_ source: String) -> Bool { found.withLock { $0.contains(source) } }
    func insert(_ source: String) { _ = found.withLock { $0.insert(source) } }
}
