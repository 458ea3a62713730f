import ArgumentParser
import EnvSpec
import Foundation
import Reconciler
import StateStore

/// Flags shared by the commands that converge the engine.
struct ConvergeOptions: ParsableArguments {
    @Option(name: .long, help: "Give up converging after this many seconds.") var timeout: Int = 300
    @Option(name: .long, help: "How many engine operations run at once.") var parallel: Int = 8
    @Flag(name: .long, help: "When a controller holds the environment, return once the revision is recorded.") var noWait = false
    @Flag(name: .long, help: "Run images by the digests recorded when they were last applied or imported (the lock), even if their tags moved.") var locked = false

    mutating func validate() throws {
        try NumericOption.check(timeout, "--timeout", 1...NumericOption.maxSeconds)
        try NumericOption.check(parallel, "--parallel", 1...256)
    }
}

/// Converges the engine to a recorded revision and reports the result; shared by apply and rollback.
struct ApplyRun {
    var store: StateStore
    var environment: String
    var revision: Int
    var options: ConvergeOptions
    /// Services to converge, dependencies included; nil for all.
    var only: Set<String>? = nil

    /// Takes the environment's lease, so two applies, or an apply and a controller, never act at
    /// once. A controller that holds it converges the revision itself; we wait for that.
    func run() async throws {
        let holderID = LeaseHolder.id()
        let deadline = ContinuousClock.now + .seconds(options.timeout)
        var announced = false
        while true {
            switch try store.acquireLease(environment: environment, holder: "apply", holderID: holderID, ttl: Double(options.timeout) + 60, isAbandoned: LeaseHolder.isGone) {
            case .acquired:
                defer { try? store.releaseLease(environment: environment, holderID: holderID) }
                return try await converge()
            case let .heldBy(lease) where lease.holder == "controller":
                if options.noWait {
                    print("controller \(lease.holderID) holds \(environment): it will converge revision \(revision)")
                    return
                }
                print("controller \(lease.holderID) holds \(environment): waiting for it to converge revision \(revision) (--no-wait returns at once)")
                return try await waitForController(deadline: deadline)
            case let .heldBy(lease):
                if !announced {
                    print("waiting for \(lease.holder) \(lease.holderID) to finish with \(environment)")
                    announced = true
                }
                guard ContinuousClock.now < deadline else { throw LeaseHeldError(lease: lease) }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func waitForController(deadline: ContinuousClock.Instant) async throws {
        while ContinuousClock.now < deadline {
            if let applied = try store.lastApply(environment: environment, convergedOnly: true), applied.revision >= revision {
                print(Terminal.green("the controller converged \(environment) to revision \(revision)"))
                return
            }
            if let blocked = try store.events(environment: environment, limit: 20).last(where: { $0.action == "reconcile" && $0.revision == revision && $0.outcome == "failed" }) {
                throw UserError("the controller cannot converge revision \(revision): \(blocked.detail ?? blocked.cause)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw UserError("the controller did not converge \(environment) to revision \(revision) within \(options.timeout)s; see devstack status and devstack events")
    }

    func converge() async throws {
        let started = ContinuousClock.now
        // Level-based, like the controller: whoever holds the lease converges to the newest
        // revision, so concurrent applies end at the last one recorded.
        let stored = try store.revision(environment: environment)
        let revision = stored.summary.number
        if revision > self.revision {
            print("revision \(revision) was recorded while waiting; converging to it, the newest desired state")
        }
        let reconciler = try EngineFactory.reconciler(store: store)
        let executor = Executor.cli(engine: reconciler.engine, store: store, timeoutSeconds: options.timeout, parallel: options.parallel)
        if try store.pendingRestore(environment: environment) != nil,
           let resumed = try await SnapshotManager(reconciler).resumeInterrupted(desired: try reconciler.desiredState(stored), executor: executor) {
            print("finished an interrupted restore of \(resumed)")
        }
        let locks = try chooseLocks(stored)
        let outcome = try await reconciler.apply(stored, executor: executor, only: only, locks: locks)
        // A no-op changed no image, so the lock taken when it last changed still holds.
        if outcome.converged, only == nil, !outcome.plan.isEmpty, let desired = outcome.desired { try await recordLock(desired, previous: locks, reconciler: reconciler) }
        let seconds = Elapsed.since(started)
        if !outcome.plan.problems.isEmpty {
            for problem in outcome.plan.problems { Terminal.error(problem) }
            throw UserError("nothing was changed; revision \(revision) stays recorded as the desired state of \(environment)")
        }
        if outcome.plan.isEmpty {
            print("\(environment) is up to date at revision \(revision): nothing to do (\(stored.spec.services.count) services, \(seconds))")
            return try await runSeeds(stored, reconciler: reconciler, desired: outcome.desired)
        }
        let failures = outcome.report.failures
        let skipped = outcome.report.outcomes.values.filter { if case .skipped = $0 { return true } else { return false } }.count
        if failures.isEmpty && skipped == 0 {
            print(Terminal.green("converged \(environment) to revision \(revision)") + " in \(seconds) (\(outcome.plan.summary))")
            return try await runSeeds(stored, reconciler: reconciler, desired: outcome.desired)
        }
        for failure in failures {
            let step = outcome.plan.steps[failure.step]
            Terminal.error("\(step.service.map { "\($0): " } ?? "")\(step.action.verb) failed: \(failure.message)")
        }
        throw UserError("\(environment) did not converge to revision \(revision) (\(failures.count) failed, \(skipped) skipped); see devstack status and devstack events")
    }
}

extension ApplyRun {
    /// An imported revision runs by the digests it came with; `--locked` runs by the newest
    /// digests recorded for each service.
    func chooseLocks(_ stored: StoredRevision) throws -> [String: ImageLock] {
        guard options.locked || stored.summary.source == .import else { return [:] }
        let own = try store.lock(environment: environment, revision: stored.summary.number)
        if !own.isEmpty {
            print("running revision \(stored.summary.number) by its locked digests (\(own.count) image(s))")
            return own
        }
        guard options.locked else { return [:] }
        let inherited = try store.latestLocks(environment: environment, upTo: stored.summary.number)
            .filter { stored.spec.services[$0.key]?.image == $0.value.reference }
        let missing = stored.spec.services.filter { $0.value.build == nil && inherited[$0.key] == nil }.keys.sorted()
        if !missing.isEmpty {
            throw UserError("--locked: no digest is recorded for \(missing.joined(separator: ", ")) with its current image; apply once without --locked to record one", exitCode: 2)
        }
        print("running by locked digests (\(inherited.count) image(s))")
        return inherited
    }

    /// Pins the revision to what it ran with, and says which tags moved since the last pin.
    func recordLock(_ desired: DesiredState, previous: [String: ImageLock], reconciler: Reconciler) async throws {
        let now = await reconciler.currentLocks(desired)
        let before = previous.isEmpty ? try store.latestLocks(environment: environment, upTo: desired.revision) : previous
        for (service, lock) in now.sorted(by: { $0.key < $1.key }) {
            if let old = before[service], old.reference == lock.reference, old.digest != lock.digest {
                Terminal.warn("\(service): the tag \(lock.reference) moved: it was \(ImageLock.short(old.digest)), it is now \(ImageLock.short(lock.digest)) (apply --locked runs the recorded digest)")
            }
        }
        try store.recordLock(environment: environment, revision: desired.revision, now)
    }

    /// Seeds run once the environment has converged; the ledger skips what is unchanged.
    func runSeeds(_ stored: StoredRevision, reconciler: Reconciler, desired: DesiredState?) async throws {
        let seeds = only.map { stored.spec.seeds(for: $0) } ?? Set(stored.spec.seeds.keys)
        guard !seeds.isEmpty else { return }
        try await SeedCommandRun.run(stored: stored, reconciler: reconciler, desired: desired, only: only == nil ? [] : seeds, force: false)
    }
}

enum SeedCommandRun {
    static func run(stored: StoredRevision, reconciler: Reconciler, desired resolved: DesiredState? = nil, only: Set<String>, force: Bool) async throws {
        let desired = try resolved ?? reconciler.desiredState(stored)
        let runner = SeedRunner(reconciler)
        let outcomes = try await runner.run(desired, projectDirectory: stored.summary.projectDirectory ?? FileManager.default.currentDirectoryPath,
                                            only: only, force: force, secrets: desired.secretValues) { outcome in
            let time = outcome.durationMs > 0 ? String(format: " %.1fs", Double(outcome.durationMs) / 1000) : ""
            switch outcome.status {
            case "succeeded": print("seed \(outcome.name): " + Terminal.green("ran") + "\(time) (\(outcome.detail))")
            case "skipped": print("seed \(outcome.name): " + Terminal.dim("skipped, \(outcome.detail)"))
            default: print("seed \(outcome.name): " + Terminal.red("\(outcome.status)") + "\(time): \(outcome.detail)")
            }
            Terminal.flush()
        }
        let bad = outcomes.filter { $0.status == "failed" || $0.status == "blocked" }
        if !bad.isEmpty {
            throw UserError("\(bad.count) seed(s) did not succeed (\(bad.map(\.name).joined(separator: ", "))); devstack status shows the ledger")
        }
    }
}

extension HostError: UserFacingError {}

extension Devstack {
    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run seeds now; unchanged seeds that succeeded are skipped unless --force.")

        @Argument(help: "Seeds to run (all when left out).") var seeds: [String] = []
        @Flag(name: .long, help: "Run even when the ledger says the seed is unchanged.") var force = false
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let db = try store.openExisting()
            let env = try db.resolveEnvironment(environment.env)
            let stored = try db.revision(environment: env)
            guard !stored.spec.seeds.isEmpty else { return print("\(env) declares no seeds") }
            let reconciler = try EngineFactory.reconciler(store: db)
            try await ExclusiveLease.run(db, environment: env, holder: "seed") {
                try await SeedCommandRun.run(stored: stored, reconciler: reconciler, only: Set(seeds), force: force)
            }
        }
    }
}

extension Devstack {
    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a new revision with REV's desired state, then converge to it.")

        @Argument(help: "The revision to go back to.") var revision: Int
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions
        @Flag(name: .long, help: "Only record the revision; do not touch the engine.") var recordOnly = false
        @Flag(name: .long, help: "Also restore the newest snapshot taken at REV, so config, images and data go back together.") var withData = false

        func validate() throws {
            if withData && recordOnly { throw ValidationError("--with-data restores volumes, so it cannot go with --record-only") }
        }

        func run() async throws {
            let db = try store.openExisting()
            let env = try db.resolveEnvironment(environment.env)
            let target = try db.revision(environment: env, number: revision)
            // Find and check the data first, so a missing or damaged snapshot changes nothing.
            var snapshot: SnapshotRecord?
            if withData {
                let all = try db.snapshots(environment: env)
                guard let found = all.first(where: { $0.revision == revision }) else {
                    let taken = all.compactMap(\.revision).map(String.init)
                    throw UserError("no snapshot was taken at revision \(revision) of \(env)\(taken.isEmpty ? "" : " (snapshots exist at revisions \(Set(taken).sorted().joined(separator: ", ")))"); nothing was changed")
                }
                let manager = SnapshotManager(try EngineFactory.reconciler(store: db))
                _ = try SnapshotManager.load(manager.sources(found), label: "snapshot \"\(found.name)\"")
                snapshot = found
            }
            let meta = RevisionMeta.local(message: "rollback to revision \(revision)", source: .rollback,
                                          projectDirectory: target.summary.projectDirectory)
            let outcome = try db.record(target.spec, meta: meta)
            switch outcome {
            case let .recorded(s): print("recorded revision \(s.number) of \(env): rollback to revision \(revision) (\(s.changes))")
            case let .unchanged(s): print("no changes: revision \(s.number) already has the desired state of revision \(revision)")
            }
            if recordOnly { return }
            if let snapshot {
                print("restoring snapshot \(snapshot.name) taken at revision \(revision)")
                return try await SnapshotRestore.run(snapshot, store: db, environment: env, revision: outcome.summary.number, options: converge)
            }
            try await ApplyRun(store: db, environment: env, revision: outcome.summary.number, options: converge).run()
        }
    }
}
