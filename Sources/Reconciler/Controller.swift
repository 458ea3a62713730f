import EnvSpec
import Foundation
import StateStore

public struct ControllerSettings: Sendable {
    public var resync: Duration = .seconds(30)
    public var leaseTTL: TimeInterval = 15
    public var heartbeat: Duration = .seconds(5)
    public var revisionPoll: Duration = .milliseconds(500)
    /// Engine events arriving close together make one pass.
    public var debounce: Duration = .milliseconds(100)
    public var crashLoop = CrashLoopTracker()
    public var passTimeoutSeconds = 300
    public var maxParallel = 8
    public init() {}
}

public struct LeaseHeldError: Error, CustomStringConvertible, Sendable {
    public var lease: Lease
    public init(lease: Lease) { self.lease = lease }
    public var description: String {
        "environment \"\(lease.environment)\" is held by \(lease.holder) \(lease.holderID) since \(lease.acquiredAt) (last heartbeat \(lease.heartbeatAt)): stop it first, pass --wait, or run devstack unlock --env \(lease.environment) if it is gone"
    }
}

public struct LeaseLostError: Error, CustomStringConvertible, Sendable {
    public var environment: String
    public var description: String { "lost the lease on \"\(environment)\" (was it unlocked?): stopping" }
}

/// The long-running loop: level-based reconciles on engine events, new revisions and a periodic
/// resync, while holding the environment's lease. Crash loops back off; terminal problems wait
/// for a new revision instead of being retried.
public final class EnvironmentController: @unchecked Sendable {
    public let reconciler: Reconciler
    public let environment: String
    public let holderID: String
    public var settings: ControllerSettings
    let progress: any ProgressReporter
    let log: @Sendable (String) -> Void

    private let lock = NSLock()
    private var stopping = false
    private var crashLoop: CrashLoopTracker
    private var lastTerminal: String?
    private var trigger: AsyncStream<String>.Continuation?

    public init(reconciler: Reconciler, environment: String, holderID: String, settings: ControllerSettings = ControllerSettings(),
                progress: any ProgressReporter = SilentProgress(), log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.reconciler = reconciler
        self.environment = environment
        self.holderID = holderID
        self.settings = settings
        self.crashLoop = settings.crashLoop
        self.progress = progress
        self.log = log
    }

    var store: StateStore { reconciler.store }

    /// Finish the pass under way, release the lease, return from `run`.
    public func requestStop() {
        lock.withLock { stopping = true }
        poke("stop")
    }

    var isStopping: Bool { lock.withLock { stopping } }

    func poke(_ reason: String) { _ = lock.withLock { trigger }?.yield(reason) }

