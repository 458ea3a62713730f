import EnvSpec
import Foundation

/// Labels that mark what devstack owns. Nothing without `dev.devstack.env` is ever changed.
public enum Labels {
    public static let environment = "dev.devstack.env"
    public static let service = "dev.devstack.service"
    public static let specHash = "dev.devstack.spec-hash"
    public static let revision = "dev.devstack.revision"
    /// A keyed digest of the secret values a container was given: a rotated secret recreates it.
    public static let secrets = "dev.devstack.secrets"
    /// Short-lived helper containers (seed runs, volume copies) say what they are for.
    public static let helper = "dev.devstack.helper"
    /// On networks devstack creates: the digest of their settings, so a change is noticed.
    public static let networkHash = "dev.devstack.network-hash"
}

/// How devstack names the engine objects of an environment.
public enum Naming {
    public static func container(_ env: String, _ service: String) -> String { "\(env)-\(service)" }
    public static func network(_ env: String) -> String { "\(env)-net" }
    public static func volume(_ env: String, _ volume: String) -> String { "\(env)-\(volume)" }
}

public enum ContainerState: Sendable, Equatable {
    case created
    case running
    case paused
    case restarting
    case exited(code: Int)
    case dead
    case removing

    public var label: String {
        switch self {
        case .created: return "created"
        case .running: return "running"
        case .paused: return "paused"
        case .restarting: return "restarting"
        case let .exited(code): return "exited (\(code))"
        case .dead: return "dead"
        case .removing: return "removing"
        }
    }
}

public enum Health: String, Sendable, Equatable, Codable {
    case none, starting, healthy, unhealthy
}

public struct PublishedPort: Sendable, Equatable, Codable {
    public var hostIP: String
    public var hostPort: Int
    public var containerPort: Int
    public var proto: String
    public init(hostIP: String, hostPort: Int, containerPort: Int, proto: String) {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.proto = proto
    }
}

public struct ObservedContainer: Sendable, Equatable {
    public var id: String
    public var name: String
    public var labels: [String: String]
    public var state: ContainerState
    public var health: Health
    public var image: String
    public var imageID: String
    public var ports: [PublishedPort]
    /// When the container was created, seconds since 1970; 0 when unknown.
    public var created: Double = 0
    /// For a Swarm service: its tasks, as the swarm reports them. Nil for a container.
    public var tasks: TaskCounts?

    public init(id: String, name: String, labels: [String: String], state: ContainerState, health: Health = .none,
                image: String = "", imageID: String = "", ports: [PublishedPort] = []) {
        self.id = id
        self.name = name
        self.labels = labels
        self.state = state
        self.health = health
        self.image = image
        self.imageID = imageID
        self.ports = ports
    }

    public var isManaged: Bool { labels[Labels.environment] != nil }
    public var service: String? { labels[Labels.service] }
    public var specHash: String? { labels[Labels.specHash] }
    public var revision: Int? { labels[Labels.revision].flatMap(Int.init) }
}

/// A Swarm service's tasks: how many run of how many wanted, and what became of the others.
public struct TaskCounts: Sendable, Equatable, Codable {
    public var running: Int
    public var desired: Int
    /// Tasks that ended without being asked to (failed, rejected, or a container that died):
    /// the swarm replaced each with a new one.
    public var replaced: Int
    /// The most recent of those endings, in the swarm's words, such as "task exited (137)".
    public var lastEnding: String?
    /// The nodes the running tasks are on, by hostname (or node ID when names repeat).
    public var nodes: [String]
    public init(running: Int, desired: Int, replaced: Int = 0, lastEnding: String? = nil, nodes: [String] = []) {
        self.running = running
        self.desired = desired
        self.replaced = replaced
        self.lastEnding = lastEnding
        self.nodes = nodes
    }
}

