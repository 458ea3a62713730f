import StateStore
import Testing
import TestSupport
@testable import Reconciler

@Suite struct CrashLoopTests {
    @Test func delaysGrowAndAreCapped() {
        var tracker = CrashLoopTracker(base: .seconds(1), cap: .seconds(4), stableAfter: .seconds(10))
        var now = Duration.zero
        #expect(tracker.admit("w", now: now) == .go)
        var delays: [Duration] = []
        for _ in 0..<4 {
            now += .milliseconds(100) // it died at once
            guard case let .hold(until, _, delay, isNew) = tracker.admit("w", now: now) else { Issue.record("expected a hold"); return }
            #expect(isNew)
            delays.append(delay)
            if case .hold(_, _, _, let again) = tracker.admit("w", now: now) { #expect(!again) }
            now = until
            #expect(tracker.admit("w", now: now) == .go)
        }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(4)])
    }

    @Test func stabilityCountsFromTheEndOfASlowStart() {
        var tracker = CrashLoopTracker(base: .seconds(1), cap: .seconds(60), stableAfter: .seconds(10))
        #expect(tracker.admit("w", now: .zero) == .go)
        // The start took 15 s; the container died 1 s after it had started.
        tracker.started("w", at: .seconds(15))
        #expect(tracker.admit("w", now: .seconds(16)) == .hold(until: .seconds(17), failures: 1, delay: .seconds(1), isNew: true))
    }

    @Test func stabilityEndsWhenTheEngineSaysItExitedNotWhenThePassComes() {
        var tracker = CrashLoopTracker(base: .seconds(1), cap: .seconds(60), stableAfter: .seconds(10))
        #expect(tracker.admit("w", now: .zero) == .go)
        tracker.started("w", at: .seconds(1))
        // It died half a second after starting; the pass that sees it comes 11 s later.
        tracker.exited("w", at: .milliseconds(1500))
        #expect(tracker.admit("w", now: .seconds(12)) == .hold(until: .seconds(13), failures: 1, delay: .seconds(1), isNew: true))
    }

    @Test func aStableServiceStartsAfresh() {
        var tracker = CrashLoopTracker(base: .seconds(1), cap: .seconds(60), stableAfter: .seconds(10))
        var now = Duration.zero
        #expect(tracker.admit("w", now: now) == .go)
        now += .seconds(30)
        #expect(tracker.admit("w", now: now) == .go)
        #expect(tracker.failures("w") == 0)
    }

    @Test func heldServicesAndTheirDependentsLeaveThePlan() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let p = try await plan(engine: engine)
        let trimmed = p.without(services: ["db"])
        // db, its wait, migrate (waits on db) and web (waits on db and migrate) go; infrastructure and cache stay.
        #expect(trimmed.text == """
            + network shop-net (no network)
            + volume shop-data (no volume)
            + create cache (no existing container)
            """)
        #expect(trimmed.steps.map(\.id) == [0, 1, 2])
        #expect(trimmed.steps.allSatisfy { $0.dependsOn.allSatisfy { $0 < trimmed.steps.count } })
    }
}

@Suite struct LeaseTests {
    @Test func oneHolderAtATimeUntilReleasedOrExpired() throws {
        let store = try StateStore.inMemory()
        #expect(try store.acquireLease(environment: "e", holder: "controller", holderID: "a", ttl: 30) == .acquired)
        guard case let .heldBy(lease) = try store.acquireLease(environment: "e", holder: "apply", holderID: "b", ttl: 30) else {
            Issue.record("a second holder got the lease"); return
        }
        #expect(lease.holderID == "a")
        #expect(try store.renewLease(environment: "e", holderID: "a", ttl: 30))
        #expect(try !store.renewLease(environment: "e", holderID: "b", ttl: 30))
        try store.releaseLease(environment: "e", holderID: "a")
        #expect(try store.acquireLease(environment: "e", holder: "apply", holderID: "b", ttl: -1) == .acquired)
        // b's lease is already expired, so c may take it.
        #expect(try store.acquireLease(environment: "e", holder: "controller", holderID: "c", ttl: 30) == .acquired)
        #expect(try store.breakLease(environment: "e")?.holderID == "c")
        #expect(try store.currentLease(environment: "e") == nil)
    }
}
