import EnvSpec
import Foundation
import Reconciler
import Synchronization

/// An in-memory ContainerEngine for fast, deterministic planner, executor and controller tests.
/// It is never a stand-in for the real engine tests in IntegrationTests. All its state sits
/// behind one lock, so tests and the code under test may touch it from any task.
public final class FakeEngine: ContainerEngine, EngineEventSource, Sendable {
    public struct Container: Sendable {
        public var id: String
        public var workload: Workload
        public var state: ContainerState
        public var health: Health
        public var imageID: String
    }

    struct State {
        var nextID = 1
        var containers: [String: Container] = [:]
        var networks: Set<String> = []
        var volumes: Set<String> = []
        var images: [String: String] = [:]
        var calls: [String] = []
        var failStart: [String: String] = [:]
        var failCreate: [String: String] = [:]
        var renames = true
        var unhealthy: Set<String> = []
        var maxConcurrentCreates = 0
        var inFlight = 0
        var createBarrier = 0
        var waitingAtBarrier: [CheckedContinuation<Void, Never>] = []
        var archives: [(container: String, path: String, entries: [String])] = []
        var execs: [(service: String, command: [String])] = []
        var execExitCodes: [String: Int] = [:]
        var foreign: [ObservedContainer] = []
        var foreignNetworks: [String] = []
        var foreignVolumes: [String] = []
        var subscribers: [AsyncThrowingStream<EngineEvent, Error>.Continuation] = []
        var emitted: [EngineEvent] = []
        var listLagging: Set<String> = []
    }

    private let state = Mutex(State())

    func locked<T>(_ body: (inout State) throws -> T) rethrows -> T { try state.withLock { try body(&$0) } }

    public var containers: [String: Container] { locked { $0.containers } }
    public var networks: Set<String> { locked { $0.networks } }
    public var volumes: Set<String> { locked { $0.volumes } }
    public var images: [String: String] {
        get { locked { $0.images } }
        set { locked { $0.images = newValue } }
    }
    /// Every mutating call, in order, e.g. "create lms".
    public var calls: [String] { locked { $0.calls } }
    /// Services whose containers fail to start, with the engine's message.
    public var failStart: [String: String] {
        get { locked { $0.failStart } }
        set { locked { $0.failStart = newValue } }
    }
    /// Services whose containers cannot be created, with the engine's message.
    public var failCreate: [String: String] {
        get { locked { $0.failCreate } }
        set { locked { $0.failCreate = newValue } }
    }
    /// False: an engine without renames, whose changed containers are stopped and removed first.
    public var renames: Bool {
        get { locked { $0.renames } }
        set { locked { $0.renames = newValue } }
    }
    /// Services whose health check never passes.
    public var unhealthy: Set<String> {
        get { locked { $0.unhealthy } }
        set { locked { $0.unhealthy = newValue } }
    }
    /// Largest number of create calls seen in flight at once.
    public var maxConcurrentCreates: Int { locked { $0.maxConcurrentCreates } }
    /// When above zero, creates wait until this many are in flight and then all go on: a test of
    /// parallelism synchronises on it instead of on sleeps.
    public var createBarrier: Int {
        get { locked { $0.createBarrier } }
        set { locked { $0.createBarrier = newValue } }
    }
    /// Archives put into containers, by container name and path.
    public var archives: [(container: String, path: String, entries: [String])] { locked { $0.archives } }
    /// Commands run through exec, by service.
    public var execs: [(service: String, command: [String])] { locked { $0.execs } }
    /// Exit codes for exec commands whose last argument matches a key.
    public var execExitCodes: [String: Int] {
        get { locked { $0.execExitCodes } }
        set { locked { $0.execExitCodes = newValue } }
    }
    /// Containers without our labels whose names the environment would use.
    public var foreign: [ObservedContainer] {
        get { locked { $0.foreign } }
        set { locked { $0.foreign = newValue } }
    }
    /// Unlabelled networks and volumes that carry the environment's prefix.
    public var foreignNetworks: [String] {
        get { locked { $0.foreignNetworks } }
        set { locked { $0.foreignNetworks = newValue } }
    }
    public var foreignVolumes: [String] {
        get { locked { $0.foreignVolumes } }
        set { locked { $0.foreignVolumes = newValue } }
    }

    public init(images: [String: String] = [:]) { locked { $0.images = images } }

