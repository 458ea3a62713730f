import EnvSpec
import Foundation
import Reconciler

/// An in-memory ContainerEngine for fast, deterministic planner and executor tests. It is never a
/// stand-in for the real engine tests in IntegrationTests.
public final class FakeEngine: ContainerEngine, @unchecked Sendable {
    public struct Container: Sendable {
        public var id: String
        public var workload: Workload
        public var state: ContainerState
        public var health: Health
        public var imageID: String
    }

    private let lock = NSLock()
    private var nextID = 1
    public private(set) var containers: [String: Container] = [:]
    public private(set) var networks: Set<String> = []
    public private(set) var volumes: Set<String> = []
    public var images: [String: String] = [:]
    /// Every mutating call, in order, e.g. "create lms".
    public private(set) var calls: [String] = []
    /// Services whose containers fail to start, with the engine's message.
    public var failStart: [String: String] = [:]
    /// Services whose health check never passes.
    public var unhealthy: Set<String> = []
    /// Largest number of create calls seen in flight at once.
    public private(set) var maxConcurrentCreates = 0
    private var inFlight = 0
    public var createDelay: Duration = .zero

    public init(images: [String: String] = [:]) { self.images = images }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    public func observe(environment: String, containerNames: [String], images wanted: [String], networkNames: [String]) async throws -> ObservedState {
        locked {
            let ours = containers.values.filter { $0.workload.labels[Labels.environment] == environment }.map(observed)
            return ObservedState(containers: ours.sorted { $0.name < $1.name }, foreign: [], networks: networks.sorted(),
                                 volumes: volumes.sorted(), images: images.filter { wanted.contains($0.key) })
        }
    }

    func observed(_ c: Container) -> ObservedContainer {
        ObservedContainer(id: c.id, name: c.workload.name, labels: c.workload.labels, state: c.state, health: c.health,
                          image: c.workload.image, imageID: c.imageID,
                          ports: c.workload.ports.compactMap { p in p.hostPort.map { PublishedPort(hostIP: p.hostIP, hostPort: $0, containerPort: p.containerPort, proto: p.proto) } })
    }

    public func createNetwork(_ network: NetworkDefinition, environment: String) async throws { locked { networks.insert(network.name); calls.append("create-network \(network.name)") } }
    public func removeNetwork(_ name: String) async throws { locked { networks.remove(name); calls.append("remove-network \(name)") } }
    public func createVolume(_ name: String, environment: String) async throws { locked { volumes.insert(name); calls.append("create-volume \(name)") } }
    public func removeVolume(_ name: String) async throws { locked { volumes.remove(name); calls.append("remove-volume \(name)") } }

    public func imageDigest(_ reference: String) async throws -> String? {
        locked { images[reference].map { "\(reference.split(separator: ":").first ?? "")@sha256:\($0)" } }
    }

    public func pullImage(_ reference: String) async throws -> String {
        locked {
            calls.append("pull \(reference)")
            let id = "sha256:pulled-\(reference)"
            images[reference] = id
            return id
        }
    }

    public func buildImage(_ build: ImageBuild) async throws -> String {
        locked {
            calls.append("build \(build.tag)")
            images[build.tag] = "sha256:built-\(build.tag)"
            return images[build.tag]!
        }
    }

    public func createContainer(_ workload: Workload) async throws -> String {
        let id: String = try locked {
            if containers.values.contains(where: { $0.workload.name == workload.name }) {
                throw EngineError(.conflict, "\(workload.service): the container name \"/\(workload.name)\" is already in use")
            }
            guard let imageID = images[workload.image] else { throw EngineError(.notFound, "\(workload.service): No such image: \(workload.image)") }
            let id = String(format: "c%04d", nextID)
            nextID += 1
            containers[id] = Container(id: id, workload: workload, state: .created, health: .none, imageID: imageID)
            calls.append("create \(workload.service)")
            inFlight += 1
            maxConcurrentCreates = max(maxConcurrentCreates, inFlight)
            return id
        }
        if createDelay > .zero { try await Task.sleep(for: createDelay) }
        locked { inFlight -= 1 }
        return id
    }

