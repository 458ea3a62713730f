import Application
import EnvSpec
import Foundation
import Testing
@testable import Reconciler

/// Bytes are bytes: two files that differ only in bytes that are not UTF-8 hash differently.
@Suite struct ByteHashingTests {
    // 0xFF and 0xFE are both invalid UTF-8: decoded as text, both became U+FFFD.
    let a = Data([0x1F, 0x8B, 0x08, 0x00, 0xFF, 0x00])
    let b = Data([0x1F, 0x8B, 0x08, 0x00, 0xFE, 0x00])

    @Test func aSeedChecksumSeesAFlippedBinaryByte() {
        let seed = SeedSpec(volume: "data", action: .copy("seed.tar.gz"))
        #expect(SeedPlanner.checksum(seed, files: ["seed.tar.gz": a]) != SeedPlanner.checksum(seed, files: ["seed.tar.gz": b]))
    }

    @Test func aBuildContextHashSeesAFlippedBinaryByte() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctx-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try a.write(to: URL(fileURLWithPath: dir + "/app.bin"))
        let before = try LocalHost().contextHash(dir, dockerfile: "Dockerfile")
        try b.write(to: URL(fileURLWithPath: dir + "/app.bin"))
        #expect(try LocalHost().contextHash(dir, dockerfile: "Dockerfile") != before)
    }
}

@Suite struct OutsideDisruptionTests {
    @Test func aKilledStoppedOrRemovedContainerIsNotACrash() {
        #expect(EngineEvent.Action("kill").isOutsideDisruption)
        #expect(EngineEvent.Action("stop").isOutsideDisruption)
        #expect(EngineEvent.Action("destroy").isOutsideDisruption)
        #expect(!EngineEvent.Action("die").isOutsideDisruption)
        #expect(!EngineEvent.Action("oom").isOutsideDisruption)
    }

    @Test func forgivingAServiceLetsItStartAtOnceAfterAHold() {
        var tracker = CrashLoopTracker(base: .seconds(1), cap: .seconds(60), stableAfter: .seconds(10))
        let start = Duration.seconds(100)
        #expect(tracker.admit("web", now: start) == .go)
        guard case .hold = tracker.admit("web", now: start + .milliseconds(500)) else { Issue.record("a quick second start is a crash"); return }
        tracker.forgive("web")
        #expect(tracker.admit("web", now: start + .milliseconds(600)) == .go)
        #expect(tracker.failures("web") == 0)
    }
}

@Suite struct TrailingWaitTests {
    @Test func waitsNobodyNeedsAreDroppedAndTheOthersKept() {
        let web = Workload(environment: "e", service: "web", name: "e-web", image: "i", env: [:], ports: [], mounts: [], networks: [],
                           restart: .no, resources: ResourcesSpec(), labels: [:], healthcheck: nil, initProcess: true)
        let plan = Plan(environment: "e", steps: [
            Plan.Step(id: 0, action: .create(web), service: "web", cause: "no existing container", dependsOn: []),
            Plan.Step(id: 1, action: .waitHealthy(web), service: "web", cause: "dependents need it healthy", dependsOn: [0]),
            Plan.Step(id: 2, action: .start(containerID: "w"), service: "worker", cause: "container exited (code 1)", dependsOn: [1]),
            Plan.Step(id: 3, action: .waitHealthy(web), service: "worker", cause: "converge to healthy", dependsOn: [2]),
        ], problems: [])
        let trimmed = plan.withoutTrailingWaits()
        #expect(trimmed.steps.map(\.cause) == ["no existing container", "dependents need it healthy", "container exited (code 1)"])
        #expect(trimmed.steps.map(\.dependsOn) == [[], [0], [1]])
    }
}
