import Testing
@testable import Reconciler

@Suite struct BisectTests {
    /// Walks the search against a planted first bad revision and counts the tests it needs.
    func walk(good: Int, bad: Int, firstBad: Int, untestable: Set<Int> = []) -> (found: Int?, tested: [Int]) {
        var search = BisectSearch(good: good, bad: bad, revisions: Array(good...bad))
        var tested: [Int] = []
        while let next = search.next {
            tested.append(next)
            search.record(next, untestable.contains(next) ? .skip : next >= firstBad ? .bad : .good)
        }
        return (search.firstBad, tested)
    }

    @Test(arguments: 2...8)
    func findsThePlantedRevisionInLogSteps(firstBad: Int) {
        let (found, tested) = walk(good: 1, bad: 8, firstBad: firstBad)
        #expect(found == firstBad)
        #expect(tested.count <= 3, "8 revisions need at most 3 tests: \(tested)")
        #expect(!tested.contains(1) && !tested.contains(8), "the ends are known")
    }

    @Test func skippedRevisionsAreReportedAsUndecided() {
        var search = BisectSearch(good: 1, bad: 5, revisions: Array(1...5))
        search.record(3, .skip)
        search.record(2, .good)
        search.record(4, .bad)
        #expect(search.next == nil)
        #expect(search.firstBad == 4)
        #expect(search.undecided == [3], "3 could be the first bad one")
        var other = BisectSearch(good: 1, bad: 3, revisions: Array(1...3))
        other.record(2, .skip)
        #expect(other.firstBad == 3 && other.undecided == [2])
    }
}
