import EnvSpec
import Foundation
import Synchronization

public struct ControllerSettings: Sendable {
    public var resync: Duration = .seconds(30)
    public var leaseTTL: Double = 15
    public var heartbeat: Duration = .seconds(5)
    public var revisionPoll: Duration = .milliseconds(500)
    /// Engine events arriving close together make one pass.
    public var debounce: Duration = .milliseconds(100)
    public var crashLoop = CrashLoopTracker()
    public var passTimeoutSeconds = 300
    public var maxParallel = 8
    /// How long to wait before retrying after a transient failure.
    public var retry: Duration = .seconds(2)
    /// How often to try again for a lease held by someone else (`--wait`).
    public var leaseRetry: Duration = .seconds(1)
    /// Log every engine event that asks for a pass and every pass with its timings (`-v`).
    public var verbose = false
    public init() {}
}

public struct LeaseHeldError: Error, CustomStringConvertible, Sendable {
    public var lease: Lease
    public init(lease: Lease) { self.lease = lease }
    public var description: String {
        "environment \"\(lease.environment)\" is held by \(lease.holder) \(lease.holderID) since \(lease.acquiredAt) (last heartbeat \(lease.heartbeatAt)): stop it first, pass --wait, or run devstack unlock --env \(lease.environment) if it is gone"
    }
}

public struct LeaseLostError: Error, CustomStringConvertible, Sendable, Equatable {
    public var environment: String
    public var description: String { "lost the lease on \"\(environment)\" (was it unlocked?): stopping" }
}

/// Why the controller looks at the environment again.
public enum ControllerTrigger: Sendable, Equatable, CustomStringConvertible {
    case start
    case resync
    case newRevision
    /// An engine event about a service's container (`die`, `stop`, …).
    case engineEvent(service: String?, action: String)
    case eventStreamReconnected
    case backOffOver
    case retry(String)

    public var description: String {
        switch self {
        case .start: return "start"
        case .resync: return "resync"
        case .newRevision: return "new revision"
        case let .engineEvent(service, action): return "\(service ?? "container") \(action)"
        case .eventStreamReconnected: return "event stream reconnected"
        case .backOffOver: return "back-off over"
        case let .retry(why): return why
        }
    }
}

/// What the controller did, for its log and for tests that follow it step by step.
public enum ControllerEvent: Sendable, Equatable {
    case holdingLease
    /// One pass ended: what triggered it, how many steps ran, how many services are held back.
    case passFinished(ControllerTrigger, stepsRun: Int, held: Int)
    case stopped
}

