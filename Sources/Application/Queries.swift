import EnvSpec
import Foundation
import Reconciler
import StateStore

// Read-only questions the front ends ask of recorded state: history, revisions, events,
// snapshots. They go through the workspace, so the CLI and the dashboard never touch the store.
extension Workspace {
    public var location: String { store.location }
    public func revision(environment: String, number: Int? = nil) throws -> StoredRevision { try store.revision(environment: environment, number: number) }
    public func latestNumber(environment: String) throws -> Int? { try store.latestNumber(environment: environment) }
    public func history(environment: String, limit: Int? = nil, before: Int? = nil) throws -> [RevisionSummary] {
        try store.history(environment: environment, limit: limit, before: before)
    }
    public func events(environment: String, afterID: Int64 = 0, limit: Int = 1000) throws -> [EventRecord] {
        try store.events(environment: environment, afterID: afterID, limit: limit)
    }
    public func snapshots(environment: String) throws -> [SnapshotRecord] { try store.snapshots(environment: environment) }
    public func snapshot(environment: String, name: String) throws -> SnapshotRecord { try store.snapshot(environment: environment, name: name) }
    /// Removes a lease whatever holds it (`devstack unlock`).
    public func breakLease(environment: String) throws -> Lease? { try store.breakLease(environment: environment) }

    /// What converging `stored` would do now, observed on the live engine: `diff` and `status`.
    public func plan(_ stored: StoredRevision) async throws -> (desired: DesiredState, observed: ObservedState, plan: Plan) {
        let reconciler = try self.reconciler(stored.spec.engine)
        let desired = try reconciler.desiredState(stored)
        let observed = try await reconciler.observe(desired)
        return (desired, observed, try reconciler.plan(desired, observed: observed))
    }
}

/// What `apply` would do now: `diff` without revisions, and `diff -f FILE`.
public enum PlanUseCase {
    /// `draft`: an environment file's spec and folder, planned as the next revision without
    /// recording it; nil plans the newest recorded revision.
    public static func run(statePath: String, environment: String?, draft: (EnvironmentSpec, String)?) async throws -> (StoredRevision, Plan) {
        let workspace: Workspace
        let stored: StoredRevision
        if let (spec, projectDirectory) = draft {
            workspace = FileManager.default.fileExists(atPath: statePath)
                ? try Workspace.open(path: statePath, access: .read) : Workspace(store: try StateStore.inMemory(), path: ":memory:")
            let next = ((try? workspace.latestNumber(environment: spec.name)) ?? nil).map { $0 + 1 } ?? 1
            stored = .draft(spec, number: next, projectDirectory: projectDirectory)
        } else {
            workspace = try Workspace.open(path: statePath, access: .read)
            stored = try workspace.revision(environment: try workspace.environment(environment))
        }
        return (stored, try await workspace.plan(stored).plan)
    }
}
