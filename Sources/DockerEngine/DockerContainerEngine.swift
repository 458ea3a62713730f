import EnvSpec
import Foundation
import NIOCore
import NIOHTTP1
import Reconciler

/// The live ContainerEngine: Docker Engine API 1.41 and newer.
public struct DockerContainerEngine: ContainerEngine {
    public let client: DockerClient

    public init(client: DockerClient) { self.client = client }

    static func filters(_ f: [String: [String]]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: f, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    public func observe(environment: String, containerNames: [String], images: [String], networkNames: [String]) async throws -> ObservedState {
        let label = "\(Labels.environment)=\(environment)"
        async let labelled = client.request(.GET, "/containers/json", query: [("all", "1"), ("filters", Self.filters(["label": [label]]))])
        async let named = containerNames.isEmpty ? nil : client.request(.GET, "/containers/json", query: [("all", "1"), ("filters", Self.filters(["name": containerNames.map { "^/\($0)$" }]))])
        async let networks = client.request(.GET, "/networks", query: [("filters", Self.filters(["label": [label]]))])
        async let volumes = client.request(.GET, "/volumes", query: [("filters", Self.filters(["label": [label]]))])
        async let imageIDs = inspectImages(images)
        // Name filters match substrings; exact prefixes are checked below.
        async let namedNetworks = client.request(.GET, "/networks", query: [("filters", Self.filters(["name": ["\(environment)-"]]))])
        async let namedVolumes = client.request(.GET, "/volumes", query: [("filters", Self.filters(["name": ["\(environment)-"]]))])
        async let byName = networkNames.isEmpty ? nil : client.request(.GET, "/networks", query: [("filters", Self.filters(["name": networkNames]))])

        let ours = Self.parseContainers(try await labelled.json).filter { $0.labels[Labels.environment] == environment }
        let wanted = Set(containerNames)
        let foreign = Self.parseContainers(try await named?.json).filter { wanted.contains($0.name) && $0.labels[Labels.environment] != environment }
        let labelledNetworks = (try await networks.json as? [[String: Any]]) ?? []
        let observedNetworks = labelledNetworks.compactMap { $0["Name"] as? String }
        let volumeNames = (((try await volumes.json as? [String: Any])?["Volumes"] as? [[String: Any]]) ?? []).compactMap { $0["Name"] as? String }
        func unlabelled(_ list: [[String: Any]]) -> [String] {
            list.filter { (($0["Labels"] as? [String: String]) ?? [:])[Labels.environment] == nil }
                .compactMap { $0["Name"] as? String }.filter { $0.hasPrefix("\(environment)-") }
        }
        var state = ObservedState(containers: ours, foreign: foreign, networks: observedNetworks, volumes: volumeNames, images: try await imageIDs)
        state.foreignNetworks = unlabelled((try await namedNetworks.json as? [[String: Any]]) ?? [])
        for network in labelledNetworks {
            if let name = network["Name"] as? String, let hash = (network["Labels"] as? [String: String])?[Labels.networkHash] { state.networkHashes[name] = hash }
        }
        // Name filters match substrings: keep exact names without our label.
        let wantedNetworks = Set(networkNames)
        state.unlabelledNetworks = ((try await byName?.json as? [[String: Any]]) ?? []).filter {
            (($0["Labels"] as? [String: String]) ?? [:])[Labels.environment] != environment
        }.compactMap { $0["Name"] as? String }.filter(wantedNetworks.contains).sorted()
        state.foreignVolumes = unlabelled(((try await namedVolumes.json as? [String: Any])?["Volumes"] as? [[String: Any]]) ?? [])
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
            let response = try await client.request(.GET, "/images/\(reference)/json")
            return (response.json as? [String: Any])?["Id"] as? String
        } catch let error as EngineError where error.kind == .notFound || error.kind == .badRequest {
            return nil
        }
    }

