import Application
import EnvSpec
import Foundation
import StateStore
import Testing
import TestSupport
@testable import Reconciler

@Suite struct ExecutorTests {
    @Test func aFailureSkipsDependentsOnlyAndIsRecorded() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        engine.failStart["db"] = "port is already allocated"
        let p = try await plan(engine: engine)
        let events = EventLog()
        let report = await Executor(engine: engine, recordEvent: { events.append($0) }).run(p, revision: 1)
        let byService = Dictionary(grouping: p.steps, by: { $0.service ?? "-" })
        func outcome(_ service: String, wait: Bool = false) -> StepOutcome? {
            byService[service]?.first { $0.action.isWait == wait }.flatMap { report.outcomes[$0.id] }
        }
        #expect(outcome("db") == .failed("db: port is already allocated"))
        #expect(outcome("cache") == .succeeded)
        if case .skipped = outcome("migrate") {} else { Issue.record("migrate should be skipped, got \(String(describing: outcome("migrate")))") }
        if case .skipped = outcome("web") {} else { Issue.record("web should be skipped") }
        #expect(!report.succeeded)
        #expect(events.all.count == p.steps.count)
        #expect(events.all.contains { $0.service == "db" && $0.action == "create" && $0.outcome == "failed" && $0.cause == "no existing container" })
    }

    @Test(.timeLimit(.minutes(1))) func parallelismIsBounded() async throws {
        var services: [String] = []
        for i in 0..<16 { services.append("\"s\(i)\": {\"image\": \"busybox\"}") }
        let json = "{\"name\": \"wide\", \"services\": {\(services.joined(separator: ","))}}"
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        // Creates wait until four are in flight: an executor that ran fewer at once would hang
        // (and the test time out), one that ran more would be seen doing so.
        engine.createBarrier = 4
        let p = try await plan(json, engine: engine)
        let report = await Executor(engine: engine, maxParallel: 4).run(p, revision: 1)
        #expect(report.succeeded)
        #expect(engine.maxConcurrentCreates == 4)
    }

    @Test func anUnhealthyServiceFailsWithItsCheckAndBlocksDependents() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        engine.unhealthy = ["db"]
        let p = try await plan(engine: engine)
        let report = await Executor(engine: engine).run(p, revision: 1)
        let wait = p.steps.first { $0.service == "db" && $0.action.isWait }!
        guard case let .failed(message)? = report.outcomes[wait.id] else { Issue.record("db wait should fail"); return }
        #expect(message.contains("not healthy after"))
        #expect(message.contains("not ready"))
        #expect(!engine.calls.contains("create web"))
    }
}

/// A changed container is replaced by a successor created while it stops (Executor.replace).
@Suite struct ReplacementTests {
    static let changed = shop.replacingOccurrences(of: "\"cache\": { \"image\": \"busybox\" }",
                                                   with: "\"cache\": { \"image\": \"busybox\", \"env\": { \"SIZE\": \"2\" } }")

    /// The environment converged at revision 1, then planned at revision 2 with cache changed.
    func changedCache(_ engine: FakeEngine) async throws -> (Plan, oldID: String) {
        #expect(try await converge(engine: engine).succeeded)
        let oldID = engine.containers.values.first { $0.workload.service == "cache" }!.id
        engine.resetCalls()
        let p = try await plan(Self.changed, engine: engine, revision: 2)
        #expect(p.steps.map(\.action.verb) == ["recreate"])
        return (p, oldID)
    }

    func caches(_ engine: FakeEngine) -> [FakeEngine.Container] {
        engine.containers.values.filter { $0.workload.service == "cache" }
    }

