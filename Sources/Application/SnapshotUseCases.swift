import DockerEngine
import EnvSpec
import Foundation
import Reconciler
import StateStore

/// snapshot save, restore and rm; rollback --with-data restores through here too.
public enum SnapshotUseCases {
    public static func save(workspace: Workspace, environment env: String, name: String, service: String?, volume: String?,
                            settings: ConvergeSettings, sink: @escaping ProgressSink) async throws {
        let store = workspace.store
        try workspace.requireDockerEngine(env, for: .snapshot)
        let stored = try store.revision(environment: env)
        let volumes = try SnapshotManager.volumes(in: stored.spec, service: service, volume: volume)
        let started = ContinuousClock.now
        let reconciler = try workspace.reconciler()
        let record = try await workspace.exclusively(env, as: .snapshotSave) {
            var manager = SnapshotManager(reconciler, catalog: store)
            manager.progress = sink
            return try await manager.save(
                name: name, volumes: volumes, desired: try reconciler.desiredState(stored),
                executor: workspace.executor(reconciler, timeoutSeconds: settings.timeoutSeconds, parallel: settings.parallel, sink: sink, quiet: true))
        }
        sink(.success("saved snapshot \(name)", " of \(env) at revision \(stored.summary.number) in \(Elapsed.since(started))"))
        for v in record.volumes { sink(.info("  \(v.volume): \(Bytes.format(v.bytes)) sha256 \(v.sha256)")) }
    }

    /// Restores a recorded snapshot. `SnapshotManager.restore` checks every archive before it
    /// touches anything. `revision`: the revision to converge to afterwards (the newest when nil).
    public static func restore(workspace: Workspace, environment env: String, snapshot record: SnapshotRecord, revision: Int?,
                               settings: ConvergeSettings, sink: @escaping ProgressSink) async throws {
        let store = workspace.store
        try workspace.requireDockerEngine(env, for: .snapshot)
        let reconciler = try workspace.reconciler()
        var manager = SnapshotManager(reconciler, catalog: store)
        manager.progress = sink
        let sources = manager.sources(record)
        let stored = try store.revision(environment: env, number: revision)
        let started = ContinuousClock.now
        let outcome = try await workspace.exclusively(env, as: .snapshotRestore) {
            // Archives in the catalog had their entries checked when saved or imported.
            try await manager.restore(sources, label: "snapshot \"\(record.name)\"", desired: try reconciler.desiredState(stored),
                                      executor: workspace.executor(reconciler, timeoutSeconds: settings.timeoutSeconds, parallel: settings.parallel, sink: sink),
                                      checkEntries: false)
        }
        guard outcome.converged else {
            throw UseCaseError("the volumes of snapshot \(record.name) were restored, but \(env) did not come back healthy; see devstack status",
                               details: outcome.report.failures.map(\.message) + outcome.plan.problems)
        }
        sink(.success("restored snapshot \(record.name)", " (\(record.volumes.map(\.volume).joined(separator: ", "))) into \(env) at revision \(stored.summary.number) in \(Elapsed.since(started))"))
    }

    public static func restore(workspace: Workspace, environment env: String, name: String, settings: ConvergeSettings, sink: @escaping ProgressSink) async throws {
        try await restore(workspace: workspace, environment: env, snapshot: try workspace.store.snapshot(environment: env, name: name),
                          revision: nil, settings: settings, sink: sink)
    }

    /// Forgets a snapshot and deletes its archives; needs no engine.
    public static func remove(workspace: Workspace, environment: String, name: String) throws {
        try SnapshotManager.remove(store: workspace.store, environment: environment, name: name)
    }
}

/// Records a new revision with an older one's desired state, then converges to it; with data,
/// restores the snapshot taken at that revision as well.
public enum RollbackUseCase {
    public static func run(workspace: Workspace, environment env: String, to revision: Int, withData: Bool, recordOnly: Bool,
                           settings: ConvergeSettings, sink: @escaping ProgressSink) async throws {
        let store = workspace.store
        let target = try store.revision(environment: env, number: revision)
        // Find and check the data first, so a missing or damaged snapshot changes nothing.
        var snapshot: SnapshotRecord?
        if withData {
            try workspace.requireDockerEngine(env, for: .snapshot)
            let all = try store.snapshots(environment: env)
            guard let found = all.first(where: { $0.revision == revision }) else {
                let taken = Set(all.compactMap(\.revision).map(String.init)).sorted()
                throw UseCaseError("no snapshot was taken at revision \(revision) of \(env)\(taken.isEmpty ? "" : " (snapshots exist at revisions \(taken.joined(separator: ", ")))"); nothing was changed")
            }
            let manager = SnapshotManager(try workspace.reconciler(), catalog: store)
            try SnapshotManager.verify(manager.sources(found), label: "snapshot \"\(found.name)\"", entries: false)
            snapshot = found
        }
        let meta = RevisionMeta.local(message: "rollback to revision \(revision)", source: .rollback, projectDirectory: target.summary.projectDirectory)
        let outcome = try store.record(target.spec, meta: meta)
        switch outcome {
        case let .recorded(s): sink(.info("recorded revision \(s.number) of \(env): rollback to revision \(revision) (\(s.changes))"))
        case let .unchanged(s): sink(.info("no changes: revision \(s.number) already has the desired state of revision \(revision)"))
        }
        if recordOnly { return }
        if let snapshot {
            sink(.info("restoring snapshot \(snapshot.name) taken at revision \(revision)"))
            return try await SnapshotUseCases.restore(workspace: workspace, environment: env, snapshot: snapshot, revision: outcome.summary.number,
                                                      settings: settings, sink: sink)
        }
        try await ConvergeUseCase(workspace: workspace, environment: env, revision: outcome.summary.number, settings: settings, sink: sink).run()
    }
}

