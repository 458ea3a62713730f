import DockerEngine
import Foundation
import Reconciler
import StateStore

extension EngineError: UserFacingError {}
extension DesiredState.ResolveError: UserFacingError {}

enum EngineFactory {
    static func live() throws -> DockerContainerEngine {
        DockerContainerEngine(client: try DockerClient.fromEnvironment())
    }

    static func reconciler(store: StateStore) throws -> Reconciler {
        Reconciler(engine: try live(), store: store, host: LocalHost())
    }
}


extension Executor {
    /// An executor that prints progress and writes every step to the store's event log.
    static func cli(engine: any ContainerEngine, store: StateStore, timeoutSeconds: Int?, parallel: Int, quiet: Bool = false) -> Executor {
        Executor(engine: engine, maxParallel: parallel, progress: quiet ? SilentProgress() : ConsoleProgress(),
                 recordEvent: Reconciler.recordingEvents(to: store) { Terminal.warn($0) },
                 deadline: timeoutSeconds.map { ContinuousClock.now + .seconds($0) })
    }
}
