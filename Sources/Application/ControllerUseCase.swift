import EnvSpec
import Reconciler
import StateStore

/// `devstack controller`: the environment's controller, wired to the store and the live engine.
public enum ControllerUseCase {
    public static func make(workspace: Workspace, environment: String, resync: Duration, sink: @escaping ProgressSink,
                            log: @escaping @Sendable (String) -> Void) throws -> EnvironmentController {
        var settings = ControllerSettings()
        settings.resync = resync
        let reconciler = try workspace.reconciler()
        return EnvironmentController(reconciler: reconciler, leases: workspace.leases, interrupted: SnapshotManager(reconciler, catalog: workspace.store),
                                     environment: environment, holderID: LeaseHolder.id(), settings: settings,
                                     progress: SinkProgress(sink: sink), log: log)
    }
}
