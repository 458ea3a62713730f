import Application
import EnvSpec
import Foundation
import StateStore
import Testing
import TestSupport
@testable import Reconciler

let seeded = """
{
  "name": "shop",
  "services": { "db": { "image": "busybox", "volumes": ["static:/static"] } },
  "seeds": {
    "schema": { "service": "db", "exec": ["mysql"], "stdin": "seeds/schema.sql" },
    "data": { "service": "db", "exec": ["mysql", "shop"], "stdin": "seeds/data.sql", "after": ["schema"] },
    "assets": { "volume": "static", "copy": "seeds/logo.txt" }
  }
}
"""

@Suite struct SeedPlannerTests {
    let spec = try! SpecBuilder.parse(seeded)
    let sums = ["schema": "s1", "data": "d1", "assets": "a1"]

    func run(_ seed: String, _ checksum: String, _ status: SeedRunStatus, revision: Int = 1) -> SeedRun {
        SeedRun(id: 1, seed: seed, checksum: checksum, revision: revision, startedAt: "", finishedAt: nil, status: status, durationMs: nil, outputTail: "")
    }

    @Test func neverRunSeedsRunInDependencyOrder() {
        let plan = SeedPlanner.plan(spec, checksums: sums, ledger: [:])
        #expect(plan.map(\.name) == ["assets", "schema", "data"])
        #expect(plan.allSatisfy { $0.verdict == .run("never run") })
    }

    @Test func unchangedSeedsAreSkippedWithTheReason() {
        let ledger = ["schema": run("schema", "s1", .succeeded), "data": run("data", "d1", .succeeded), "assets": run("assets", "a1", .succeeded)]
        let plan = SeedPlanner.plan(spec, checksums: sums, ledger: ledger)
        #expect(plan.first { $0.name == "data" }?.verdict == .skip("unchanged since revision 1 (checksum d1)"))
        #expect(plan.allSatisfy { if case .skip = $0.verdict { return true } else { return false } })
    }

    @Test func changedFailedOrUnfinishedSeedsRerunAndSoDoTheirDependents() {
        let ledger = ["schema": run("schema", "old", .succeeded), "data": run("data", "d1", .succeeded), "assets": run("assets", "a1", .running)]
        let plan = Dictionary(uniqueKeysWithValues: SeedPlanner.plan(spec, checksums: sums, ledger: ledger).map { ($0.name, $0.verdict) })
        #expect(plan["schema"] == .run("definition or files changed (checksum old → s1)"))
        #expect(plan["data"] == .run("seed schema it runs after is rerunning"))
        #expect(plan["assets"] == .run("last run did not finish"))
        let failed = SeedPlanner.plan(spec, checksums: sums, ledger: ["schema": run("schema", "s1", .failed)], only: ["schema"])
        #expect(failed.map(\.verdict) == [.run("last run failed")])
        #expect(SeedPlanner.plan(spec, checksums: sums, ledger: ["schema": run("schema", "s1", .succeeded)], only: ["schema"], force: true).map(\.verdict) == [.run("forced")])
    }

    @Test func checksumsCoverTheFilesASeedReads() {
        let seed = spec.seeds["schema"]!
        let a = SeedPlanner.checksum(seed, files: ["seeds/schema.sql": Data("CREATE TABLE a;".utf8)])
        let b = SeedPlanner.checksum(seed, files: ["seeds/schema.sql": Data("CREATE TABLE b;".utf8)])
        #expect(a != b)
        #expect(a == SeedPlanner.checksum(seed, files: ["seeds/schema.sql": Data("CREATE TABLE a;".utf8)]))
    }
}

@Suite struct SeedRunnerTests {
    func setUp() async throws -> (FakeEngine, StateStore, DesiredState, FakeHost) {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(seeded, engine: engine)
        let store = try StateStore.inMemory()
        var host = FakeHost()
        host.files = ["seeds/schema.sql": "CREATE DATABASE shop;", "seeds/data.sql": "INSERT 1;", "seeds/logo.txt": "logo"]
        return (engine, store, try SpecBuilder.desired(seeded), host)
    }

    @Test func seedsFeedTheirFileThroughStdinAndAreRecorded() async throws {
        let (engine, store, desired, host) = try await setUp()
        let runner = SeedRunner(Reconciler(engine: engine, records: store, host: host), store: store)
        let first = try await runner.run(desired, projectDirectory: "/project")
        #expect(first.map(\.status) == [.succeeded, .succeeded, .succeeded])
        #expect(engine.execs.first { $0.command.contains("mysql") }?.command == ["sh", "-c", "exec \"$@\" < /tmp/devstack-seed-schema", "devstack-seed", "mysql"])
        #expect(engine.archives.contains { $0.container == "shop-db" && $0.path == "/tmp" && $0.entries == ["devstack-seed-schema"] })
        #expect(engine.archives.contains { $0.path == "/devstack-volume" && $0.entries == ["logo.txt"] })
        let second = try await runner.run(desired, projectDirectory: "/project")
        #expect(second.map(\.status) == [.skipped, .skipped, .skipped])
        #expect(try store.seedLedger(environment: "shop")["data"]?.status == .succeeded)
    }