/// One immutable snapshot of the engine, taken before planning. Planning makes no further calls.
public struct ObservedState: Sendable, Equatable {
    /// Containers labelled for this environment.
    public var containers: [ObservedContainer]
    /// Containers without our labels whose names we would use.
    public var foreign: [ObservedContainer]
    public var networks: [String]
    public var volumes: [String]
    /// Image reference → image ID, for the references the desired state uses; absent when missing.
    public var images: [String: String]
    /// Unlabelled networks and volumes whose names start with the environment's prefix: if one
    /// has a name devstack would use, planning stops rather than adopt it.
    public var foreignNetworks: [String] = []
    public var foreignVolumes: [String] = []
    /// Of the network names asked for by name (custom names and external networks), those that
    /// exist without this environment's label.
    public var unlabelledNetworks: [String] = []
    /// The settings digest devstack put on each network it created (`dev.devstack.network-hash`).
    public var networkHashes: [String: String] = [:]
    /// Host ports the desired state publishes that a process outside this environment holds.
    public var busyHostPorts: Set<HostPort> = []
    /// The machine a remote engine runs on (nil for an engine on this machine): its published
    /// ports are there, and its bind mounts name its folders.
    public var remoteHost: String?
    /// Bind sources the desired state names that do not exist on a remote engine's machine.
    public var missingBindSources: Set<String> = []

    public init(containers: [ObservedContainer] = [], foreign: [ObservedContainer] = [], networks: [String] = [], volumes: [String] = [], images: [String: String] = [:]) {
        self.containers = containers
        self.foreign = foreign
        self.networks = networks
        self.volumes = volumes
        self.images = images
    }
}

/// A port on the host: where a published port binds.
public struct HostPort: Sendable, Hashable {
    public var hostIP: String
    public var port: Int
    public var proto: String
    public init(hostIP: String, port: Int, proto: String) {
        self.hostIP = hostIP
        self.port = port
        self.proto = proto
    }
}

/// A container as devstack wants it: engine-neutral, secrets already resolved.
public struct Workload: Sendable, Equatable {
    public var environment: String
    public var service: String
    public var name: String
    public var image: String
    public var command: [String]?
    public var entrypoint: [String]?
    public var workingDir: String?
    public var user: String?
    public var env: [String: String]
    public var ports: [PortSpec]
    /// Named volumes carry their full engine name; binds an absolute host path.
    public var mounts: [MountSpec]
    /// The networks it joins, the first one at creation and the others right after.
    public var networks: [WorkloadNetwork]
    public var restart: RestartPolicy
    public var resources: ResourcesSpec
    public var labels: [String: String]
    public var healthcheck: HealthcheckSpec?
    /// The image's own health check is turned off.
    public var healthcheckDisabled: Bool = false
    public var initProcess: Bool
    /// Created with a terminal and an open standard input, for a one-off interactive task.
    public var terminal: Bool = false
    /// Config files written into the container after it is created and before it starts.
    public var files: [WorkloadFile] = []
    /// How many copies and where (the swarm engine; one Docker engine runs exactly one).
    public var deploy: DeploySpec = DeploySpec()
    /// The secrets its variables reference, by name, with their values: the swarm engine hands
    /// them over as Swarm secrets as well (files under /run/secrets).
    public var secrets: [String: String] = [:]
}

extension Workload {
    /// A short-lived container from this one's image and settings (seed runs, volume helpers):
    /// no ports, no health check, no restarts, labelled as a helper so a leftover is found.
    public func helper(named name: String, purpose: String) -> Workload {
        var helper = self
        helper.name = name
        helper.labels = [Labels.environment: environment, Labels.helper: purpose]
        helper.ports = []
        helper.healthcheck = nil
        helper.restart = .no
        helper.files = []
        helper.deploy = DeploySpec()
        // A helper answers to no service name or alias: DNS keeps pointing at the service.
        helper.networks = networks.map { WorkloadNetwork(name: $0.name, aliases: [], ipv4Address: nil) }
        return helper
    }
}

