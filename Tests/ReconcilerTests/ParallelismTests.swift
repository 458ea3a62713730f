import EnvSpec
import Testing
import TestSupport
@testable import Reconciler

/// The default parallelism comes from the engine's measured throughput (ParallelismTuner).
@Suite struct ParallelismTunerTests {
    /// `rates` as operations per second at each level: 1,000 ms of busy time per sample.
    func samples(_ rates: [Int: Int]) -> [ThroughputSample] {
        rates.map { ThroughputSample(parallel: $0.key, steps: $0.value, busyMilliseconds: 1000) }
    }

    @Test func anEngineNeverMeasuredStartsAtEight() {
        #expect(ParallelismTuner.choose([]) == .init(parallel: 8, reason: "no measurements yet"))
    }

    @Test func theFastestLevelAtTheTopOfWhatWasMeasuredTriesTheNextOneUp() {
        #expect(ParallelismTuner.choose(samples([8: 30])) == .init(parallel: 12, reason: "trying 12: 8 is the fastest measured"))
        #expect(ParallelismTuner.choose(samples([8: 30, 12: 40])) == .init(parallel: 16, reason: "trying 16: 12 is the fastest measured"))
    }

    /// 12 is no faster than 8 (within 5 %): the fewer at once wins, and the level below is tried.
    @Test func levelsWithinFivePercentCountAsEqualAndTheFewestWins() {
        #expect(ParallelismTuner.choose(samples([8: 40, 12: 41])) == .init(parallel: 6, reason: "trying 6: 8 is the fastest measured"))
        #expect(ParallelismTuner.choose(samples([6: 39, 8: 40, 12: 41])) == .init(parallel: 4, reason: "trying 4: 6 is the fastest measured"))
    }

    @Test func slowerNeighboursOnBothSidesSettleIt() {
        #expect(ParallelismTuner.choose(samples([4: 25, 6: 39, 8: 40, 12: 41])) == .init(parallel: 6, reason: "the fastest measured"))
        #expect(ParallelismTuner.choose(samples([8: 30, 12: 50, 16: 44])) == .init(parallel: 12, reason: "the fastest measured"))
    }

    @Test func theEndsOfTheLadderAreNotPassed() {
        #expect(ParallelismTuner.choose(samples([24: 10, 32: 20])) == .init(parallel: 32, reason: "the fastest measured"))
        #expect(ParallelismTuner.choose(samples([2: 20, 4: 10])) == .init(parallel: 2, reason: "the fastest measured"))
    }

    /// Samples add up: a long apply counts for more than a short one. Levels off the ladder
    /// (an explicit --parallel 5) and samples without busy time are left out.
    @Test func ratesSumTheSamplesOfALevel() {
        let rates = ParallelismTuner.rates([
            ThroughputSample(parallel: 8, steps: 10, busyMilliseconds: 1000),
            ThroughputSample(parallel: 8, steps: 50, busyMilliseconds: 9000),
            ThroughputSample(parallel: 5, steps: 50, busyMilliseconds: 1000),
            ThroughputSample(parallel: 12, steps: 3, busyMilliseconds: 0),
        ])
        #expect(rates == [8: 6.0])
    }
}

/// What a run of the executor says about the engine's throughput.
@Suite struct ThroughputMeasurementTests {
    func wide(_ count: Int) -> String {
        let services = (0..<count).map { "\"s\($0)\": {\"image\": \"busybox\"}" }
        return "{\"name\": \"wide\", \"services\": {\(services.joined(separator: ","))}}"
    }

    @Test(.timeLimit(.minutes(1))) func aRunThatKeptTheEngineAtItsLevelIsASample() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        engine.createBarrier = 4
        let report = await Executor(engine: engine, maxParallel: 4).run(try await plan(wide(16), engine: engine), revision: 1)
        #expect(report.succeeded)
        #expect(report.throughput?.parallel == 4)
        #expect(report.throughput?.steps == 16)
    }

    @Test func aRunTooNarrowForItsLevelSaysNothing() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let report = await Executor(engine: engine, maxParallel: 8).run(try await plan(wide(6), engine: engine), revision: 1)
        #expect(report.succeeded)
        #expect(report.throughput == nil)
    }

    @Test(.timeLimit(.minutes(1))) func aRunThatPulledSaysNothing() async throws {
        let engine = FakeEngine(images: [:])
        engine.createBarrier = 2
        let json = wide(8).replacingOccurrences(of: "\"image\": \"busybox\"", with: "\"image\": \"busybox\", \"pullPolicy\": \"always\"")
        let report = await Executor(engine: engine, maxParallel: 2).run(try await plan(json, engine: engine), revision: 1)
        #expect(report.succeeded)
        #expect(report.throughput == nil)
    }
}