/// The long-running loop: level-based reconciles on engine events, new revisions and a periodic
/// resync, while holding the environment's lease. Crash loops back off; terminal problems wait
/// for a new revision instead of being retried.
///
/// An actor: its state (the crash-loop tracker, the last terminal message) is touched only on
/// it. Every timer (heartbeat, resync, revision poll, back-off wake-ups) is a child task of
/// `run`, so nothing outlives it; every wait is on the injected timeline.
public actor EnvironmentController {
    public nonisolated let reconciler: Reconciler
    public nonisolated let environment: String
    public nonisolated let holderID: String
    public nonisolated let settings: ControllerSettings
    let leases: any LeaseKeeping
    let interrupted: any InterruptedWork
    let timeline: any Timeline
    let progress: any ProgressReporter
    let log: @Sendable (String) -> Void
    let observer: @Sendable (ControllerEvent) -> Void

    private var crashLoop: CrashLoopTracker
    private var lastTerminal: String?
    /// Containers the engine said went down (`die`, `stop`, `destroy`) that no pass has looked at
    /// since: the engine's container list can still show them running for a while after the event.
    private var reportedDown: Set<String> = []
    private nonisolated let stopRequested = Mutex(false)
    private nonisolated let triggers: AsyncStream<ControllerTrigger>
    private nonisolated let trigger: AsyncStream<ControllerTrigger>.Continuation
    private nonisolated let wakeUps: AsyncStream<(Duration, ControllerTrigger)>
    private nonisolated let wakeUp: AsyncStream<(Duration, ControllerTrigger)>.Continuation

    public init(reconciler: Reconciler, leases: any LeaseKeeping, interrupted: any InterruptedWork = NoInterruptedWork(),
                environment: String, holderID: String, settings: ControllerSettings = ControllerSettings(),
                timeline: any Timeline = .system, progress: any ProgressReporter = SilentProgress(),
                log: @escaping @Sendable (String) -> Void = { _ in }, observer: @escaping @Sendable (ControllerEvent) -> Void = { _ in }) {
        self.reconciler = reconciler
        self.leases = leases
        self.interrupted = interrupted
        self.environment = environment
        self.holderID = holderID
        self.settings = settings
        self.timeline = timeline
        self.crashLoop = settings.crashLoop
        self.progress = progress
        self.log = log
        self.observer = observer
        // One pending trigger is enough: a pass looks at everything.
        (triggers, trigger) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (wakeUps, wakeUp) = AsyncStream.makeStream()
    }

    var records: any ReconcileRecords { reconciler.records }

    /// Finish the pass under way, release the lease, return from `run`. Safe from any thread,
    /// a signal handler's task included.
    public nonisolated func requestStop() {
        stopRequested.withLock { $0 = true }
        trigger.yield(.retry("stop"))
    }

    nonisolated var isStopping: Bool { stopRequested.withLock { $0 } }

    nonisolated func poke(_ reason: ControllerTrigger) { trigger.yield(reason) }

    public func run(waitForLease: Bool = false) async throws {
        while true {
            switch try leases.acquire(environment: environment, holder: .controller, holderID: holderID, ttl: settings.leaseTTL) {
            case .acquired: break
            case let .heldBy(lease):
                guard waitForLease, !isStopping else { throw LeaseHeldError(lease: lease) }
                try await timeline.sleep(for: settings.leaseRetry)
                continue
            }
            break
        }
        defer { try? leases.release(environment: environment, holderID: holderID) }
        log("controller \(holderID) holds \(environment); watching engine events, new revisions, and resyncing every \(settings.resync)")
        observer(.holdingLease)
        poke(.start)

        enum Ending: Sendable { case passLoopEnded, other }
        try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask { try await self.heartbeat(); return .other }
            group.addTask { await self.watchEngineEvents(); return .other }
            group.addTask { try await self.watchRevisions(); return .other }
            group.addTask { try await self.resyncEvery(); return .other }
            group.addTask { await self.runWakeUps(); return .other }
            group.addTask { await self.passLoop(); return .passLoopEnded }
            defer { group.cancelAll() }
            // The pass loop ends on stop; a lost lease ends the controller with its error.
            while let ending = try await group.next() {
                if ending == .passLoopEnded { break }
            }
        }
        log("controller stopped; lease on \(environment) released")
        observer(.stopped)
    }

    func passLoop() async {
        for await reason in triggers {
            if isStopping { return }
            if settings.debounce > .zero { try? await timeline.sleep(for: settings.debounce) }
            if isStopping { return }
            await pass(reason)
        }
    }

    func resyncEvery() async throws {
        while true {
            try await timeline.sleep(for: settings.resync)
            poke(.resync)
        }
    }

    func heartbeat() async throws {
        while true {
            try await timeline.sleep(for: settings.heartbeat)
            guard try leases.renew(environment: environment, holderID: holderID, ttl: settings.leaseTTL) else {
                throw LeaseLostError(environment: environment)
            }
        }
    }

    /// Back-off and retry wake-ups, each a child of this task: none outlives the controller.
    func runWakeUps() async {
        let timeline = self.timeline
        await withDiscardingTaskGroup { timers in
            for await (moment, reason) in wakeUps {
                timers.addTask { [self] in
                    guard (try? await timeline.sleep(until: moment)) != nil else { return }
                    poke(reason)
                }
            }
        }
    }

    nonisolated func schedule(after delay: Duration, _ reason: ControllerTrigger) { schedule(at: timeline.now + delay, reason) }

    nonisolated func schedule(at moment: Duration, _ reason: ControllerTrigger) { wakeUp.yield((moment, reason)) }

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
                    let action = EngineEvent.Action(event.action)
                    if action.meansDown { reportedDown.insert(event.containerID) }
                    if action == .start { reportedDown.remove(event.containerID) }
                    if let service = event.service, action.isOutsideDisruption { crashLoop.forgive(service) }
                    if let service = event.service, action == .die || action == .oom { crashLoop.exited(service, at: timeline.now) }
                    if action.needsAPass {
                        if settings.verbose { log("engine event: \(event.service ?? event.containerID) \(event.action)") }
                        poke(.engineEvent(service: event.service, action: event.action))
                    }
                }
            } catch {
                log("engine event stream interrupted (\(error)); reconnecting in \(delay)")
            }
            guard (try? await timeline.sleep(for: delay)) != nil else { return }
            delay = min(delay * 2, .seconds(30))
            poke(.eventStreamReconnected)
        }
    }

    func watchRevisions() async throws {
        var seen = try? records.latestRevisionNumber(of: environment)
        while true {
            try await timeline.sleep(for: settings.revisionPoll)
            let now = try? records.latestRevisionNumber(of: environment)
            if now != seen {
                seen = now
                poke(.newRevision)
            }
        }
    }

    /// An executor for one pass, recording its steps as events.
    func passExecutor() -> Executor {
        Executor(engine: reconciler.engine, maxParallel: settings.maxParallel, progress: progress,
                 recordEvent: records.sink(warn: log), timeline: timeline, timeout: .seconds(settings.passTimeoutSeconds))
    }

    /// One level-based reconcile; the answer decides when to look again.
    func pass(_ reason: ControllerTrigger) async {
        var stepsRun = 0
        var heldCount = 0
        let started = timeline.now
        var observedAt = started
        var planned = 0
        defer {
            if settings.verbose {
                let end = timeline.now
                log("pass (\(reason)): observed in \((observedAt - started).milliseconds) ms; \(planned) step(s) planned, \(heldCount) held, \(stepsRun) run in \((end - observedAt).milliseconds) ms")
            }
            observer(.passFinished(reason, stepsRun: stepsRun, held: heldCount))
        }
        let revision: StoredRevision
        let plan: Plan
        do {
            revision = try records.currentRevision(of: environment)
            let desired = try reconciler.desiredState(revision)
            // A restore cut short is finished before anything else uses its volumes.
            if let resumed = try await interrupted.resume(desired: desired, executor: passExecutor()) {
                log("finished an interrupted restore of \(resumed)")
            }
            let observed = try await confirmingReportedDown(try await reconciler.observe(desired))
            plan = try reconciler.plan(desired, observed: observed)
            try recordConditions(desired: desired, observed: observed, plan: plan)
            observedAt = timeline.now
            planned = plan.steps.count
        } catch let error as EngineError where error.isTransient {
            log("engine unavailable: \(error.message); retrying")
            schedule(after: settings.retry, .retry("engine unavailable"))
            return
        } catch {
            terminal("\(error)", revision: nil)
            return
        }
        guard plan.problems.isEmpty else {
            terminal(plan.problems.joined(separator: "; "), revision: revision.summary.number)
            return
        }
        lastTerminal = nil

        // Crash loops: hold back services that keep dying, and say so once per hold.
        let now = timeline.now
        var held: Set<String> = []
        var wake: Duration?
        for step in plan.steps where !step.action.isWait && step.action.startsAContainer {
            guard let service = step.service else { continue }
            guard case let .hold(until, failures, delay, isNew) = crashLoop.admit(service, now: now) else { continue }
            held.insert(service)
            wake = min(wake ?? until, until)
            if isNew {
                let seconds = Double(delay.milliseconds) / 1000
                record(EventRecord(environment: environment, revision: revision.summary.number, service: service,
                                   action: EventAction.backOff.rawValue, cause: "crash loop: \(step.cause)",
                                   outcome: EventOutcome.delayed.rawValue, durationMs: delay.milliseconds,
                                   detail: "restart \(failures) held for \(String(format: "%g", seconds))s"))
                log("\(service): crash loop (\(failures) in a row); next start in \(String(format: "%g", seconds))s")
            }
        }
        heldCount = held.count
        if let wake { schedule(at: wake, .backOffOver) }
        let runnable = plan.without(services: held).withoutTrailingWaits()
        if runnable.isEmpty {
            if held.isEmpty {
                do { try records.markConverged(environment: environment, revision: revision.summary.number) } catch {
                    log("could not record that revision \(revision.summary.number) is converged: \(error)")
                    schedule(after: settings.retry, .retry("retry recording"))
                }
            }
            return
        }
        let executor = passExecutor()
        let applyID: Int64
        do { applyID = try records.applyStarted(environment: environment, revision: revision.summary.number) } catch {
            // Nothing is changed that could not be recorded.
            log("could not record the start of a pass: \(error); retrying")
            schedule(after: settings.retry, .retry("retry recording"))
            return
        }
        let report = await executor.run(runnable, revision: revision.summary.number)
        stepsRun = report.outcomes.count
        let finished = timeline.now
        for step in runnable.steps where step.action.startsAContainer && report.outcomes[step.id] == .succeeded {
            if let service = step.service { crashLoop.started(service, at: finished) }
        }
        do { try records.applyFinished(id: applyID, converged: report.succeeded && held.isEmpty, images: [:]) } catch {
            log("could not record the end of a pass: \(error)")
        }
        if !report.succeeded { schedule(after: settings.retry, .retry("retry after failure")) }
    }

    /// dockerd sends `die` before its container list stops saying "running" (the list is a copy
    /// updated after the exit is handled, later still on a loaded engine), so a pass that follows
    /// the event at once can find nothing to do, and no further event comes. A container the engine
    /// said went down but the list shows running is inspected instead: inspecting waits for the
    /// engine to finish with the container, so its answer is current.
    func confirmingReportedDown(_ observed: ObservedState) async throws -> ObservedState {
        let pending = reportedDown
        guard !pending.isEmpty else { return observed }
        // Events that arrive while this looks are kept for the pass they trigger.
        reportedDown.subtract(pending)
        var confirmed = observed
        do {
            for (index, container) in observed.containers.enumerated().reversed() where pending.contains(container.id) && container.state == .running {
                do {
                    let status = try await reconciler.engine.inspectContainer(container.id)
                    confirmed.containers[index].state = status.state
                    confirmed.containers[index].health = status.health
                } catch let error as EngineError where error.kind == .notFound {
                    confirmed.containers.remove(at: index)
                }
            }
        } catch {
            reportedDown.formUnion(pending)
            throw error
        }
        return confirmed
    }

    /// Not worth retrying until something changes: recorded once, then the controller waits.
    func terminal(_ message: String, revision: Int?) {
        guard lastTerminal != message else { return }
        lastTerminal = message
        log("cannot converge \(environment): \(message)")
        record(EventRecord(environment: environment, revision: revision, service: nil, action: EventAction.reconcile.rawValue,
                           cause: "terminal error; waiting for a new revision", outcome: EventOutcome.failed.rawValue, detail: message))
    }

    /// Writes an event; a failure to write is said in the controller's log, never dropped.
    func record(_ event: EventRecord) {
        records.sink(warn: log)(event)
    }

    func recordConditions(desired: DesiredState, observed: ObservedState, plan: Plan) throws {
        let now = timeline.now
        var conditions: [ServiceCondition] = []
        for name in desired.spec.serviceNames {
            let container = observed.containers.first { $0.service == name }
            conditions += ServiceConditions.derive(service: name, container: container, health: container?.health ?? .none,
                                                   pendingCause: ServiceConditions.pendingCause(name, in: plan),
                                                   crashLoopFailures: crashLoop.failures(name), held: crashLoop.isHeld(name, now: now))
        }
        try records.setConditions(environment: environment, conditions)
    }
}

extension Plan.Action {
    /// Creating or starting a container: what a crash loop holds back.
    public var startsAContainer: Bool {
        switch self {
        case .start, .create: return true
        default: return false
        }
    }
}