/// One network a workload joins, with the DNS names it answers to there.
public struct WorkloadNetwork: Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var ipv4Address: String?
    public init(name: String, aliases: [String], ipv4Address: String? = nil) {
        self.name = name
        self.aliases = aliases
        self.ipv4Address = ipv4Address
    }
}

/// A network devstack creates for an environment.
public struct NetworkDefinition: Sendable, Equatable {
    public var name: String
    public var driver: String
    public var isInternal: Bool
    public var subnets: [String]
    /// The digest of the settings above, put on the network as a label.
    public var settingsHash: String
    public init(name: String, driver: String = "bridge", isInternal: Bool = false, subnets: [String] = []) {
        self.name = name
        self.driver = driver
        self.isInternal = isInternal
        self.subnets = subnets
        settingsHash = String(CanonicalJSON.sha256("\(driver)\u{0}\(isInternal)\u{0}\(subnets.joined(separator: ","))").prefix(16))
    }
}

public struct WorkloadFile: Sendable, Equatable {
    public var path: String
    public var contents: String
    public init(path: String, contents: String) {
        self.path = path
        self.contents = contents
    }
}

public struct ExecResult: Sendable, Equatable {
    public var exitCode: Int
    public var output: String
    public init(exitCode: Int, output: String) {
        self.exitCode = exitCode
        self.output = output
    }
}

public struct ContainerStatus: Sendable, Equatable {
    public var state: ContainerState
    public var health: Health
    public init(state: ContainerState, health: Health) {
        self.state = state
        self.health = health
    }
}

/// The side-effecting seam: a live Docker implementation and an in-memory fake. It speaks of
/// workloads and observed state, so another backend (Swarm, Kubernetes) can sit behind it.
public protocol ContainerEngine: Sendable {
    /// The machine the engine runs on when it is not this one (a `tcp://` or `ssh://` engine).
    var remoteHost: String? { get }
    /// Of `sources`, the bind sources that do not exist on the engine's machine, asked of the
    /// engine itself with `image` (one it has). Only meaningful for a remote engine.
    func missingBindSources(_ sources: [String], image: String) async -> Set<String>
    /// Lists the environment's labelled objects, plus any container holding one of `names`, and
    /// which of `networkNames` exist without the environment's label.
    func observe(environment: String, containerNames: [String], images: [String], networkNames: [String]) async throws -> ObservedState
    func createNetwork(_ network: NetworkDefinition, environment: String) async throws
    func removeNetwork(_ name: String) async throws
    func createVolume(_ name: String, environment: String) async throws
    func removeVolume(_ name: String) async throws
    /// "repository@sha256:…" for a local image that came from a registry; nil for local builds.
    func imageDigest(_ reference: String) async throws -> String?
    /// Returns the image ID after pulling.
    func pullImage(_ reference: String) async throws -> String
    func buildImage(_ build: ImageBuild) async throws -> String
    /// Returns the container ID.
    func createContainer(_ workload: Workload) async throws -> String
    func startContainer(_ id: String) async throws
    func stopContainer(_ id: String, timeoutSeconds: Int) async throws
    func removeContainer(_ id: String) async throws
    func inspectContainer(_ id: String) async throws -> ContainerStatus
    func exec(_ id: String, command: [String]) async throws -> ExecResult
    /// Extracts a tar archive at `path` in a container, created or running.
    func putArchive(_ id: String, path: String, archive: Data) async throws
    /// A tar archive of `path` in the container; a path ending in "/." gives its contents.
    func getArchive(_ id: String, path: String) async throws -> Data
    /// Extracts a tar archive pulled piece by piece from `chunks`, so its size does not matter.
    func putArchive(_ id: String, path: String, chunks: ByteChunks) async throws
    /// Hands a tar archive of `path` to `sink` piece by piece, as the engine sends it.
    func getArchive(_ id: String, path: String, into sink: (Data) async throws -> Void) async throws
    /// Config files reach the workload with its creation (Swarm configs), not through
    /// `putArchive` before it starts.
    var takesFilesAtCreation: Bool { get }
    /// Changes a workload in place to the new definition, keeping its identity (a Swarm service
    /// update). Returns nil when the engine replaces workloads instead (one Docker engine).
    func update(_ id: String, to workload: Workload) async throws -> String?
    /// Gives a container another name, so that its successor can be created under the old one
    /// while it stops. Returns false when the engine cannot (the executor then stops and
    /// removes before it creates).
    func renameContainer(_ id: String, to name: String) async throws -> Bool
    /// Waits for the container to stop and returns its exit code.
    func waitContainer(_ id: String) async throws -> Int
    /// Everything the container has printed so far.
    func output(_ id: String) async throws -> String
}

