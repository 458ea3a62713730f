import Application
import EnvSpec
import Foundation
import StateStore
import Synchronization
import Testing
import TestSupport
@testable import Reconciler

/// A lease store in memory that says what happened to the lease, in order.
final class FakeLeases: LeaseKeeping {
    enum Operation: Sendable, Equatable { case acquired, renewed, refused, released }
    private let refusing = Mutex(false)
    let operations: AsyncStream<Operation>
    private let report: AsyncStream<Operation>.Continuation

    init() { (operations, report) = AsyncStream.makeStream() }

    /// From now on the lease is someone else's: renewals fail.
    func lose() { refusing.withLock { $0 = true } }

    func acquire(environment: String, holder: LeaseHolderKind, holderID: String, ttl: Double) throws -> LeaseOutcome {
        report.yield(.acquired)
        return .acquired
    }

    func renew(environment: String, holderID: String, ttl: Double) throws -> Bool {
        let kept = !refusing.withLock { $0 }
        report.yield(kept ? .renewed : .refused)
        return kept
    }

    func release(environment: String, holderID: String) throws { report.yield(.released) }
}

/// The controller on a test timeline: every timer it has (resync, heartbeat, revision poll,
/// back-off) moves only when the test advances the timeline, so each test runs in milliseconds
/// and waits for what the controller reports, never for time to pass. Before each advance the
/// test waits until the controller is asleep on its timers (heartbeat, resync and revision poll
/// make three; a pending back-off a fourth).
@Suite(.timeLimit(.minutes(1))) struct ControllerClockTests {
    struct Harness {
        let store: StateStore
        let engine: FakeEngine
        let clock: TestTimeline
        let leases: FakeLeases
        let controller: EnvironmentController
        var reports: AsyncStream<ControllerEvent>.Iterator
        let running: Task<Void, Error>

        mutating func next() async -> ControllerEvent? { await reports.next() }

        /// Waits until the controller sleeps on its three timers (and `more`), then moves time on.
        func advance(by duration: Duration, more: Int = 0) async {
            await clock.sleepers(atLeast: 3 + more)
            clock.advance(by: duration)
        }

        func stop() async throws {
            controller.requestStop()
            try await running.value
        }
    }

    func start(_ json: String = shop) async throws -> Harness {
        let store = try StateStore.inMemory()
        _ = try store.record(try SpecBuilder.parse(json), meta: RevisionMeta(author: "t", host: "h", source: .apply))
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let clock = TestTimeline()
        let leases = FakeLeases()
        var settings = ControllerSettings()
        settings.debounce = .zero
        settings.resync = .seconds(30)
        settings.heartbeat = .seconds(5)
        settings.revisionPoll = .milliseconds(500)
        settings.crashLoop = CrashLoopTracker(base: .seconds(1), cap: .seconds(8), stableAfter: .seconds(10))
        let (reports, report) = AsyncStream<ControllerEvent>.makeStream()
        let controller = EnvironmentController(reconciler: Reconciler(engine: engine, records: store, host: FakeHost()), leases: leases,
                                               environment: "shop", holderID: "test", settings: settings, timeline: clock,
                                               observer: { report.yield($0) })
        let running = Task { try await controller.run() }
        return Harness(store: store, engine: engine, clock: clock, leases: leases, controller: controller,
                       reports: reports.makeAsyncIterator(), running: running)
    }

    @Test func theFirstPassConvergesAndResyncAndANewRevisionEachMakeAPass() async throws {
        var h = try await start()
        #expect(await h.next() == .holdingLease)
        // network, volume, four containers, db's health wait and migrate's completion: web's own
        // health wait is dropped, as nothing needs it.
        #expect(await h.next() == .passFinished(.start, stepsRun: 8, held: 0))
        #expect(h.engine.containers.values.map(\.workload.service).sorted() == ["cache", "db", "migrate", "web"])

        await h.advance(by: .seconds(30))
        #expect(await h.next() == .passFinished(.resync, stepsRun: 0, held: 0))

        let changed = shop.replacingOccurrences(of: "\"cache\": { \"image\": \"busybox\" }", with: "\"cache\": { \"image\": \"busybox\", \"env\": { \"SIZE\": \"2\" } }")
        _ = try h.store.record(try SpecBuilder.parse(changed), meta: RevisionMeta(author: "t", host: "h", source: .apply))
        await h.advance(by: .milliseconds(500))
        #expect(await h.next() == .passFinished(.newRevision, stepsRun: 1, held: 0))
        // Replaced while it stops: renamed, its successor created, then started as it is removed
        // (those two run at once, so their order is the engine's).
        #expect(Array(h.engine.calls.suffix(4).prefix(2)) == ["rename cache", "create cache"])
        #expect(Set(h.engine.calls.suffix(2)) == ["remove cache", "start cache"])
        #expect(h.engine.containers.values.filter { $0.workload.service == "cache" }.map(\.workload.name) == ["shop-cache"])
        #expect(try h.store.lastApply(environment: "shop", convergedOnly: true)?.revision == 2)

        try await h.stop()
        #expect(await h.next() == .stopped)
    }

    @Test func aCrashLoopBacksOffOnTheClockAndAStopIsForgiven() async throws {
        var h = try await start()
        #expect(await h.next() == .holdingLease)
        #expect(await h.next() == .passFinished(.start, stepsRun: 8, held: 0))

        // It dies at once after starting: held for the base delay, then started again.
        h.engine.kill("cache")
        h.engine.emit(EngineEvent(action: "die", service: "cache", containerID: "c0001"))
        #expect(await h.next() == .passFinished(.engineEvent(service: "cache", action: "die"), stepsRun: 0, held: 1))
        let backOff = try h.store.events(environment: "shop").filter { $0.action == "back-off" }
        #expect(backOff.map(\.detail) == ["restart 1 held for 1s"])
        await h.advance(by: .seconds(1), more: 1)
        #expect(await h.next() == .passFinished(.backOffOver, stepsRun: 1, held: 0))

        // Again at once: the delay doubles.
        h.engine.kill("cache")
        h.engine.emit(EngineEvent(action: "die", service: "cache", containerID: "c0001"))
        #expect(await h.next() == .passFinished(.engineEvent(service: "cache", action: "die"), stepsRun: 0, held: 1))
        await h.advance(by: .seconds(1), more: 1)
        await h.advance(by: .seconds(1), more: 1)
        #expect(await h.next() == .passFinished(.backOffOver, stepsRun: 1, held: 0))
        #expect(try h.store.events(environment: "shop").filter { $0.action == "back-off" }.map(\.detail)
                == ["restart 1 held for 1s", "restart 2 held for 2s"])

        // Someone stops it through the API: not a crash, so it comes back at once.
        h.engine.kill("cache", code: 0)
        h.engine.emit(EngineEvent(action: "stop", service: "cache", containerID: "c0001"))
        #expect(await h.next() == .passFinished(.engineEvent(service: "cache", action: "stop"), stepsRun: 1, held: 0))
        try await h.stop()
    }

    /// dockerd's container list still says "running" for a while after `die`; the pass that the
    /// event triggers must not conclude that nothing is to be done, or the container stays down
    /// until the next resync.
    @Test func aDieEventIsBelievedOverAContainerListThatLagsBehindIt() async throws {
        var h = try await start()
        #expect(await h.next() == .holdingLease)
        #expect(await h.next() == .passFinished(.start, stepsRun: 8, held: 0))
        let id = try #require(h.engine.containerID("web"))
        h.engine.resetCalls()
        // Up long enough that dying is not a crash loop.
        await h.advance(by: .seconds(11))

        h.engine.kill("web", listLags: true)
        h.engine.emit(EngineEvent(action: "die", service: "web", containerID: id))
        #expect(await h.next() == .passFinished(.engineEvent(service: "web", action: "die"), stepsRun: 1, held: 0))
        #expect(h.engine.calls == ["start web"])

        // Without an event, the lagging list is taken as it is: only a resync would look again.
        await h.advance(by: .seconds(11))
        h.engine.kill("web", listLags: true)
        await h.advance(by: .seconds(8))
        #expect(await h.next() == .passFinished(.resync, stepsRun: 0, held: 0))
        try await h.stop()
    }

    @Test func theLeaseIsRenewedEveryHeartbeatAndLosingItStopsTheController() async throws {
        var h = try await start()
        var leases = h.leases.operations.makeAsyncIterator()
        #expect(await leases.next() == .acquired)
        #expect(await h.next() == .holdingLease)
        #expect(await h.next() == .passFinished(.start, stepsRun: 8, held: 0))

        await h.advance(by: .seconds(5))
        #expect(await leases.next() == .renewed)
        await h.advance(by: .seconds(5))
        #expect(await leases.next() == .renewed)

        h.leases.lose()
        await h.advance(by: .seconds(5))
        #expect(await leases.next() == .refused)
        await #expect(throws: LeaseLostError(environment: "shop")) { try await h.running.value }
        #expect(await leases.next() == .released)
    }
}