    @Test func aFailedSeedBlocksOnlyWhatRunsAfterIt() async throws {
        let (engine, store, desired, host) = try await setUp()
        engine.execExitCodes = ["mysql": 1]
        let outcomes = try await SeedRunner(Reconciler(engine: engine, records: store, host: host), store: store).run(desired, projectDirectory: "/project")
        let byName = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.name, $0.status) })
        #expect(byName == ["assets": .succeeded, "schema": .failed, "data": .blocked])
        #expect(try store.seedLedger(environment: "shop")["schema"]?.status == .failed)
    }
}

@Suite struct TarSafetyTests {
    func archive(_ name: String, type: Character = "0") throws -> Data {
        var out = Data()
        try Tar.header(into: &out, name: name, size: 0, mode: 0o644, type: type)
        return out + Data(count: 1024)
    }

    @Test func safeArchivesPass() throws {
        #expect(try Tar.validate(try Tar.single(name: "a/b.txt", contents: Data("x".utf8))) == ["a/b.txt"])
    }

    @Test(arguments: [("/etc/passwd", Character("0")), ("a/../../x", "0"), ("link", "2"), ("dev", "3")])
    func unsafeEntriesAreRefused(name: String, type: Character) throws {
        #expect(throws: Tar.UnsafeEntry.self) { try Tar.validate(try archive(name, type: type)) }
    }
}

@Suite struct SnapshotArchiveTests {
    func link(_ name: String, to target: String) throws -> Data {
        var out = Data()
        try Tar.header(into: &out, name: name, size: 0, mode: 0o777, type: "2", link: target)
        return out + Data(count: 1024)
    }

    @Test func volumesMayHoldLinksThatStayInside() throws {
        #expect(try Tar.validate(try link("bin/tool", to: "../lib/tool"), allowRelativeLinks: true) == ["bin/tool"])
        #expect(throws: Tar.UnsafeEntry.self) { try Tar.validate(try link("bin/tool", to: "../lib/tool")) }
    }

    @Test(arguments: ["/etc/shadow", "../../etc/shadow", "../a/../../x"])
    func linksOutOfTheVolumeAreRefused(target: String) throws {
        #expect(throws: Tar.UnsafeEntry.self) { try Tar.validate(try link("bin/tool", to: target), allowRelativeLinks: true) }
    }

    @Test func gzipRoundTripsAndRefusesGarbage() throws {
        let tar = try Tar.files([("/etc/app/a.yml", Data(repeating: 65, count: 100_000), 0o644)])
        let packed = try Gzip.compress(tar)
        #expect(packed.count < tar.count / 10)
        #expect(try Gzip.decompress(packed) == tar)
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Data([0x1f, 0x8b]) + Data(repeating: 7, count: 64)) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(packed, limit: 1000) }
    }

    @Test func unpackChecksTheDigestBeforeAnythingElse() throws {
        let tar = try Tar.single(name: "f", contents: Data("x".utf8))
        let packed = try Gzip.compress(tar)
        let digest = CanonicalJSON.sha256(packed)
        #expect(try SnapshotManager.unpack(packed, sha256: digest, snapshot: "s", volume: "v") == tar)
        var flipped = packed
        flipped[flipped.count / 2] ^= 1
        #expect {
            try SnapshotManager.unpack(flipped, sha256: digest, snapshot: "s", volume: "v")
        } throws: { "\($0)".contains("does not match its recorded sha256") && "\($0)".contains("nothing was changed") }
        let unsafe = try Gzip.compress(try link("x", to: "/etc/passwd"))
        #expect {
            try SnapshotManager.unpack(unsafe, sha256: CanonicalJSON.sha256(unsafe), snapshot: "s", volume: "v")
        } throws: { "\($0)".contains("links outside the archive") }
    }

    @Test func configFilesArchiveWithTheirFolders() throws {
        let tar = try Tar.files([("/etc/app/a.yml", Data("a".utf8), 0o644), ("/etc/app/b.yml", Data("b".utf8), 0o644)])
        #expect(try Tar.validate(tar) == ["etc/", "etc/app/", "etc/app/a.yml", "etc/app/b.yml"])
    }
}

@Suite struct ArchiveFuzzTests {
    /// Mutated archives: checks either pass or throw, never crash, and what passes has no unsafe name.
    @Test func mutatedArchivesNeverCrashTheChecks() throws {
        var state: UInt64 = 0x7A12
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(max(n, 1)))
        }
        let tar = try Tar.files([("/etc/app/a.yml", Data("a: 1\n".utf8), 0o644), ("/srv/data/b", Data(repeating: 7, count: 3000), 0o600)])
        let packed = try Gzip.compress(tar)
        var passed = 0
        for _ in 0..<5_000 {
            var t = tar, g = packed
            for _ in 0...next(4) { t[next(t.count)] = UInt8(next(256)); g[next(g.count)] = UInt8(next(256)) }
            if let names = try? Tar.validate(t, allowRelativeLinks: true) {
                passed += 1
                #expect(names.allSatisfy { !$0.hasPrefix("/") && !$0.split(separator: "/").contains("..") })
            }
            _ = try? Gzip.decompress(g, limit: 1 << 20)
            _ = try? Gzip.decompress(Data(g.prefix(next(g.count))), limit: 1 << 20)
        }
        #expect(passed > 0)
    }
}
