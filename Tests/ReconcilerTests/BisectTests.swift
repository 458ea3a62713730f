import Testing
@testable import Reconciler
import EnvSpec
import StateStore

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

@Suite struct TeammateDiffTests {
    @Test func eachDifferenceIsOneLine() {
        var spec = EnvironmentSpec(name: "e")
        var web = ServiceSpec(image: "web:1")
        web.env = ["MODE": .literal("dev"), "SAME": .literal("x")]
        spec.services["web"] = web
        let lock = ["web": ImageLock(reference: "web:1", digest: "r/web@sha256:\(String(repeating: "a", count: 64))")]
        let mine = TeammateDiff.Side(spec: spec, lock: lock, seeds: ["schema": .init(checksum: "c1", status: "succeeded", revision: 1)],
                                     snapshots: [], devstackVersion: "0.1.0")
        #expect(TeammateDiff.compare(mine: mine, theirs: mine).isEmpty)
        var theirs = mine
        theirs.spec.services["web"]!.env["MODE"] = .literal("prod")
        theirs.lock["web"]!.digest = "r/web@sha256:\(String(repeating: "b", count: 64))"
        theirs.seeds["schema"] = .init(checksum: "c2", status: "failed", revision: 3)
        theirs.devstackVersion = "0.2.0"
        let lines = TeammateDiff.compare(mine: mine, theirs: theirs).map(\.line)
        #expect(lines == ["devstack: version: 0.1.0 → 0.2.0",
                          "seed schema: checksum: c1 → c2",
                          "seed schema: last run: succeeded → failed",
                          "service web: env.MODE: \"dev\" → \"prod\"",
                          "service web: image digest: sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb"])
    }
}