    public func run(waitForLease: Bool = false) async throws {
        while true {
            switch try store.acquireLease(environment: environment, holder: "controller", holderID: holderID, ttl: settings.leaseTTL, isAbandoned: LeaseHolder.isGone) {
            case .acquired: break
            case let .heldBy(lease):
                guard waitForLease, !isStopping else { throw LeaseHeldError(lease: lease) }
                try await Task.sleep(for: .seconds(1))
                continue
            }
            break
        }
        defer { try? store.releaseLease(environment: environment, holderID: holderID) }
        log("controller \(holderID) holds \(environment); watching engine events, new revisions, and resyncing every \(settings.resync)")

        let (triggers, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        lock.withLock { trigger = continuation }
        continuation.yield("start")

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.heartbeat() }
            group.addTask { await self.watchEngineEvents() }
            group.addTask { await self.watchRevisions() }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.settings.resync)
                    self.poke("resync")
                }
            }
            group.addTask {
                for await _ in triggers {
                    if self.isStopping { break }
                    try? await Task.sleep(for: self.settings.debounce)
                    if self.isStopping { break }
                    await self.pass()
                }
            }
            // The first task to finish (the pass loop on stop, or a lost lease) ends the controller.
            defer { group.cancelAll() }
            try await group.next()
        }
        log("controller stopped; lease on \(environment) released")
    }

    func heartbeat() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: settings.heartbeat)
            guard try store.renewLease(environment: environment, holderID: holderID, ttl: settings.leaseTTL) else {
                throw LeaseLostError(environment: environment)
            }
        }
    }

    func watchEngineEvents() async {
        guard let source = reconciler.engine as? any EngineEventSource else { return }
        var delay = Duration.milliseconds(500)
        // Subscribe from a moment ago: what happens while connecting is replayed, not lost.
        var since = Date().timeIntervalSince1970 - 1
        while !Task.isCancelled {
            do {
                for try await event in source.events(environment: environment, since: since) {
                    delay = .milliseconds(500)
                    since = Date().timeIntervalSince1970 - 1
                    if let service = event.service, Self.isOutsideDisruption(event.action) {
                        lock.withLock { crashLoop.forgive(service) }
                    }
                    if ["die", "destroy", "stop", "kill", "oom", "health_status: unhealthy", "pause"].contains(event.action) {
                        poke("\(event.service ?? "container") \(event.action)")
                    }
                }
            } catch {
                log("engine event stream interrupted (\(error)); reconnecting in \(delay)")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
            poke("event stream reconnected")
        }
    }

    /// `kill` (with its signal), `stop` and `destroy` come from a request to the engine's API: a
    /// person or a script, not the program crashing. A container that exits on its own sends only
    /// `die`, and the kernel's OOM killer sends `oom`; those count towards a crash loop.
    static func isOutsideDisruption(_ action: String) -> Bool {
        action == "kill" || action == "stop" || action == "destroy"
    }

    func watchRevisions() async {
        var seen = try? store.latestNumber(environment: environment)
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.revisionPoll)
            let now = try? store.latestNumber(environment: environment)
            if now != seen {
                seen = now
                poke("new revision")
            }
        }
    }

    /// An executor for one pass, recording its steps as events.
    func passExecutor() -> Executor {
        let store = self.store
        return Executor(engine: reconciler.engine, maxParallel: settings.maxParallel, progress: progress,
                        recordEvent: Reconciler.recordingEvents(to: store, warn: log), deadline: .now + .seconds(settings.passTimeoutSeconds))
    }

    /// One level-based reconcile; the answer decides when to look again.
    func pass() async {
        let revision: StoredRevision
        let desired: DesiredState
        let plan: Plan
        do {
            revision = try store.revision(environment: environment)
            desired = try reconciler.desiredState(revision)
            // A restore cut short is finished before anything else uses its volumes.
            if try store.pendingRestore(environment: environment) != nil {
                let resumed = try await SnapshotManager(reconciler).resumeInterrupted(desired: desired, executor: passExecutor())
                log("finished an interrupted restore of \(resumed ?? "a snapshot")")
            }
            let observed = try await reconciler.observe(desired)
            plan = try reconciler.plan(desired, observed: observed)
            try recordConditions(desired: desired, observed: observed, plan: plan)
        } catch let error as EngineError where error.isTransient {
            log("engine unavailable: \(error.message); retrying")
            schedule(after: .seconds(2), reason: "retry")
            return
        } catch {
            terminal("\(error)", revision: nil)
            return
        }
        guard plan.problems.isEmpty else {
            terminal(plan.problems.joined(separator: "; "), revision: revision.summary.number)
            return
        }
        lock.withLock { lastTerminal = nil }

        // Crash loops: hold back services that keep dying, and say so once per hold.
        let now = ContinuousClock.now
        var held: Set<String> = []
        var wake: ContinuousClock.Instant?
        for step in plan.steps where !step.action.isWait {
            guard let service = step.service, isRestart(step.action) else { continue }
            let admission = lock.withLock { crashLoop.admit(service, now: now) }
            if case let .hold(until, failures, delay, isNew) = admission {
                held.insert(service)
                wake = min(wake ?? until, until)
                if isNew {
                    let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
                    record(EventRecord(environment: environment, revision: revision.summary.number, service: service,
                                       action: "back-off", cause: "crash loop: \(step.cause)",
                                       outcome: "delayed", durationMs: Int(seconds * 1000),
                                       detail: "restart \(failures) held for \(String(format: "%g", seconds))s"))
                    log("\(service): crash loop (\(failures) in a row); next start in \(String(format: "%g", seconds))s")
                }
            }
        }
        if let wake { schedule(at: wake, reason: "back-off over") }
        let runnable = plan.without(services: held).withoutTrailingWaits()
        if runnable.isEmpty {
            if held.isEmpty {
                do { try store.markConverged(environment: environment, revision: revision.summary.number) } catch {
                    log("could not record that revision \(revision.summary.number) is converged: \(error)")
                    schedule(after: .seconds(2), reason: "retry recording")
                }
            }
            return
        }
        let executor = passExecutor()
        let applyID: Int64
        do { applyID = try store.beginApply(environment: environment, revision: revision.summary.number) } catch {
            // Nothing is changed that could not be recorded.
            log("could not record the start of a pass: \(error); retrying")
            schedule(after: .seconds(2), reason: "retry recording")
            return
        }
        let report = await executor.run(runnable, revision: revision.summary.number)
        do { try store.finishApply(id: applyID, converged: report.succeeded && held.isEmpty, images: [:]) } catch {
            log("could not record the end of a pass: \(error)")
        }
        if !report.succeeded { schedule(after: .seconds(2), reason: "retry after failure") }
    }

    func isRestart(_ action: Plan.Action) -> Bool {
        switch action {
        case .start, .create: return true
        default: return false
        }
    }

    /// Not worth retrying until something changes: recorded once, then the controller waits.
    func terminal(_ message: String, revision: Int?) {
        let isNew = lock.withLock { () -> Bool in
            defer { lastTerminal = message }
            return lastTerminal != message
        }
        guard isNew else { return }
        log("cannot converge \(environment): \(message)")
        record(EventRecord(environment: environment, revision: revision, service: nil, action: "reconcile",
                           cause: "terminal error; waiting for a new revision", outcome: "failed", detail: message))
    }

    /// Writes an event; a failure to write is said in the controller's log, never dropped.
    func record(_ event: EventRecord) {
        Reconciler.recordingEvents(to: store, warn: log)(event)
    }

    func schedule(after delay: Duration, reason: String) { schedule(at: .now + delay, reason: reason) }

    func schedule(at instant: ContinuousClock.Instant, reason: String) {
        Task { [weak self] in
            try? await Task.sleep(until: instant)
            self?.poke(reason)
        }
    }

    func recordConditions(desired: DesiredState, observed: ObservedState, plan: Plan) throws {
        let now = ContinuousClock.now
        var conditions: [ServiceCondition] = []
        for name in desired.spec.serviceNames {
            let container = observed.containers.first { $0.service == name }
            let hasCheck = desired.spec.services[name]?.healthcheck != nil
            let ready = container?.state == .running && (!hasCheck || container?.health == .healthy || container?.health == .starting)
            let pending = plan.steps.first { $0.service == name && !$0.action.isWait }
            let held = lock.withLock { crashLoop.isHeld(name, now: now) }
            let failures = lock.withLock { crashLoop.failures(name) }
            conditions.append(ServiceCondition(service: name, condition: "Ready", status: ready,
                                               reason: ready ? "running" : (container?.state.label ?? "no container")))
            conditions.append(ServiceCondition(service: name, condition: "Progressing", status: pending != nil, reason: pending?.cause ?? "up to date"))
            conditions.append(ServiceCondition(service: name, condition: "Degraded", status: held || failures > 0,
                                               reason: failures > 0 ? "crash loop: \(failures) restarts in a row" : "none"))
        }
        try store.setConditions(environment: environment, conditions)
    }
}
