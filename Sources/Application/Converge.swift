import DockerEngine
import EnvSpec
import Foundation
import Reconciler
import StateStore

/// How a converge runs: shared by apply, rollback, snapshot and seed.
public struct ConvergeSettings: Sendable {
    public var timeoutSeconds = 300
    /// Engine operations at once; nil: the level the engine's measured throughput chooses.
    public var parallel: Int?
    /// When a controller holds the environment, return once the revision is recorded.
    public var noWait = false
    /// Run images by their recorded digests even if their tags moved.
    public var locked = false
    public init(timeoutSeconds: Int = 300, parallel: Int? = nil, noWait: Bool = false, locked: Bool = false) {
        self.timeoutSeconds = timeoutSeconds
        self.parallel = parallel
        self.noWait = noWait
        self.locked = locked
    }
}

/// Converges the engine to a recorded revision: the use case behind apply and rollback.
///
/// Takes the environment's lease, so two applies, or an apply and a controller, never act at
/// once. A controller that holds it converges the revision itself; this waits for that.
public struct ConvergeUseCase: Sendable {
    public var workspace: Workspace
    public var environment: String
    public var revision: Int
    public var settings: ConvergeSettings
    /// Services to converge, dependencies included; nil for all.
    public var only: Set<String>?
    public var sink: ProgressSink
    /// The caller already found the engine out of step (`apply`'s read-only check): go straight
    /// to the lease instead of observing again.
    var knownOutOfStep = false
    var store: StateStore { workspace.store }

    public init(workspace: Workspace, environment: String, revision: Int, settings: ConvergeSettings, only: Set<String>? = nil, sink: @escaping ProgressSink) {
        self.workspace = workspace
        self.environment = environment
        self.revision = revision
        self.settings = settings
        self.only = only
        self.sink = sink
    }

    public func run(timeline: any Timeline = .system) async throws {
        if !knownOutOfStep, let upToDate = try await upToDateWithoutWriting() { return sink(.info(upToDate)) }
        let holderID = LeaseHolder.id()
        let deadline = timeline.now + .seconds(settings.timeoutSeconds)
        var announced = false
        while true {
            switch try workspace.leases.acquire(environment: environment, holder: .apply, holderID: holderID, ttl: Double(settings.timeoutSeconds) + 60) {
            case .acquired:
                defer { try? workspace.leases.release(environment: environment, holderID: holderID) }
                return try await converge()
            case let .heldBy(lease) where lease.holderKind == .controller:
                if settings.noWait {
                    return sink(.info("controller \(lease.holderID) holds \(environment): it will converge revision \(revision)"))
                }
                sink(.info("controller \(lease.holderID) holds \(environment): waiting for it to converge revision \(revision) (--no-wait returns at once)"))
                return try await waitForController(deadline: deadline, timeline: timeline)
            case let .heldBy(lease):
                if !announced {
                    sink(.info("waiting for \(lease.holder) \(lease.holderID) to finish with \(environment)"))
                    announced = true
                }
                guard timeline.now < deadline else { throw LeaseHeldError(lease: lease) }
                try await timeline.sleep(for: .milliseconds(200))
            }
        }
    }

    /// A no-op apply writes nothing, not even the lease: when the revision is the one last
    /// converged, nobody holds the environment, no restore or seed is pending and the engine
    /// already matches, it says so and returns. Anything else takes the lease and converges.
    /// Returns the line to say, or nil when the lease must be taken. Reads only, so it works on a
    /// workspace opened read-only.
    func upToDateWithoutWriting() async throws -> String? {
        let started = ContinuousClock.now
        let store = workspace.store
        guard only == nil, !settings.locked, try store.currentLease(environment: environment) == nil,
              try store.pendingRestore(environment: environment) == nil else { return nil }
        let stored = try store.revision(environment: environment)
        guard stored.summary.number == revision, stored.summary.source != .import, stored.spec.seeds.isEmpty,
              try store.lastApply(environment: environment, convergedOnly: true)?.revision == revision else { return nil }
        let reconciler = try workspace.reconciler(stored.spec.engine)
        let desired = try reconciler.desiredState(stored)
        let plan = try reconciler.plan(desired, observed: try await reconciler.observe(desired))
        guard plan.isEmpty, plan.problems.isEmpty else { return nil }
        return "\(environment) is up to date at revision \(revision): nothing to do (\(stored.spec.services.count) services, \(Elapsed.since(started)))"
    }

