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

    @Test func verifyChecksTheDigestAndTheEntriesOfAFile() throws {
        let folder = CLI.temporaryDirectory("devstack-verify")
        func source(_ data: Data) throws -> RestoreSource {
            let path = folder + "/a-\(UUID().uuidString).tar.gz"
            try data.write(to: URL(fileURLWithPath: path))
            return RestoreSource(volume: "v", path: path, sha256: CanonicalJSON.sha256(data))
        }
        let packed = try Gzip.compress(try Tar.single(name: "f", contents: Data("x".utf8)))
        try SnapshotManager.verify([try source(packed)], label: "s", entries: true)
        var flipped = try source(packed)
        var bytes = packed
        bytes[bytes.count / 2] ^= 1
        try bytes.write(to: URL(fileURLWithPath: flipped.path))
        #expect {
            try SnapshotManager.verify([flipped], label: "s", entries: true)
        } throws: { "\($0)".contains("does not match its recorded sha256") && "\($0)".contains("nothing was changed") }
        flipped.path = folder + "/missing.tar.gz"
        #expect { try SnapshotManager.verify([flipped], label: "s", entries: false) } throws: { "\($0)".contains("is missing") }
        let unsafe = try source(try Gzip.compress(try link("x", to: "/etc/passwd")))
        #expect { try SnapshotManager.verify([unsafe], label: "s", entries: true) } throws: { "\($0)".contains("links outside the archive") }
        try SnapshotManager.verify([unsafe], label: "s", entries: false)
        let fifo = folder + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect {
            try SnapshotManager.verify([RestoreSource(volume: "v", path: fifo, sha256: "")], label: "s", entries: true)
        } throws: { "\($0)".contains("not a regular file") }
    }

    @Test func configFilesArchiveWithTheirFolders() throws {
        let tar = try Tar.files([("/etc/app/a.yml", Data("a".utf8), 0o644), ("/etc/app/b.yml", Data("b".utf8), 0o644)])
        #expect(try Tar.validate(tar) == ["etc/", "etc/app/", "etc/app/a.yml", "etc/app/b.yml"])
    }
}

/// Archives pass through fixed-size pieces: the streaming gzip and tar checks must give the
/// same answers whatever the cut points.
@Suite struct StreamingArchiveTests {
    /// Deterministic bytes that gzip can shrink only partly.
    func sample(_ count: Int) -> Data {
        var state: UInt32 = 12345
        return Data((0..<count).map { i in
            state = state &* 1103515245 &+ 12345
            return i % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 16) : UInt8(i % 7)
        })
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func gzipInPiecesRoundTrips(pieceSize: Int) throws {
        let input = sample(300_000)
        let deflater = try Gzip.Deflater()
        var packed = Data()
        for start in stride(from: 0, to: input.count, by: max(pieceSize, 997)) {
            packed.append(try deflater.push(input[start..<min(start + max(pieceSize, 997), input.count)]))
        }
        packed.append(try deflater.finish())
        #expect(try Gzip.decompress(packed) == input)
        let inflater = try Gzip.Inflater()
        var out = Data()
        for start in stride(from: 0, to: packed.count, by: pieceSize) {
            try inflater.push(packed[start..<min(start + pieceSize, packed.count)]) { out.append($0) }
        }
        #expect(inflater.finished)
        #expect(out == input)
    }

    @Test func inflatingABombNeverHoldsMoreThanOnePiece() throws {
        let packed = try Gzip.compress(Data(count: 64 << 20))
        #expect(packed.count < 100_000)
        let inflater = try Gzip.Inflater()
        try inflater.give(packed)
        var total = 0, largest = 0
        while let piece = try inflater.take() {
            total += piece.count
            largest = max(largest, piece.count)
        }
        #expect(total == 64 << 20)
        #expect(largest == 256 << 10)
    }

    @Test func dataAfterTheEndOrATruncatedStreamIsRefused() throws {
        let packed = try Gzip.compress(Data("hello".utf8))
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(packed + Data([1, 2, 3])) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(packed.prefix(packed.count - 4)) }
    }

    @Test(arguments: [1, 100, 511, 512, 513, 5000])
    func theValidatorSeesTheSameEntriesWhateverTheCuts(pieceSize: Int) throws {
        var tar = Data()
        let longName = String(repeating: "d/", count: 80) + "file"
        try Tar.header(into: &tar, name: "././@LongLink", size: longName.utf8.count + 1, mode: 0, type: "L")
        tar.append(Data(longName.utf8) + Data(count: 1))
        tar.append(Data(count: (512 - (longName.utf8.count + 1) % 512) % 512))
        try Tar.appendFile(into: &tar, name: "ignored-short-name", contents: sample(1500), mode: 0o644)
        try Tar.appendFile(into: &tar, name: "b", contents: Data("x".utf8), mode: 0o644)
        tar.append(Data(count: 1024))
        var validator = Tar.Validator(keepNames: true)
        for start in stride(from: 0, to: tar.count, by: pieceSize) { try validator.feed(tar[start..<min(start + pieceSize, tar.count)]) }
        #expect(validator.names == [longName, "b"])
        #expect(try Tar.validate(tar) == [longName, "b"])
    }

    @Test func aPaxSizeAndABase256SizeAreFollowed() throws {
        // A pax header says the next entry holds 600 bytes while its own size field says 0; its
        // data starts with what looks like an unsafe header, which must be read as data.
        var tar = Data()
        let record = " size=600\n"
        let line = "\(record.utf8.count + 2)\(record)"
        try Tar.header(into: &tar, name: "pax", size: line.utf8.count, mode: 0, type: "x")
        tar.append(Data(line.utf8) + Data(count: 512 - line.utf8.count))
        try Tar.header(into: &tar, name: "big", size: 0, mode: 0o644, type: "0")
        try Tar.header(into: &tar, name: "/etc/passwd", size: 0, mode: 0o644, type: "0")
        tar.append(Data(count: 88 + 424 + 1024))
        #expect(try Tar.validate(tar) == ["big"])
        // GNU base-256: 0x80, then the size big-endian.
        var block = [UInt8](repeating: 0, count: 512)
        block[124] = 0x80
        block[134] = 0x01
        block[135] = 0x02
        #expect(Tar.Validator.size(block) == 0x0102)
    }

    @Test func aCheckedStreamStopsBeforeAnUnsafeHeaderIsWhole() async throws {
        var tar = try Tar.single(name: "fine", contents: Data(count: 700)).dropLast(1024)
        try Tar.header(into: &tar, name: "/etc/passwd", size: 0, mode: 0o644, type: "0")
        let pieces = stride(from: 0, to: tar.count, by: 100).map { Data(tar[($0 + tar.startIndex)..<min($0 + tar.startIndex + 100, tar.endIndex)]) }
        let source = ByteChunks { continuation in
            for piece in pieces { continuation.yield(piece) }
            continuation.finish()
        }
        var passed = 0
        await #expect(throws: Tar.UnsafeEntry.self) {
            for try await piece in Tar.checking(source, allowRelativeLinks: false) { passed += piece.count }
        }
        #expect(tar.count == 2048)
        #expect(passed == 2000, "every piece before the one completing the unsafe header passed, that one did not")
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
