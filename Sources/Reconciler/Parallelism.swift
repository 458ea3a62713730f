import EnvSpec

/// How many engine operations an apply runs at once when the user does not say: chosen from the
/// engine's own measured throughput, not a constant. Each apply that kept the engine busy at its
/// level leaves a sample (operations finished, time the engine was busy); the next apply runs at
/// the level that did the most per second, or tries the next level past the fastest one measured
/// so far. Levels within a few percent of the fastest count as fast, and the fewest operations
/// at once wins among them: the same speed with less contention. Pure, so every rule is tested.
public enum ParallelismTuner {
    /// The levels tried, in order.
    public static let ladder = [2, 4, 6, 8, 12, 16, 24, 32]
    /// Where an engine with no measurements starts.
    public static let initial = 8
    /// Throughputs this close to the fastest count as equal.
    public static let tolerance = 0.05

    public struct Choice: Sendable, Equatable {
        public var parallel: Int
        /// Why, for `doctor` and the docs.
        public var reason: String
        public init(parallel: Int, reason: String) {
            self.parallel = parallel
            self.reason = reason
        }
    }

    /// Operations per second at each measured level, from the samples (sums, so a long apply
    /// counts for more than a short one).
    public static func rates(_ samples: [ThroughputSample]) -> [Int: Double] {
        var steps: [Int: Int] = [:], busy: [Int: Int] = [:]
        for sample in samples where sample.busyMilliseconds > 0 && ladder.contains(sample.parallel) {
            steps[sample.parallel, default: 0] += sample.steps
            busy[sample.parallel, default: 0] += sample.busyMilliseconds
        }
        return steps.reduce(into: [:]) { rates, entry in rates[entry.key] = Double(entry.value) * 1000 / Double(busy[entry.key]!) }
    }

    public static func choose(_ samples: [ThroughputSample]) -> Choice {
        let rates = rates(samples)
        guard let fastest = rates.values.max() else { return Choice(parallel: initial, reason: "no measurements yet") }
        let best = rates.filter { $0.value >= fastest * (1 - tolerance) }.keys.min()!
        let measured = rates.keys.sorted()
        let index = ladder.firstIndex(of: best)!
        if best == measured.last, index + 1 < ladder.count {
            return Choice(parallel: ladder[index + 1], reason: "trying \(ladder[index + 1]): \(best) is the fastest measured")
        }
        if best == measured.first, index > 0 {
            return Choice(parallel: ladder[index - 1], reason: "trying \(ladder[index - 1]): \(best) is the fastest measured")
        }
        return Choice(parallel: best, reason: "the fastest measured")
    }
}