    public func observe(environment: String, containerNames: [String], images wanted: [String], networkNames: [String]) async throws -> ObservedState {
        locked { s in
            let ours = s.containers.values.filter { $0.workload.labels[Labels.environment] == environment }.map { c in
                var seen = self.observed(c)
                if s.listLagging.contains(c.id) { seen.state = .running }
                return seen
            }
            let wantedNames = Set(containerNames)
            var observed = ObservedState(containers: ours.sorted { $0.name < $1.name }, foreign: s.foreign.filter { wantedNames.contains($0.name) },
                                         networks: s.networks.sorted(), volumes: s.volumes.sorted(), images: s.images.filter { wanted.contains($0.key) })
            observed.foreignNetworks = s.foreignNetworks
            observed.foreignVolumes = s.foreignVolumes
            return observed
        }
    }

    func observed(_ c: Container) -> ObservedContainer {
        ObservedContainer(id: c.id, name: c.workload.name, labels: c.workload.labels, state: c.state, health: c.health,
                          image: c.workload.image, imageID: c.imageID,
                          ports: c.workload.ports.compactMap { p in p.hostPort.map { PublishedPort(hostIP: p.hostIP, hostPort: $0, containerPort: p.containerPort, proto: p.proto) } })
    }

    public func createNetwork(_ network: NetworkDefinition, environment: String) async throws {
        locked { $0.networks.insert(network.name); $0.calls.append("create-network \(network.name)") }
    }
    public func removeNetwork(_ name: String) async throws { locked { $0.networks.remove(name); $0.calls.append("remove-network \(name)") } }
    public func createVolume(_ name: String, environment: String) async throws { locked { $0.volumes.insert(name); $0.calls.append("create-volume \(name)") } }
    public func removeVolume(_ name: String) async throws { locked { $0.volumes.remove(name); $0.calls.append("remove-volume \(name)") } }

    public func imageDigest(_ reference: String) async throws -> String? {
        locked { s in s.images[reference].map { "\(reference.split(separator: ":").first ?? "")@sha256:\($0)" } }
    }

    public func pullImage(_ reference: String) async throws -> String {
        locked { s in
            s.calls.append("pull \(reference)")
            let id = "sha256:pulled-\(reference)"
            s.images[reference] = id
            return id
        }
    }

    public func buildImage(_ build: ImageBuild) async throws -> String {
        locked { s in
            s.calls.append("build \(build.tag)")
            s.images[build.tag] = "sha256:built-\(build.tag)"
            return s.images[build.tag]!
        }
    }

    public func createContainer(_ workload: Workload) async throws -> String {
        let id: String = try locked { s in
            if s.containers.values.contains(where: { $0.workload.name == workload.name }) {
                throw EngineError(.conflict, "\(workload.service): the container name \"/\(workload.name)\" is already in use")
            }
            guard let imageID = s.images[workload.image] else { throw EngineError(.notFound, "\(workload.service): No such image: \(workload.image)") }
            if let message = s.failCreate[workload.service] { throw EngineError(.server, "\(workload.service): \(message)") }
            let id = String(format: "c%04d", s.nextID)
            s.nextID += 1
            s.containers[id] = Container(id: id, workload: workload, state: .created, health: .none, imageID: imageID)
            s.calls.append("create \(workload.service)")
            s.inFlight += 1
            s.maxConcurrentCreates = max(s.maxConcurrentCreates, s.inFlight)
            return id
        }
        await passBarrier()
        locked { $0.inFlight -= 1 }
        return id
    }

