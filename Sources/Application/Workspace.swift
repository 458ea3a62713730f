import DockerEngine
import EnvSpec
import Foundation
import HostFiles
import Reconciler
import StateStore

/// What a use case tells whoever runs it, as it goes: the CLI prints it, the dashboard streams it.
public enum ProgressEvent: Sendable {
    /// A plan step started or finished.
    case step(Plan.Step, StepPhase)
    /// A seed ran, was skipped, failed or was blocked.
    case seed(SeedOutcome)
    /// A sentence for the person: what happened, at what weight.
    case note(Note)
    /// bisect tested a revision: good, bad or skipped, with the test's exit code or the reason.
    case tested(revision: Int, verdict: BisectSearch.Verdict, detail: String)
    /// Bytes of a long copy (a snapshot saved or restored) so far, for a progress line.
    case transfer(Transfer)
}

public struct Transfer: Sendable, Equatable {
    /// What is being copied, such as "mysql-data".
    public var label: String
    public var bytes: Int
    public var elapsed: Duration
    /// The last report of this copy.
    public var finished: Bool
    /// The size being copied, when known (a download, an upload): a bar can be drawn.
    public var total: Int? = nil

    /// Bytes per second so far.
    public var rate: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(bytes) / seconds : 0
    }
}

public struct Note: Sendable, Equatable {
    public enum Weight: Sendable, Equatable {
        case info
        /// `headline` is the part to stand out (green on a terminal), `rest` follows it.
        case success(rest: String)
        case warning
        case error
        /// Meta information for stderr (headers, consent lists), never data.
        case aside
    }
    public var text: String
    public var weight: Weight
    public init(_ text: String, _ weight: Weight = .info) {
        self.text = text
        self.weight = weight
    }
}

public typealias ProgressSink = @Sendable (ProgressEvent) -> Void

extension ProgressEvent {
    public static func info(_ text: String) -> ProgressEvent { .note(Note(text)) }
    public static func success(_ headline: String, _ rest: String = "") -> ProgressEvent { .note(Note(headline, .success(rest: rest))) }
    public static func warning(_ text: String) -> ProgressEvent { .note(Note(text, .warning)) }
    public static func error(_ text: String) -> ProgressEvent { .note(Note(text, .error)) }
    public static func aside(_ text: String) -> ProgressEvent { .note(Note(text, .aside)) }
}

/// A use case failed in a way the person can act on. `details` come before the message (one
/// line each); `invalidInput` marks a refusal of what was given (exit code 2) rather than a
/// failure of the operation (exit code 1).
public struct UseCaseError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var details: [String]
    public var invalidInput: Bool
    public init(_ message: String, details: [String] = [], invalidInput: Bool = false) {
        self.message = message
        self.details = details
        self.invalidInput = invalidInput
    }
    public var description: String { message }
}

/// The state database and the engine this process works with: where every use case starts.
public struct Workspace: Sendable {
    public let store: StateStore
    public let path: String

    public enum Access: Sendable {
        /// Create the database on first use.
        case write
        /// An existing database, for writing.
        case existing
        /// An existing database, read-only: its bytes stay as they are.
        case read
    }

    public init(store: StateStore, path: String) {
        self.store = store
        self.path = path
    }

    public static func open(path: String, access: Access) throws -> Workspace {
        switch access {
        case .write: return Workspace(store: try StateStore.open(path: path), path: path)
        case .read: return Workspace(store: try StateStore.openReadOnly(path: path), path: path)
        case .existing:
            guard FileManager.default.fileExists(atPath: path) else { throw StoreError.empty }
            return Workspace(store: try StateStore.open(path: path), path: path)
        }
    }

    /// The environment a command acts on: the one named, or the only one there is.
    public func environment(_ requested: String?) throws -> String { try store.resolveEnvironment(requested) }

    /// The live engine, from DOCKER_HOST or the default socket.
    public static func liveEngine() throws -> DockerContainerEngine {
        DockerContainerEngine(client: try DockerClient.fromEnvironment())
    }

    /// The engine an environment of `kind` runs on: the same Docker endpoint, as one engine or
    /// as the manager of a swarm.
    public static func liveEngine(_ kind: EngineKind) throws -> any ContainerEngine {
        switch kind {
        case .docker: return try liveEngine()
        case .swarm: return try swarmEngine()
        }
    }