    func waitForController(deadline: Duration, timeline: any Timeline) async throws {
        while timeline.now < deadline {
            if let applied = try store.lastApply(environment: environment, convergedOnly: true), applied.revision >= revision {
                return sink(.success("the controller converged \(environment) to revision \(revision)"))
            }
            let blocked = try store.events(environment: environment, limit: 20).last {
                $0.action == EventAction.reconcile.rawValue && $0.revision == revision && $0.outcome == EventOutcome.failed.rawValue
            }
            if let blocked {
                throw UseCaseError("the controller cannot converge revision \(revision): \(blocked.detail ?? blocked.cause)")
            }
            try await timeline.sleep(for: .milliseconds(200))
        }
        throw UseCaseError("the controller did not converge \(environment) to revision \(revision) within \(settings.timeoutSeconds)s; see devstack status and devstack events")
    }

    func converge() async throws {
        let started = ContinuousClock.now
        // Level-based, like the controller: whoever holds the lease converges to the newest
        // revision, so concurrent applies end at the last one recorded.
        let stored = try store.revision(environment: environment)
        let revision = stored.summary.number
        if revision > self.revision {
            sink(.info("revision \(revision) was recorded while waiting; converging to it, the newest desired state"))
        }
        let reconciler = try workspace.reconciler(stored.spec.engine)
        let executor = workspace.executor(reconciler, timeoutSeconds: settings.timeoutSeconds, parallel: settings.parallel, sink: sink)
        if let resumed = try await SnapshotManager(reconciler, catalog: store).resume(desired: try reconciler.desiredState(stored), executor: executor) {
            sink(.info("finished an interrupted restore of \(resumed)"))
        }
        let locks = try chooseLocks(stored)
        let outcome = try await reconciler.apply(stored, executor: executor, only: only, locks: locks)
        if let sample = outcome.report.throughput, let engine = workspace.throughputKey(reconciler) {
            // A measurement that cannot be kept costs the next apply a guess, not this one its result.
            try? store.recordThroughput(engine: engine, sample)
        }
        // A no-op changed no image, so the lock taken when it last changed still holds.
        if outcome.converged, only == nil, !outcome.plan.isEmpty, let desired = outcome.desired { try await recordLock(desired, previous: locks, reconciler: reconciler) }
        let seconds = Elapsed.since(started)
        if !outcome.plan.problems.isEmpty {
            throw UseCaseError("nothing was changed; revision \(revision) stays recorded as the desired state of \(environment)", details: outcome.plan.problems)
        }
        if outcome.plan.isEmpty {
            sink(.info("\(environment) is up to date at revision \(revision): nothing to do (\(stored.spec.services.count) services, \(seconds))"))
            return try await runSeeds(stored, reconciler: reconciler, desired: outcome.desired)
        }
        let failures = outcome.report.failures
        let skipped = outcome.report.outcomes.values.filter { if case .skipped = $0 { return true } else { return false } }.count
        if failures.isEmpty && skipped == 0 {
            sink(.success("converged \(environment) to revision \(revision)", " in \(seconds) (\(outcome.plan.summary))"))
            return try await runSeeds(stored, reconciler: reconciler, desired: outcome.desired)
        }
        let details = failures.map { failure in
            let step = outcome.plan.steps[failure.step]
            return "\(step.service.map { "\($0): " } ?? "")\(step.action.verb) failed: \(failure.message)"
        }
        throw UseCaseError("\(environment) did not converge to revision \(revision) (\(failures.count) failed, \(skipped) skipped); see devstack status and devstack events", details: details)
    }

