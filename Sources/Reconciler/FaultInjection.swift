import Foundation

/// Named points where a test can kill devstack, to prove that the next apply converges and that
/// nothing is lost. Test-only: switched on by `DEVSTACK_FAULT=POINT` or `POINT:NAME` (a service
/// or seed), documented in docs/reliability.md. Unset, `reach` is one comparison.
public enum FaultPoint: String, Sendable, CaseIterable {
    /// The revision is recorded; nothing has touched the engine.
    case afterRecord = "after-record"
    /// A container is created but not started.
    case afterCreate = "after-create"
    /// A container is started, its readiness not yet known.
    case afterStart = "after-start"
    /// A seed run is open in the ledger and its command has not finished.
    case midSeed = "mid-seed"
    /// A volume has been recreated empty and the snapshot is not yet written into it.
    case midRestore = "mid-restore"
}

public enum FaultInjection {
    /// Compiled only into debug builds (the ones the tests run): a release binary has no switch
    /// that an environment variable could use to kill it.
    static let armed: (point: String, name: String?)? = {
        #if !DEBUG
        return nil
        #else
        guard let value = ProcessInfo.processInfo.environment["DEVSTACK_FAULT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : nil)
        #endif
    }()

    /// Kills the process with SIGKILL, as a power cut or `kill -9` would, when `point` is armed.
    public static func reach(_ point: FaultPoint, _ name: String? = nil) {
        guard let armed, armed.point == point.rawValue, armed.name == nil || armed.name == name else { return }
        FileHandle.standardError.write(Data("devstack: fault injection: killed at \(point.rawValue)\(name.map { ":\($0)" } ?? "")\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
