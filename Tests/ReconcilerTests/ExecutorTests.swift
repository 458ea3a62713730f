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