/// Records an environment file as desired state and converges to it.
public enum ApplyUseCase {
    /// Opens the state database at `statePath` read-only first: an apply of the current revision
    /// to an engine that already matches writes nothing at all (opening a database for writing is
    /// itself a write). Otherwise opens it for writing and records and converges.
    public static func run(statePath: String, spec: EnvironmentSpec, projectDirectory: String, message: String, only: [String],
                           recordOnly: Bool, settings: ConvergeSettings, sink: @escaping ProgressSink) async throws {
        if !recordOnly {
            try await requireSwarmManager(spec)
            try await RegistryUseCases.prefetchSeeds(spec, sink: sink)
        }
        var checked = false
        if !recordOnly, only.isEmpty, FileManager.default.fileExists(atPath: statePath),
           let reading = try? Workspace.open(path: statePath, access: .read),
           let current = try? reading.store.revision(environment: spec.name), current.summary.specHash == spec.specHash {
            if let upToDate = try await ConvergeUseCase(workspace: reading, environment: spec.name, revision: current.summary.number,
                                                        settings: settings, sink: sink).upToDateWithoutWriting() {
                sink(.info("no changes: revision \(current.summary.number) of \(spec.name) is current"))
                return sink(.info(upToDate))
            }
            checked = true
        }
        try await run(workspace: try Workspace.open(path: statePath, access: .write), spec: spec, projectDirectory: projectDirectory,
                      message: message, only: only, recordOnly: recordOnly, settings: settings, sink: sink, knownOutOfStep: checked)
    }

    public static func run(workspace: Workspace, spec: EnvironmentSpec, projectDirectory: String, message: String, only: [String],
                           recordOnly: Bool, settings: ConvergeSettings, sink: @escaping ProgressSink, knownOutOfStep: Bool = false) async throws {
        if !recordOnly { try await refuseEngineMove(workspace: workspace, to: spec) }
        let meta = RevisionMeta.local(message: message, source: .apply, projectDirectory: projectDirectory)
        let outcome = try workspace.store.record(spec, meta: meta)
        switch outcome {
        case let .recorded(s): sink(.info("recorded revision \(s.number) of \(s.environment) (\(s.changes.isEmpty ? "no service changes" : s.changes))"))
        case let .unchanged(s): sink(.info("no changes: revision \(s.number) of \(s.environment) is current"))
        }
        FaultInjection.reach(.afterRecord)
        if recordOnly { return }
        let closure = only.isEmpty ? nil : spec.dependencyClosure(of: Set(only))
        if let closure { sink(.info("only \(closure.sorted().joined(separator: ", ")) (--only \(only.joined(separator: ", ")) and what it depends on)")) }
        var converge = ConvergeUseCase(workspace: workspace, environment: spec.name, revision: outcome.summary.number, settings: settings,
                                       only: closure, sink: sink)
        converge.knownOutOfStep = knownOutOfStep
        try await converge.run()
    }
}

extension ApplyUseCase {
    /// An environment that still runs on one engine kind is not moved to the other: the new
    /// engine would not see what the old one runs, and it would be left behind, unmanaged.
    /// A swarm environment needs a manager: refused before a revision is recorded for it, and
    /// before the state database is opened for writing.
    static func requireSwarmManager(_ spec: EnvironmentSpec) async throws {
        guard spec.engine == .swarm else { return }
        do { try await Workspace.swarmEngine().requireManager() } catch let error as EngineError {
            throw UseCaseError(error.message + "; nothing was recorded")
        }
    }

    static func refuseEngineMove(workspace: Workspace, to spec: EnvironmentSpec) async throws {
        let current = workspace.engineKind(spec.name)
        guard current != spec.engine else { return }
        let engine = try Workspace.liveEngine(current)
        let left = (try? await engine.observe(environment: spec.name, containerNames: [], images: []))?.containers ?? []
        guard !left.isEmpty else { return }
        throw UseCaseError("\(spec.name) runs on the \(current.rawValue) engine (\(left.count) \(current == .swarm ? "services" : "containers")), and this apply asks for the \(spec.engine.rawValue) engine: "
            + "run devstack down --env \(spec.name) first, then apply; nothing was changed", invalidInput: true)
    }
}

/// Removes every labelled container and the network (volumes only when asked), under the lease.
public enum DownUseCase {
    public static func run(workspace: Workspace, environment env: String, removeVolumes: Bool, parallel: Int, sink: @escaping ProgressSink) async throws {
        let reconciler = try workspace.reconciler(workspace.engineKind(env))
        let executor = workspace.executor(reconciler, timeoutSeconds: nil, parallel: parallel, sink: sink)
        // Under the environment's lease: a controller would otherwise bring everything back.
        let outcome = try await workspace.exclusively(env, as: .down) {
            try await reconciler.down(environment: env, removeVolumes: removeVolumes, executor: executor)
        }
        let failures = outcome.report.failures
        guard failures.isEmpty else {
            throw UseCaseError("\(env) was not fully removed (\(failures.count) failed)", details: failures.map(\.message))
        }
        sink(.info(outcome.plan.isEmpty ? "\(env): nothing to remove" : "\(env) is down: removed \(outcome.plan.steps.count) objects"))
    }
}