    /// An imported revision runs by the digests it came with; `--locked` runs by the newest
    /// digests recorded for each service.
    func chooseLocks(_ stored: StoredRevision) throws -> [String: ImageLock] {
        guard settings.locked || stored.summary.source == .import else { return [:] }
        let own = try store.lock(environment: environment, revision: stored.summary.number)
        if !own.isEmpty {
            sink(.info("running revision \(stored.summary.number) by its locked digests (\(own.count) image(s))"))
            return own
        }
        guard settings.locked else { return [:] }
        let inherited = try store.latestLocks(environment: environment, upTo: stored.summary.number)
            .filter { stored.spec.services[$0.key]?.image == $0.value.reference }
        let missing = stored.spec.services.filter { $0.value.build == nil && inherited[$0.key] == nil }.keys.sorted()
        if !missing.isEmpty {
            throw UseCaseError("--locked: no digest is recorded for \(missing.joined(separator: ", ")) with its current image; apply once without --locked to record one", invalidInput: true)
        }
        sink(.info("running by locked digests (\(inherited.count) image(s))"))
        return inherited
    }

    /// Pins the revision to what it ran with, and says which tags moved since the last pin.
    func recordLock(_ desired: DesiredState, previous: [String: ImageLock], reconciler: Reconciler) async throws {
        let now = await reconciler.currentLocks(desired)
        let before = previous.isEmpty ? try store.latestLocks(environment: environment, upTo: desired.revision) : previous
        for (service, lock) in now.sorted(by: { $0.key < $1.key }) {
            if let old = before[service], old.reference == lock.reference, old.digest != lock.digest {
                sink(.warning("\(service): the tag \(lock.reference) moved: it was \(ImageLock.short(old.digest)), it is now \(ImageLock.short(lock.digest)) (apply --locked runs the recorded digest)"))
            }
        }
        try store.recordLock(environment: environment, revision: desired.revision, now)
    }

    /// Seeds run once the environment has converged; the ledger skips what is unchanged.
    func runSeeds(_ stored: StoredRevision, reconciler: Reconciler, desired: DesiredState?) async throws {
        let seeds = only.map { stored.spec.seeds(for: $0) } ?? Set(stored.spec.seeds.keys)
        guard !seeds.isEmpty else { return }
        try await SeedUseCase.run(stored: stored, reconciler: reconciler, store: store, desired: desired, only: only == nil ? [] : seeds, force: false, sink: sink)
    }
}

/// Runs seeds now: after an apply, or on their own (`devstack seed`).
public enum SeedUseCase {
    public static func run(workspace: Workspace, environment: String, seeds: Set<String>, force: Bool, sink: @escaping ProgressSink) async throws {
        let stored = try workspace.store.revision(environment: environment)
        guard !stored.spec.seeds.isEmpty else { return sink(.info("\(environment) declares no seeds")) }
        let reconciler = try workspace.reconciler(stored.spec.engine)
        try await workspace.exclusively(environment, as: .seed) {
            try await run(stored: stored, reconciler: reconciler, store: workspace.store, only: seeds, force: force, sink: sink)
        }
    }

    static func run(stored: StoredRevision, reconciler: Reconciler, store: StateStore, desired resolved: DesiredState? = nil,
                    only: Set<String>, force: Bool, sink: @escaping ProgressSink) async throws {
        let desired = try resolved ?? reconciler.desiredState(stored)
        // On the swarm engine a seed runs on the manager's node: in a service's task there, or
        // in a one-off container there on the attachable overlay.
        var seeding = reconciler
        if let swarm = reconciler.engine as? SwarmServiceEngine { seeding.engine = swarm.managerNode }
        let runner = SeedRunner(seeding, store: store)
        let outcomes = try await runner.run(desired, projectDirectory: stored.summary.projectDirectory ?? FileManager.default.currentDirectoryPath,
                                            only: only, force: force, secrets: desired.secretValues) { sink(.seed($0)) }
        let bad = outcomes.filter(\.status.isFailure)
        if !bad.isEmpty {
            throw UseCaseError("\(bad.count) seed(s) did not succeed (\(bad.map(\.name).joined(separator: ", "))); devstack status shows the ledger")
        }
    }
}

/// "1.23s", for progress lines.
public enum Elapsed {
    public static func since(_ start: ContinuousClock.Instant) -> String {
        String(format: "%.2fs", Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000)
    }
}