/// Bytes pulled one piece at a time: the producer runs only when the consumer asks for more, so a
/// large archive passes through in fixed-size pieces whatever its size.
public typealias ByteChunks = AsyncThrowingStream<Data, any Error>

extension ContainerEngine {
    /// Engines without a streaming path (test fakes) take the archive whole.
    public func putArchive(_ id: String, path: String, chunks: ByteChunks) async throws {
        var archive = Data()
        for try await chunk in chunks { archive.append(chunk) }
        try await putArchive(id, path: path, archive: archive)
    }

    public func getArchive(_ id: String, path: String, into sink: (Data) async throws -> Void) async throws {
        try await sink(try await getArchive(id, path: path))
    }

    public func observe(environment: String, containerNames: [String], images: [String]) async throws -> ObservedState {
        try await observe(environment: environment, containerNames: containerNames, images: images, networkNames: [])
    }
}

public struct ImageBuild: Sendable, Equatable {
    public var tag: String
    public var contextDirectory: String
    public var dockerfile: String
    public var args: [String: String]
    public init(tag: String, contextDirectory: String, dockerfile: String, args: [String: String]) {
        self.tag = tag
        self.contextDirectory = contextDirectory
        self.dockerfile = dockerfile
        self.args = args
    }
}

/// Whether a host port is free; a live probe binds a socket, tests use a set.
public protocol PortProbe: Sendable {
    func isFree(hostIP: String, port: Int, proto: String) -> Bool
}

/// An engine failure, with the engine's own words.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `bodyTooLarge`: the engine answered, with more than devstack holds in memory; retrying
    /// would not help, so it is not transient.
    public enum Kind: Sendable, Equatable { case unreachable, notFound, conflict, server, badRequest, bodyTooLarge }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
    /// Worth another try after a pause.
    public var isTransient: Bool { kind == .unreachable || kind == .server }
}

/// Something happened to one of the environment's containers.
public struct EngineEvent: Sendable, Equatable {
    public var action: String
    public var service: String?
    public var containerID: String
    public init(action: String, service: String?, containerID: String) {
        self.action = action
        self.service = service
        self.containerID = containerID
    }
}

extension EngineEvent {
    /// A container event's action, as the controller reads it. Unknown actions are kept.
    public enum Action: Sendable, Equatable {
        case die, destroy, stop, kill, oom, pause, unhealthy, start
        case other(String)

        public init(_ raw: String) {
            switch raw {
            case "die": self = .die
            case "destroy": self = .destroy
            case "stop": self = .stop
            case "kill": self = .kill
            case "oom": self = .oom
            case "pause": self = .pause
            case "health_status: unhealthy": self = .unhealthy
            case "start": self = .start
            default: self = .other(raw)
            }
        }

        /// `kill` (with its signal), `stop` and `destroy` come from a request to the engine's
        /// API: a person or a script, not the program crashing. A container that exits on its
        /// own sends only `die`, and the kernel's OOM killer sends `oom`; those count towards a
        /// crash loop.
        public var isOutsideDisruption: Bool { self == .kill || self == .stop || self == .destroy }

        /// The container may no longer be as desired: look again.
        public var needsAPass: Bool {
            switch self {
            case .other, .start: return false
            default: return true
            }
        }