    static func parseContainers(_ json: Any?) -> [ObservedContainer] {
        guard let list = json as? [[String: Any]] else { return [] }
        return list.map { c in
            let name = ((c["Names"] as? [String])?.first ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            let status = c["Status"] as? String ?? ""
            let ports = (c["Ports"] as? [[String: Any]] ?? []).compactMap { p -> PublishedPort? in
                guard let publicPort = p["PublicPort"] as? Int, let privatePort = p["PrivatePort"] as? Int else { return nil }
                return PublishedPort(hostIP: p["IP"] as? String ?? "", hostPort: publicPort, containerPort: privatePort, proto: p["Type"] as? String ?? "tcp")
            }
            var container = ObservedContainer(id: c["Id"] as? String ?? "", name: name, labels: c["Labels"] as? [String: String] ?? [:],
                                     state: parseState(c["State"] as? String ?? "", exitCode: exitCode(fromStatus: status)),
                                     health: status.contains("(healthy)") ? .healthy : status.contains("(unhealthy)") ? .unhealthy
                                         : status.contains("health: starting") ? .starting : .none,
                                     image: c["Image"] as? String ?? "", imageID: c["ImageID"] as? String ?? "", ports: ports)
            container.created = (c["Created"] as? NSNumber)?.doubleValue ?? 0
            return container
        }
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
        var body: [String: Any] = [
            "Name": network.name, "CheckDuplicate": true, "Driver": network.driver, "Internal": network.isInternal,
            "Labels": [Labels.environment: environment, Labels.networkHash: network.settingsHash],
        ]
        if !network.subnets.isEmpty { body["IPAM"] = ["Driver": "default", "Config": network.subnets.map { ["Subnet": $0] }] }
        try await client.request(.POST, "/networks/create", json: body, context: "network \(network.name)")
    }

    public func removeNetwork(_ name: String) async throws {
        do {
            try await client.request(.DELETE, "/networks/\(name)", context: "network \(name)")
        } catch let error as EngineError where error.message.contains("active endpoints") {
            // Stale endpoints left by dockerd 20.10 (moby#42119): disconnect them by force, then retry once.
            let inspected = try await client.request(.GET, "/networks/\(name)")
            for endpoint in ((inspected.json as? [String: Any])?["Containers"] as? [String: Any] ?? [:]).keys {
                _ = try? await client.request(.POST, "/networks/\(name)/disconnect", json: ["Container": endpoint, "Force": true])
            }
            try await client.request(.DELETE, "/networks/\(name)", context: "network \(name)")
        }
    }

    public func createVolume(_ name: String, environment: String) async throws {
        try await client.request(.POST, "/volumes/create", json: ["Name": name, "Labels": [Labels.environment: environment]],
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
        let digests = (response.json as? [String: Any])?["RepoDigests"] as? [String] ?? []
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
        let archive = try ContextArchive.make(directory: build.contextDirectory)
        let args = String(decoding: try JSONSerialization.data(withJSONObject: build.args), as: UTF8.self)
        let response = try await client.request(.POST, "/build", query: [("t", build.tag), ("dockerfile", build.dockerfile), ("buildargs", args), ("rm", "1")],
                                                body: archive, contentType: "application/x-tar", timeout: .minutes(60), context: "build \(build.tag)")
        if let error = Self.streamError(response.body) { throw EngineError(.badRequest, "build \(build.tag): \(error)") }
        guard let id = try await imageID(build.tag) else { throw EngineError(.notFound, "build \(build.tag): no image was produced") }
        return id
    }

    /// Progress streams answer 200 and report failure inline as {"error": "..."}.
    static func streamError(_ body: Data) -> String? {
        for line in body.split(separator: UInt8(ascii: "\n")) {
            if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let error = object["error"] as? String {
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

    public func createContainer(_ w: Workload) async throws -> String {
        var body: [String: Any] = [
            "Image": w.image,
            "Env": w.env.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" },
            "Labels": w.labels,
            "ExposedPorts": Dictionary(uniqueKeysWithValues: w.ports.map { ("\($0.containerPort)/\($0.proto)", [String: Any]()) }),
        ]
        if let command = w.command { body["Cmd"] = command }
        if let entrypoint = w.entrypoint { body["Entrypoint"] = entrypoint }
        if let dir = w.workingDir { body["WorkingDir"] = dir }
        if let user = w.user { body["User"] = user }
        if let check = w.healthcheck {
            body["Healthcheck"] = ["Test": ["CMD"] + check.command, "Interval": check.intervalMs * 1_000_000, "Timeout": check.timeoutMs * 1_000_000,
                                   "Retries": check.retries, "StartPeriod": check.startPeriodMs * 1_000_000]
        }
        if w.healthcheckDisabled { body["Healthcheck"] = ["Test": ["NONE"]] }
        var bindings: [String: [[String: String]]] = [:]
        for p in w.ports {
            bindings["\(p.containerPort)/\(p.proto)", default: []].append(["HostIp": p.hostIP, "HostPort": p.hostPort.map(String.init) ?? ""])
        }
        var hostConfig: [String: Any] = [
            "Init": w.initProcess,
            "PortBindings": bindings,
            "Mounts": w.mounts.map { ["Type": $0.type.rawValue, "Source": $0.source, "Target": $0.target, "ReadOnly": $0.readOnly] as [String: Any] },
            "RestartPolicy": ["Name": w.restart == .no ? "" : w.restart.rawValue],
            "NetworkMode": w.networks.first?.name ?? "none",
        ]
        if let memory = w.resources.memoryBytes { hostConfig["Memory"] = memory }
        if let milli = w.resources.milliCPUs { hostConfig["NanoCpus"] = milli * 1_000_000 }
        body["HostConfig"] = hostConfig
        if let primary = w.networks.first {
            body["NetworkingConfig"] = ["EndpointsConfig": [primary.name: Self.endpoint(primary)]]
        }
        let response = try await client.request(.POST, "/containers/create", query: [("name", w.name)], json: body, context: w.service)
        guard let id = (response.json as? [String: Any])?["Id"] as? String else { throw EngineError(.server, "\(w.service): the engine returned no container ID") }
        // API 1.41 creates with one network; the others are joined before the container starts.
        for network in w.networks.dropFirst() {
            try await client.request(.POST, "/networks/\(network.name)/connect", json: ["Container": id, "EndpointConfig": Self.endpoint(network)],
                                     context: "\(w.service): network \(network.name)")
        }
        return id
    }

    static func endpoint(_ network: WorkloadNetwork) -> [String: Any] {
        var endpoint: [String: Any] = ["Aliases": network.aliases]
        if let ip = network.ipv4Address { endpoint["IPAMConfig"] = ["IPv4Address": ip] }
        return endpoint
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

    public func inspectContainer(_ id: String) async throws -> ContainerStatus {
        let response = try await client.request(.GET, "/containers/\(id)/json")
        let state = (response.json as? [String: Any])?["State"] as? [String: Any] ?? [:]
        let health = Health(rawValue: (state["Health"] as? [String: Any])?["Status"] as? String ?? "none") ?? .none
        return ContainerStatus(state: Self.parseState(state["Status"] as? String ?? "", exitCode: state["ExitCode"] as? Int ?? 0), health: health)
    }

    public func putArchive(_ id: String, path: String, archive: Data) async throws {
        try await client.request(.PUT, "/containers/\(id)/archive", query: [("path", path)], body: archive, contentType: "application/x-tar")
    }

    public func getArchive(_ id: String, path: String) async throws -> Data {
        try await client.request(.GET, "/containers/\(id)/archive", query: [("path", path)], timeout: .minutes(30)).body
    }

    public func waitContainer(_ id: String) async throws -> Int {
        let response = try await client.request(.POST, "/containers/\(id)/wait", timeout: .hours(24))
        return (response.json as? [String: Any])?["StatusCode"] as? Int ?? -1
    }

    public func output(_ id: String) async throws -> String {
        let response = try await client.request(.GET, "/containers/\(id)/logs", query: [("stdout", "1"), ("stderr", "1")])
        return DockerClient.demultiplex(response.body).map { String(decoding: $0.payload, as: UTF8.self) }.joined()
    }

    public func exec(_ id: String, command: [String]) async throws -> ExecResult {
        let created = try await client.request(.POST, "/containers/\(id)/exec", json: ["AttachStdout": true, "AttachStderr": true, "Cmd": command])
        guard let execID = (created.json as? [String: Any])?["Id"] as? String else { throw EngineError(.server, "exec: the engine returned no exec ID") }
        let started = try await client.request(.POST, "/exec/\(execID)/start", json: ["Detach": false, "Tty": false], timeout: .minutes(10))
        let output = DockerClient.demultiplex(started.body).map { String(decoding: $0.payload, as: UTF8.self) }.joined()
        let inspected = try await client.request(.GET, "/exec/\(execID)/json")
        let code = (inspected.json as? [String: Any])?["ExitCode"] as? Int ?? -1
        return ExecResult(exitCode: code, output: output)
    }
}