/// Health waits on a timeline where every sleep ends at once: a ten-minute health check budget
/// runs out in microseconds, with the message a person would see after ten minutes.
@Suite(.timeLimit(.minutes(1))) struct HealthWaitClockTests {
    static let slow = """
    {
      "name": "slow",
      "services": {
        "db": { "image": "busybox", "healthcheck": { "command": ["check"], "interval": "10m", "timeout": "1s", "retries": 1 } },
        "web": { "image": "busybox", "dependsOn": { "db": "healthy" } }
      }
    }
    """

    @Test func aServiceThatNeverBecomesHealthyFailsAfterItsBudget() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        engine.unhealthy = ["db"]
        let p = try await plan(Self.slow, engine: engine)
        let report = await Executor(engine: engine, timeline: ImmediateTimeline()).run(p, revision: 1)
        let wait = p.steps.first { $0.service == "db" && $0.action.isWait }!
        #expect(report.outcomes[wait.id] == .failed("not healthy after 601.0s (health check check: not ready)"))
        let web = p.steps.first { $0.service == "web" }!
        #expect(report.outcomes[web.id] == .skipped("db did not become ready"))
    }

    @Test func theApplyTimeoutCutsAHealthWaitShort() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        engine.unhealthy = ["db"]
        let p = try await plan(Self.slow, engine: engine)
        let report = await Executor(engine: engine, timeline: ImmediateTimeline(), timeout: .seconds(60)).run(p, revision: 1)
        let wait = p.steps.first { $0.service == "db" && $0.action.isWait }!
        #expect(report.outcomes[wait.id] == .failed("not healthy after the apply timeout (health check check: not ready)"))
    }
}