    public func startContainer(_ id: String) async throws {
        try locked {
            guard var c = containers[id] else { throw EngineError(.notFound, "No such container: \(id)") }
            calls.append("start \(c.workload.service)")
            if let message = failStart[c.workload.service] {
                c.state = .exited(code: 1)
                containers[id] = c
                throw EngineError(.server, "\(c.workload.service): \(message)")
            }
            // A command of ["true"] or ["false"] models a one-shot job that has already finished.
            switch c.workload.command {
            case ["true"]?: c.state = .exited(code: 0)
            case ["false"]?: c.state = .exited(code: 1)
            default: c.state = .running
            }
            c.health = c.workload.healthcheck == nil ? .none : .starting
            containers[id] = c
        }
    }

    public func stopContainer(_ id: String, timeoutSeconds: Int) async throws {
        try locked {
            guard var c = containers[id] else { throw EngineError(.notFound, "No such container: \(id)") }
            c.state = .exited(code: 0)
            containers[id] = c
        }
    }

    public func removeContainer(_ id: String) async throws {
        try locked {
            guard let c = containers.removeValue(forKey: id) else { throw EngineError(.notFound, "No such container: \(id)") }
            calls.append("remove \(c.workload.service)")
        }
    }

    func find(_ idOrName: String) -> Container? {
        containers[idOrName] ?? containers.values.first { $0.workload.name == idOrName }
    }

    public func inspectContainer(_ id: String) async throws -> ContainerStatus {
        try locked {
            guard let c = find(id) else { throw EngineError(.notFound, "No such container: \(id)") }
            return ContainerStatus(state: c.state, health: c.health)
        }
    }

    public func exec(_ id: String, command: [String]) async throws -> ExecResult {
        try locked {
            guard let c = find(id) else { throw EngineError(.notFound, "No such container: \(id)") }
            if unhealthy.contains(c.workload.service) { return ExecResult(exitCode: 1, output: "not ready") }
            if command != c.workload.healthcheck?.command {
                execs.append((c.workload.service, command))
                if let code = execExitCodes.first(where: { command.last == $0.key })?.value { return ExecResult(exitCode: code, output: "failed on purpose") }
            }
            // A passing probe is what the engine's own check would see next.
            if c.workload.healthcheck != nil, command == c.workload.healthcheck?.command { containers[c.id]!.health = .healthy }
            return ExecResult(exitCode: 0, output: "")
        }
    }

    /// Archives put into containers, by container name and path.
    public private(set) var archives: [(container: String, path: String, entries: [String])] = []
    /// Commands run through exec, by service.
    public private(set) var execs: [(service: String, command: [String])] = []
    /// Exit codes for exec commands whose last argument matches a key.
    public var execExitCodes: [String: Int] = [:]

    public func putArchive(_ id: String, path: String, archive: Data) async throws {
        try locked {
            guard let c = find(id) else { throw EngineError(.notFound, "No such container: \(id)") }
            archives.append((c.workload.name, path, try Tar.validate(archive)))
        }
    }

    /// An empty archive: volume contents are the real engine tests' business.
    public func getArchive(_ id: String, path: String) async throws -> Data {
        try locked {
            guard find(id) != nil else { throw EngineError(.notFound, "No such container: \(id)") }
            calls.append("get-archive \(path)")
            return Data(count: 1024)
        }
    }

    public func waitContainer(_ id: String) async throws -> Int {
        try locked {
            guard let c = find(id) else { throw EngineError(.notFound, "No such container: \(id)") }
            if case let .exited(code) = c.state { return code }
            containers[c.id]!.state = .exited(code: 0)
            return 0
        }
    }

    public func output(_ id: String) async throws -> String { "" }

    // MARK: drift, as a user or a crash would cause it

    public func kill(_ service: String, code: Int = 137) {
        locked {
            if let c = containers.values.first(where: { $0.workload.service == service }) { containers[c.id]!.state = .exited(code: code) }
        }
    }

    public func delete(_ service: String) {
        locked {
            if let c = containers.values.first(where: { $0.workload.service == service }) { containers.removeValue(forKey: c.id) }
        }
    }

    public func resetCalls() { locked { calls = [] } }
}
