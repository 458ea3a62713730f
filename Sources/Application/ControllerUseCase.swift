import EnvSpec
import Foundation
import HostFiles
import Reconciler
import StateStore

/// `devstack controller`: the environment's controller, wired to the store and the live engine.
public enum ControllerUseCase {
    public static func make(workspace: Workspace, environment: String, resync: Duration, verbose: Bool = false, sink: @escaping ProgressSink,
                            log: @escaping @Sendable (String) -> Void) throws -> EnvironmentController {
        try workspace.requireDockerEngine(environment, for: .controller)
        var settings = ControllerSettings()
        settings.resync = resync
        settings.verbose = verbose
        // A controller outlives its passes, so it watches its build contexts itself: a pass walks
        // a context only after something in it changed.
        let reconciler = try workspace.reconciler(contextMonitor: ContextMonitor())
        let trim = IdleTrim()
        return EnvironmentController(reconciler: reconciler, leases: workspace.leases, interrupted: SnapshotManager(reconciler, catalog: workspace.store),
                                     environment: environment, holderID: LeaseHolder.id(), settings: settings,
                                     progress: SinkProgress(sink: sink), log: log,
                                     observer: { event in if case .passFinished = event { trim.afterPass() } })
    }

    /// An idle controller should cost next to nothing: after a pass, at most once a minute, the
    /// pages start-up touched and the heap freed since are handed back (see `ResidentMemory`).
    final class IdleTrim: @unchecked Sendable {
        let lock = NSLock()
        var last: ContinuousClock.Instant?

        func afterPass() {
            let now = ContinuousClock.now
            lock.lock()
            defer { lock.unlock() }
            if let last, now - last < .seconds(60) { return }
            last = now
            ResidentMemory.releaseIdlePages()
        }
    }
}