        /// The container is no longer running (or no longer there) once the engine has finished
        /// handling this event.
        public var meansDown: Bool { self == .die || self == .oom || self == .stop || self == .destroy }
    }
}

/// A live feed of container events for one environment; the controller reacts to it.
public protocol EngineEventSource: Sendable {
    /// Events from `since` on (replayed by the engine), so nothing that happens while the
    /// subscription is being set up is missed.
    func events(environment: String, since: Double?) -> AsyncThrowingStream<EngineEvent, Error>
}

/// A chunk of a container's output: `stream` 1 is stdout, 2 is stderr.
public typealias OutputFrame = (stream: UInt8, payload: Data)

/// Output and interactive work on an engine's containers: `logs` and `exec`. Part of the engine
/// seam, so a second engine implementation needs nothing from the front ends.
public protocol ContainerStreams: Sendable {
    /// Follows or dumps a container's output. `since`: unix seconds.
    func logs(_ container: String, follow: Bool, tail: Int?, since: String?) -> AsyncThrowingStream<OutputFrame, Error>
    /// Runs a command and streams its output; the exit code comes from `execExitCode` afterwards.
    func execStream(_ container: String, command: [String], options: ProcessOptions) async throws -> (id: String, output: AsyncThrowingStream<OutputFrame, Error>)
    func execExitCode(_ id: String) async throws -> Int
    /// Runs a command under a terminal, wired to `session`'s bytes both ways; the exit code comes
    /// from `execExitCode` once the output ends.
    func execAttached(_ container: String, command: [String], options: ProcessOptions, size: TerminalSize?) async throws -> (id: String, session: AttachedSession)
    /// Attaches to a created container that has a terminal (`Workload.terminal`), before it starts.
    func attach(_ id: String) async throws -> AttachedSession
    /// Tells a container's terminal its new size (after it started).
    func resizeContainer(_ id: String, to size: TerminalSize) async throws
}

extension ContainerStreams {
    public func execStream(_ container: String, command: [String], workingDir: String?) async throws -> (id: String, output: AsyncThrowingStream<OutputFrame, Error>) {
        try await execStream(container, command: command, options: ProcessOptions(workingDir: workingDir))
    }
}

/// What a command run in a container gets besides its arguments.
public struct ProcessOptions: Sendable, Equatable {
    public var workingDir: String?
    public var user: String?
    /// Added to the container's own variables.
    public var env: [String: String]
    public init(workingDir: String? = nil, user: String? = nil, env: [String: String] = [:]) {
        self.workingDir = workingDir
        self.user = user
        self.env = env
    }
}

public struct TerminalSize: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }
}

/// A process attached to a terminal: raw bytes out, keystrokes in, and a size that follows the
/// user's window. The output ends when the process does.
public struct AttachedSession: Sendable {
    public var output: AsyncThrowingStream<Data, Error>
    public var send: @Sendable (Data) -> Void
    /// The keyboard's end (Ctrl-D on an empty line is the process's business, not this).
    public var closeInput: @Sendable () -> Void
    public var resize: @Sendable (TerminalSize) async -> Void
    /// Drops the connection.
    public var close: @Sendable () -> Void
    public init(output: AsyncThrowingStream<Data, Error>, send: @escaping @Sendable (Data) -> Void, closeInput: @escaping @Sendable () -> Void,
                resize: @escaping @Sendable (TerminalSize) async -> Void, close: @escaping @Sendable () -> Void) {
        self.output = output
        self.send = send
        self.closeInput = closeInput
        self.resize = resize
        self.close = close
    }
}

extension ContainerEngine {
    public var remoteHost: String? { nil }
    public var takesFilesAtCreation: Bool { false }
    public func update(_ id: String, to workload: Workload) async throws -> String? { nil }
    public func renameContainer(_ id: String, to name: String) async throws -> Bool { false }
    public func missingBindSources(_ sources: [String], image: String) async -> Set<String> { [] }
}
