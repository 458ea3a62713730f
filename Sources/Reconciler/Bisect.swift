/// The search behind `devstack bisect`: which revision to try next, given what is known. Pure,
/// so the walk is tested without an engine; the command applies and runs the test.
public struct BisectSearch: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable { case good, bad, skip }

    /// Revisions from the known-good one to the known-bad one, inclusive.
    public private(set) var revisions: [Int]
    public private(set) var good: Int
    public private(set) var bad: Int
    public private(set) var skipped: Set<Int> = []

    public init(good: Int, bad: Int, revisions: [Int]) {
        self.good = good
        self.bad = bad
        self.revisions = revisions.filter { $0 >= good && $0 <= bad }.sorted()
    }

    /// The untested revisions strictly between good and bad.
    var open: [Int] { revisions.filter { $0 > good && $0 < bad && !skipped.contains($0) } }

    /// The middle of what is left to test; nil when the answer is known.
    public var next: Int? {
        let candidates = open
        return candidates.isEmpty ? nil : candidates[candidates.count / 2]
    }

    /// The first bad revision, once nothing is left to test.
    public var firstBad: Int? { next == nil ? bad : nil }

    /// Revisions that could not be tested and sit between the last good and the first bad.
    public var undecided: [Int] { revisions.filter { $0 > good && $0 < bad && skipped.contains($0) } }

    public mutating func record(_ revision: Int, _ verdict: Verdict) {
        switch verdict {
        case .good: good = max(good, revision)
        case .bad: bad = min(bad, revision)
        case .skip: skipped.insert(revision)
        }
    }
}