    @Test func theSuccessorIsCreatedUnderTheNameTheOldOneGaveUp() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let (p, oldID) = try await changedCache(engine)
        let report = await Executor(engine: engine).run(p, revision: 2)
        #expect(report.succeeded)
        // cache holds no host port, volume or fixed address: its successor starts at once, and
        // the old one is removed once it has stopped.
        #expect(engine.calls == ["rename cache", "create cache", "start cache", "remove cache"])
        let left = caches(engine)
        #expect(left.map(\.workload.name) == ["shop-cache"])
        #expect(left.map(\.workload.env["SIZE"]) == ["2"])
        #expect(left.map(\.state) == [.running])
        #expect(left.first?.id != oldID)
        #expect(report.containers["cache"] == left.first?.id)
    }

    /// Only a successor that holds nothing two containers cannot share runs beside the old one.
    @Test func onlyASuccessorHoldingNothingExclusiveStartsBeforeTheOldOneStops() throws {
        let desired = try SpecBuilder.desired(#"""
            {"name": "s", "networks": {"fixed": {"subnets": ["10.9.0.0/24"]}}, "services": {
              "free": {"image": "busybox", "ports": ["8080"]},
              "port": {"image": "busybox", "ports": ["127.0.0.1:8080:80"]},
              "volume": {"image": "busybox", "volumes": ["data:/data"]},
              "bind": {"image": "busybox", "volumes": ["./src:/src"]},
              "address": {"image": "busybox", "networks": {"fixed": {"ipv4Address": "10.9.0.5"}}}}}
            """#)
        let starts = desired.workloads.mapValues { Executor.startsBeforeTheOldStops($0) }
        #expect(starts == ["free": true, "port": false, "volume": false, "bind": false, "address": false])
    }

    @Test func anEngineThatCannotRenameStopsAndRemovesFirst() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        engine.renames = false
        let (p, _) = try await changedCache(engine)
        #expect(await Executor(engine: engine).run(p, revision: 2).succeeded)
        #expect(engine.calls == ["remove cache", "create cache", "start cache"])
        #expect(caches(engine).map(\.workload.name) == ["shop-cache"])
    }

    @Test func aSuccessorThatCannotBeCreatedLeavesNoStrayContainer() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let (p, _) = try await changedCache(engine)
        engine.failCreate["cache"] = "invalid mount config"
        let report = await Executor(engine: engine).run(p, revision: 2)
        #expect(report.failures.map(\.message) == ["cache: invalid mount config"])
        #expect(engine.calls == ["rename cache", "remove cache"])
        #expect(caches(engine).isEmpty)
    }

    @Test func aSuccessorThatCannotStartIsLeftAloneAndTheOldOneIsGone() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let (p, oldID) = try await changedCache(engine)
        engine.failStart["cache"] = "port is already allocated"
        let report = await Executor(engine: engine).run(p, revision: 2)
        #expect(report.failures.map(\.message) == ["cache: port is already allocated"])
        let left = caches(engine)
        #expect(left.map(\.workload.name) == ["shop-cache"])
        #expect(left.map(\.state) == [.exited(code: 1)])
        #expect(left.first?.id != oldID)
    }
}

@Suite struct ReconcilerTests {
    @Test func applyRecordsEventsAndTheAppliedImages() async throws {
        let store = try StateStore.inMemory()
        let spec = try SpecBuilder.parse(shop)
        _ = try store.record(spec, meta: RevisionMeta(author: "t", host: "h", source: .apply))
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let reconciler = Reconciler(engine: engine, records: store, host: FakeHost())
        let store2 = store
        let executor = Executor(engine: engine, recordEvent: { try? store2.appendEvent($0) })
        let outcome = try await reconciler.apply(try store.revision(environment: "shop"), executor: executor)
        #expect(outcome.converged)
        let applied = try store.lastApply(environment: "shop")
        #expect(applied?.outcome == .converged)
        #expect(applied?.images["web"] == "sha256:b1")
        #expect(try store.events(environment: "shop").count == outcome.plan.steps.count)
        engine.resetCalls()
        let again = try await reconciler.apply(try store.revision(environment: "shop"), executor: executor)
        #expect(again.plan.isEmpty)
        #expect(engine.calls.isEmpty)
    }

    @Test func secretsAreResolvedOnlyIntoTheWorkload() throws {
        let json = #"{"name": "s", "secrets": {"pw": {"fromEnv": "PW"}}, "services": {"a": {"image": "i", "env": {"P": {"secret": "pw"}}}}}"#
        let desired = try SpecBuilder.desired(json, secrets: ["PW": "hunter2"])
        #expect(desired.workloads["a"]!.env["P"] == "hunter2")
        #expect(!desired.spec.canonicalJSON.contains("hunter2"))
        #expect(throws: DesiredState.ResolveError.self) { try SpecBuilder.desired(json) }
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [EventRecord] = []
    func append(_ e: EventRecord) { lock.lock(); events.append(e); lock.unlock() }
    var all: [EventRecord] { lock.lock(); defer { lock.unlock() }; return events }
}
