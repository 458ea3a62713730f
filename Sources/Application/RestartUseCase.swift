import DockerEngine
import EnvSpec
import Foundation
import Reconciler
import StateStore

/// Restarts one service's container (stop, then start), as `docker compose restart` does. It
/// changes neither the desired state nor the plan, so it takes no lease: a controller that holds
/// the environment sees the stop as an outside disruption and forgives it.
public enum RestartUseCase {
    public static func run(workspace: Workspace, environment env: String, service: String, sink: @escaping ProgressSink) async throws {
        let stored = try workspace.store.revision(environment: env)
        guard stored.spec.services[service] != nil else { throw UseCaseError("no service named \"\(service)\" in \(env)", invalidInput: true) }
        if stored.spec.engine == .swarm { return try await restartService(workspace: workspace, stored: stored, service: service, sink: sink) }
        let engine = try Workspace.liveEngine()
        let container = Naming.container(env, service)
        let started = ContinuousClock.now
        sink(.info("stopping \(container)"))
        do {
            try await engine.stopContainer(container, timeoutSeconds: 10)
            sink(.info("starting \(container)"))
            try await engine.startContainer(container)
        } catch let error as EngineError where error.kind == .notFound {
            throw UseCaseError("\(service) has no container: apply the environment first")
        }
        let ms = (ContinuousClock.now - started).milliseconds
        try? workspace.store.appendEvent(EventRecord(environment: env, revision: stored.summary.number, service: service, action: "restart",
                                                     cause: "restarted by request", outcome: EventOutcome.ok.rawValue, durationMs: ms))
        sink(.success("restarted \(service)", " in \(Elapsed.since(started))"))
    }

    /// On the swarm engine: new tasks for the service (`docker service update --force`).
    static func restartService(workspace: Workspace, stored: StoredRevision, service: String, sink: @escaping ProgressSink) async throws {
        let name = Naming.container(stored.summary.environment, service)
        let started = ContinuousClock.now
        sink(.info("replacing the tasks of \(name)"))
        do {
            try await Workspace.swarmEngine().restart(name)
        } catch let error as EngineError where error.kind == .notFound {
            throw UseCaseError("\(service) has no service: apply the environment first")
        }
        sink(.success("restarted \(service)", " in \(Elapsed.since(started))"))
    }
}