    /// The live engine as a swarm's manager.
    public static func swarmEngine() throws -> SwarmServiceEngine { SwarmServiceEngine(client: try DockerClient.fromEnvironment()) }

    /// The engine kind of an environment's newest revision (docker when none is recorded).
    public func engineKind(_ environment: String) -> EngineKind {
        ((try? store.revision(environment: environment))?.spec.engine) ?? .docker
    }

    /// Work only one Docker engine can do, and why a swarm cannot.
    public enum DockerOnly: Sendable {
        case snapshot, controller, watch

        var what: String {
            switch self {
            case .snapshot: return "a snapshot"
            case .controller: return "a controller"
            case .watch: return "watch"
            }
        }

        var reason: String {
            switch self {
            case .snapshot: return "a volume lives on the node that ran its task, which the manager's API does not reach"
            case .controller: return "the swarm restarts and replaces its tasks itself, and devstack status shows what it did"
            case .watch: return "a task's files live on the node that runs it"
            }
        }
    }

    /// Refuses `work` for an environment on the swarm engine, before anything is touched.
    public func requireDockerEngine(_ environment: String, for work: DockerOnly) throws {
        guard engineKind(environment) == .docker else {
            throw UseCaseError("\(work.what) is not supported on the swarm engine, where \(environment) runs: \(work.reason); nothing was changed")
        }
    }

    /// `contextMonitor`: asked before a build context is walked; by default a running
    /// `devstack fsmonitor` for this state database, if one answers.
    public func reconciler(_ kind: EngineKind = .docker, contextMonitor: (any ContextMonitoring)? = nil) throws -> Reconciler {
        let monitor = contextMonitor ?? ContextMonitorSocket.Client(socketPath: ContextMonitorSocket.path(forStore: path))
        return Reconciler(engine: try Self.liveEngine(kind), records: store, host: LocalHost(contextIndex: store, contextMonitor: monitor))
    }

    public var leases: StoreLeases { StoreLeases(store) }

    /// An executor that reports its steps to `sink` and writes each to the event log.
    /// `parallel` engine operations at once, or (nil) the level the engine's measured throughput
    /// chooses (ParallelismTuner).
    public func executor(_ reconciler: Reconciler, timeoutSeconds: Int?, parallel: Int?, sink: @escaping ProgressSink, quiet: Bool = false) -> Executor {
        Executor(engine: reconciler.engine, maxParallel: parallelism(parallel, reconciler).parallel, progress: quiet ? SilentProgress() : SinkProgress(sink: sink),
                 recordEvent: store.sink { sink(.warning($0)) }, timeout: timeoutSeconds.map { .seconds($0) })
    }

    /// Throughput is measured per Docker engine, named by its endpoint; a swarm's services are
    /// updated in place and not measured.
    func throughputKey(_ reconciler: Reconciler) -> String? {
        (reconciler.engine as? DockerContainerEngine)?.client.endpoint
    }

    public func parallelism(_ requested: Int?, _ reconciler: Reconciler) -> ParallelismTuner.Choice {
        if let requested { return ParallelismTuner.Choice(parallel: requested, reason: "--parallel") }
        let samples = throughputKey(reconciler).flatMap { try? store.throughput(engine: $0) } ?? []
        return ParallelismTuner.choose(samples)
    }

    /// Runs work that must not overlap an apply, a seed run or a controller: it refuses at once,
    /// rather than waiting, when another process holds the environment.
    public func exclusively<T: Sendable>(_ environment: String, as holder: LeaseHolderKind, _ body: () async throws -> T) async throws -> T {
        let holderID = LeaseHolder.id()
        switch try leases.acquire(environment: environment, holder: holder, holderID: holderID, ttl: 3600) {
        case let .heldBy(lease):
            throw UseCaseError("cannot run \(holder.rawValue) now: \(lease.holder) \(lease.holderID) holds \(environment) since \(lease.acquiredAt); "
                + "nothing was changed. Try again when it has finished (devstack unlock --env \(environment) if that process is gone)")
        case .acquired:
            defer { try? leases.release(environment: environment, holderID: holderID) }
            return try await body()
        }
    }
}

/// Plan steps as progress events.
struct SinkProgress: ProgressReporter {
    let sink: ProgressSink
    func report(_ step: Plan.Step, _ phase: StepPhase) { sink(.step(step, phase)) }
}