    /// Waits until `createBarrier` creates are in flight, then lets them all go on.
    func passBarrier() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let release: [CheckedContinuation<Void, Never>] = locked { s in
                guard s.createBarrier > 0 else { return [continuation] }
                s.waitingAtBarrier.append(continuation)
                guard s.waitingAtBarrier.count >= s.createBarrier else { return [] }
                defer { s.waitingAtBarrier = [] }
                return s.waitingAtBarrier
            }
            release.forEach { $0.resume() }
        }
    }

    public func startContainer(_ id: String) async throws {
        try locked { s in
            guard var c = s.containers[id] else { throw EngineError(.notFound, "No such container: \(id)") }
            s.calls.append("start \(c.workload.service)")
            s.listLagging.remove(id)
            if let message = s.failStart[c.workload.service] {
                c.state = .exited(code: 1)
                s.containers[id] = c
                throw EngineError(.server, "\(c.workload.service): \(message)")
            }
            // A command of ["true"] or ["false"] models a one-shot job that has already finished.
            switch c.workload.command {
            case ["true"]?: c.state = .exited(code: 0)
            case ["false"]?: c.state = .exited(code: 1)
            default: c.state = .running
            }
            c.health = c.workload.healthcheck == nil ? .none : .starting
            s.containers[id] = c
        }
    }

    public func stopContainer(_ id: String, timeoutSeconds: Int) async throws {
        try locked { s in
            guard s.containers[id] != nil else { throw EngineError(.notFound, "No such container: \(id)") }
            s.containers[id]!.state = .exited(code: 0)
        }
    }

    public func removeContainer(_ id: String) async throws {
        try locked { s in
            guard let c = s.containers.removeValue(forKey: id) else { throw EngineError(.notFound, "No such container: \(id)") }
            s.calls.append("remove \(c.workload.service)")
        }
    }

    public func renameContainer(_ id: String, to name: String) async throws -> Bool {
        try locked { s in
            guard s.renames else { return false }
            guard s.containers[id] != nil else { throw EngineError(.notFound, "No such container: \(id)") }
            s.containers[id]!.workload.name = name
            s.calls.append("rename \(s.containers[id]!.workload.service)")
            return true
        }
    }

    static func find(_ idOrName: String, in s: State) -> Container? {
        s.containers[idOrName] ?? s.containers.values.first { $0.workload.name == idOrName }
    }

    public func inspectContainer(_ id: String) async throws -> ContainerStatus {
        try locked { s in
            guard let c = Self.find(id, in: s) else { throw EngineError(.notFound, "No such container: \(id)") }
            return ContainerStatus(state: c.state, health: c.health)
        }
    }

    public func exec(_ id: String, command: [String]) async throws -> ExecResult {
        try locked { s in
            guard let c = Self.find(id, in: s) else { throw EngineError(.notFound, "No such container: \(id)") }
            if s.unhealthy.contains(c.workload.service) { return ExecResult(exitCode: 1, output: "not ready") }
            if command != c.workload.healthcheck?.command {
                s.execs.append((c.workload.service, command))
                if let code = s.execExitCodes.first(where: { command.last == $0.key })?.value { return ExecResult(exitCode: code, output: "failed on purpose") }
            }
            // A passing probe is what the engine's own check would see next.
            if c.workload.healthcheck != nil, command == c.workload.healthcheck?.command { s.containers[c.id]!.health = .healthy }
            return ExecResult(exitCode: 0, output: "")
        }
    }

    public func putArchive(_ id: String, path: String, archive: Data) async throws {
        try locked { s in
            guard let c = Self.find(id, in: s) else { throw EngineError(.notFound, "No such container: \(id)") }
            s.archives.append((c.workload.name, path, try Tar.validate(archive)))
        }
    }

    /// An empty archive: volume contents are the real engine tests' business.
    public func getArchive(_ id: String, path: String) async throws -> Data {
        try locked { s in
            guard Self.find(id, in: s) != nil else { throw EngineError(.notFound, "No such container: \(id)") }
            s.calls.append("get-archive \(path)")
            return Data(count: 1024)
        }
    }

    public func waitContainer(_ id: String) async throws -> Int {
        try locked { s in
            guard let c = Self.find(id, in: s) else { throw EngineError(.notFound, "No such container: \(id)") }
            if case let .exited(code) = c.state { return code }
            s.containers[c.id]!.state = .exited(code: 0)
            return 0
        }
    }

    public func output(_ id: String) async throws -> String { "" }

    // MARK: engine events, as the controller follows them

    /// Like the engine with `since`, a new subscriber first gets what was emitted before it
    /// subscribed: a test need not wait for the subscription before it emits.
    public func events(environment: String, since: Double?) -> AsyncThrowingStream<EngineEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        locked { s in
            s.emitted.forEach { continuation.yield($0) }
            s.subscribers.append(continuation)
        }
        return stream
    }

    /// Sends an event to every subscriber, as the engine would.
    public func emit(_ event: EngineEvent) {
        locked { s in
            s.emitted.append(event)
            s.subscribers.forEach { $0.yield(event) }
        }
    }

    // MARK: drift, as a user or a crash would cause it

    /// The service's container exits. `listLags`: the container list keeps saying "running"
    /// until the next start, as dockerd's list does for a while after `die`; inspect is current.
    public func kill(_ service: String, code: Int = 137, listLags: Bool = false) {
        locked { s in
            guard let c = s.containers.values.first(where: { $0.workload.service == service }) else { return }
            s.containers[c.id]!.state = .exited(code: code)
            if listLags { s.listLagging.insert(c.id) }
        }
    }

    /// The id of the service's container, for the events a test emits.
    public func containerID(_ service: String) -> String? {
        locked { s in s.containers.values.first(where: { $0.workload.service == service })?.id }
    }

    public func delete(_ service: String) {
        locked { s in
            if let c = s.containers.values.first(where: { $0.workload.service == service }) { s.containers.removeValue(forKey: c.id) }
        }
    }

    public func resetCalls() { locked { $0.calls = [] } }
}
