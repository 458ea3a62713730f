import Foundation
import Testing
@testable import EnvSpec
@testable import StateStore

func spec(_ env: [String: String] = ["A": "1"], services: Int = 2) -> EnvironmentSpec {
    var s = EnvironmentSpec(name: "demo")
    for i in 0..<services {
        var service = ServiceSpec(image: "img:\(i)")
        service.env = env.mapValues { .literal($0) }
        s.services["svc\(i)"] = service
    }
    return s
}

let meta = RevisionMeta(author: "ada", host: "laptop", source: .apply)

func temporaryPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("devstack-test-\(UUID().uuidString)/state.db").path
}

@Suite struct MigrationTests {
    @Test func freshDatabaseGetsEveryMigration() throws {
        let store = try StateStore.inMemory()
        #expect(store.schemaVersion == Migration.embedded.map(\.version).max())
    }

    @Test func reopeningAppliesNothingTwice() throws {
        let path = temporaryPath()
        _ = try StateStore.open(path: path)
        let again = try StateStore.open(path: path)
        #expect(again.schemaVersion == Migration.embedded.count)
    }

    @Test func aNewerDatabaseIsRefusedAndLeftAlone() throws {
        let path = temporaryPath()
        let future = Migration.embedded + [Migration(version: 999, name: "0999_future", sql: "CREATE TABLE future (x);")]
        _ = try StateStore.open(path: path, migrations: future)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try StateStore.open(path: path) }
        do { _ = try StateStore.open(path: path) } catch {
            #expect(error.description.contains("written by a newer devstack (schema 999"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func aBackupIsTakenBeforeMigratingADatabaseWithData() throws {
        let path = temporaryPath()
        let older = try StateStore.open(path: path, migrations: Array(Migration.embedded.dropLast()))
        _ = try older.record(spec(), meta: meta)
        #expect(StateStore.backups(of: path).isEmpty, "a fresh database needs no backup")
        let upgraded = try StateStore.open(path: path)
        #expect(upgraded.schemaVersion == Migration.embedded.count)
        let backups = StateStore.backups(of: path)
        #expect(backups.count == 1)
        #expect(backups.first?.contains(".backup-schema\(Migration.embedded.count - 1)-") == true)
        // The backup is a whole database at the old schema, with the data.
        let restored = try StateStore.open(path: try #require(backups.first), migrations: Array(Migration.embedded.dropLast()))
        #expect(try restored.history(environment: "demo").count == 1)
        #expect(restored.schemaVersion == Migration.embedded.count - 1)
        _ = try StateStore.open(path: path)
        #expect(StateStore.backups(of: path).count == 1, "nothing to migrate, no new backup")
    }

    @Test func anEditedMigrationIsDetected() throws {
        let path = temporaryPath()
        _ = try StateStore.open(path: path)
        var edited = Migration.embedded
        edited[0].sql += "\n-- sneaky edit"
        do {
            _ = try StateStore.open(path: path, migrations: edited)
            Issue.record("expected the edit to be detected")
        } catch {
            #expect(error == .editedMigration(name: "0001_init"))
        }
    }

    @Test func aFileThatIsNotSQLiteIsRefused() throws {
        let path = temporaryPath()
        try FileManager.default.createDirectory(atPath: PathMath.directory(of: path), withIntermediateDirectories: true)
        try Data("this is not a database".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try StateStore.open(path: path) }
    }

    /// The embedded copy must match migrations/*.sql; run scripts/embed-migrations after adding one.
    @Test func embeddedMigrationsMatchTheirFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.map { String($0.dropLast(4)) } == Migration.embedded.map(\.name), "run scripts/embed-migrations")
        for (file, migration) in zip(files, Migration.embedded) {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines), "\(file) is stale: run scripts/embed-migrations")
        }
    }
}

@Suite struct RevisionTests {
    @Test func recordingTheSameStateTwiceWritesOnce() throws {
        let store = try StateStore.inMemory()
        guard case .recorded = try store.record(spec(), meta: meta) else { Issue.record("first record"); return }
        guard case let .unchanged(s) = try store.record(spec(), meta: meta) else { Issue.record("second record"); return }
        #expect(s.number == 1)
        #expect(try store.history(environment: "demo").count == 1)
    }

    @Test func revisionsChainAndNameChangedServices() throws {
        let store = try StateStore.inMemory()
        _ = try store.record(spec(), meta: meta)
        var next = spec()
        next.services["svc1"]!.env["A"] = .literal("2")
        next.services["svc9"] = ServiceSpec(image: "new")
        next.services.removeValue(forKey: "svc0")
        let outcome = try store.record(next, meta: meta)
        #expect(outcome.summary.number == 2)
        #expect(outcome.summary.parent == 1)
        #expect(outcome.summary.changes == "-svc0 ~svc1 +svc9")
        let stored = try store.revision(environment: "demo", number: 2)
        #expect(stored.spec == next)
        #expect(try store.revision(environment: "demo", number: 1).spec == spec())
    }

    /// Services are decoded apart from the settings (on every core): seeds, configs and
    /// networks that name services must still read back whole.
    @Test func aRevisionWithSeedsConfigsAndNetworksReadsBackEqual() throws {
        let store = try StateStore.inMemory()
        let text = """
            {"name": "full", "configs": {"app": {"content": "a: 1"}}, "networks": {"back": {"internal": true}},
             "seeds": {"schema": {"service": "db", "exec": ["true"]}},
             "services": {"db": {"image": "busybox", "networks": ["back"], "configs": {"/etc/app.yml": "app"}},
                          "web": {"image": "busybox", "dependsOn": {"db": "started"}}}}
            """
        let loader = EnvironmentLoader(readFile: { _ in text }, hostEnvironment: [:], currentDirectory: "/p", realPath: { $0 }, profiles: [])
        let spec = try loader.load("/p/env.json").spec
        _ = try store.record(spec, meta: meta)
        let stored = try store.revision(environment: "full")
        // (A network's default driver reads back spelled out, so compare what is hashed.)
        #expect(stored.spec.services == spec.services)
        #expect(stored.spec.seeds == spec.seeds)
        #expect(stored.spec.configs == spec.configs)
        #expect(stored.spec.specHash == spec.specHash)
        #expect(stored.serviceHashes == spec.services.mapValues { $0.specHash })
    }

    @Test func unchangedServicesAreStoredOnce() throws {
        let store = try StateStore.inMemory()
        for i in 0..<50 {
            var s = spec(services: 10)
            s.services["svc0"]!.env["N"] = .literal(String(i))
            _ = try store.record(s, meta: meta)
        }
        let specs = try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM specs")! }
        // 9 shared services + 50 versions of svc0 + 1 settings body.
        #expect(specs == 9 + 50 + 1)
    }

    @Test func revisionsCannotBeEdited() throws {
        let store = try StateStore.inMemory()
        _ = try store.record(spec(), meta: meta)
        #expect(throws: StoreError.self) { try store.write { db in try db.execute(sql: "UPDATE revisions SET message = 'x'") } }
        #expect(throws: StoreError.self) { try store.write { db in try db.execute(sql: "DELETE FROM revision_services") } }
    }

    @Test func missingRevisionsAndEnvironmentsAreExplained() throws {
        let store = try StateStore.inMemory()
        _ = try store.record(spec(), meta: meta)
        #expect(throws: StoreError.noRevision(environment: "demo", number: 7, latest: 1)) { try store.revision(environment: "demo", number: 7) }
        #expect(throws: StoreError.noEnvironment("nope", known: ["demo"])) { try store.resolveEnvironment("nope") }
        #expect(try store.resolveEnvironment(nil) == "demo")
    }

    @Test func eventsAreKeptInOrder() throws {
        let store = try StateStore.inMemory()
        for i in 0..<5 {
            try store.appendEvent(EventRecord(environment: "demo", revision: 1, service: "svc\(i)", action: "create", cause: "no existing container", outcome: "ok"))
        }
        let events = try store.events(environment: "demo", limit: 3)
        #expect(events.map(\.service) == ["svc2", "svc3", "svc4"])
        #expect(try store.events(environment: "demo", afterID: events[1].id!).map(\.service) == ["svc4"])
    }
}

@Suite struct BundleTests {
    @Test func exportImportRoundTripsIntoAnEmptyStore() throws {
        let source = try StateStore.inMemory()
        var s = spec()
        s.secrets["pw"] = .environment("PW")
        s.services["svc0"]!.env["PASSWORD"] = .secret("pw")
        _ = try source.record(s, meta: meta)
        let bundle = ExportBundle(revision: try source.revision(environment: "demo"), exportedBy: "ada", exportedFrom: "laptop")
        let (read, provenance) = try ExportBundle.read(bundle.text, file: "b.json")
        let target = try StateStore.inMemory()
        let outcome = try target.record(read.spec, meta: RevisionMeta(author: "bob", host: "desk", source: .import, provenance: provenance))
        let imported = try target.revision(environment: "demo", number: outcome.summary.number)
        #expect(SpecDiff(from: try source.revision(environment: "demo").spec, to: imported.spec).isEmpty)
        #expect(imported.summary.source == .import)
        #expect(imported.summary.provenance?.contains("\"author\":\"ada\"") == true)
        #expect(bundle.text.contains("\"fromEnv\": \"PW\""))
    }

    @Test func aTamperedBundleIsRefused() throws {
        let store = try StateStore.inMemory()
        _ = try store.record(spec(), meta: meta)
        let text = ExportBundle(revision: try store.revision(environment: "demo"), exportedBy: "a", exportedFrom: "b").text
        let tampered = text.replacingOccurrences(of: "\"img:0\"", with: "\"img:evil\"")
        #expect(tampered != text)
        do {
            _ = try ExportBundle.read(tampered, file: "b.json")
            Issue.record("tampering went unnoticed")
        } catch {
            #expect("\(error)".contains("hash mismatch"))
        }
        let future = text.replacingOccurrences(of: "\"formatVersion\": 3", with: "\"formatVersion\": 9")
        #expect(future != text)
        #expect(throws: ExportBundle.ImportError.self) { try ExportBundle.read(future, file: "b.json") }
    }

    @Test func theLockLedgerSnapshotsAndArchivesAreVerified() throws {
        let store = try StateStore.inMemory()
        _ = try store.record(spec(), meta: meta)
        var bundle = ExportBundle(revision: try store.revision(environment: "demo"), exportedBy: "a", exportedFrom: "b")
        bundle.lock = ["svc0": ImageLock(reference: "img:0", digest: "reg/img@sha256:\(String(repeating: "1", count: 64))")]
        bundle.seeds = ["schema": .init(checksum: "abc", status: "succeeded", revision: 1)]
        let archive = Data("archive bytes".utf8)
        bundle.snapshots = [SnapshotRecord(name: "base", revision: 1, createdAt: "t", volumes: [.init(volume: "data", archive: "", sha256: CanonicalJSON.sha256(archive), bytes: archive.count)])]
        bundle.archives = ["base/data": archive]
        let (read, _) = try ExportBundle.read(bundle.text, file: "b.json")
        #expect(read.lock == bundle.lock && read.seeds == bundle.seeds && read.archives == bundle.archives)
        #expect(read.snapshots.first?.volumes.first?.archive == "demo/base/data.tar.gz", "archive paths are made here, never taken from the bundle")
        for (from, to) in [("sha256:1111", "sha256:2222"), ("\"succeeded\"", "\"failed\"")] {
            let tampered = bundle.text.replacingOccurrences(of: from, with: to)
            #expect(tampered != bundle.text)
            #expect { try ExportBundle.read(tampered, file: "b.json") } throws: { "\($0)".contains("stateHash: hash mismatch") }
        }
        let otherData = bundle.text.replacingOccurrences(of: archive.base64EncodedString(), with: Data("other bytes!!".utf8).base64EncodedString())
        #expect { try ExportBundle.read(otherData, file: "b.json") } throws: { "\($0)".contains("archives.base/data: hash mismatch") }
        // A version 1 bundle, without the new sections, still imports.
        var v1 = ExportBundle(revision: try store.revision(environment: "demo"), exportedBy: "a", exportedFrom: "b").text
        v1 = v1.replacingOccurrences(of: "\"formatVersion\": 3", with: "\"formatVersion\": 1")
        #expect(try ExportBundle.read(v1, file: "old.json").bundle.lock.isEmpty)
    }
}

@Suite struct SnapshotStoreTests {
    @Test func snapshotsAreRecordedListedAndRemoved() throws {
        let store = try StateStore.open(path: temporaryPath())
        _ = try store.record(spec(), meta: meta)
        let volume = SnapshotRecord.Volume(volume: "data", archive: "demo/s1/data.tar.gz", sha256: String(repeating: "a", count: 64), bytes: 10)
        try store.recordSnapshot(environment: "demo", SnapshotRecord(name: "s1", revision: 1, volumes: [volume]))
        try store.recordSnapshot(environment: "demo", SnapshotRecord(name: "s2", revision: 1, volumes: []))
        #expect(try store.snapshots(environment: "demo").map(\.name) == ["s2", "s1"])
        #expect(try store.snapshot(environment: "demo", name: "s1").volumes == [volume])
        #expect(throws: StoreError.snapshotExists(environment: "demo", name: "s1")) {
            try store.recordSnapshot(environment: "demo", SnapshotRecord(name: "s1", revision: 1, volumes: []))
        }
        try store.removeSnapshot(environment: "demo", name: "s1")
        #expect(throws: StoreError.noSnapshot(environment: "demo", name: "s1", known: ["s2"])) { try store.snapshot(environment: "demo", name: "s1") }
        #expect(store.snapshotsDirectory.hasSuffix("/snapshots"))
    }
}

@Suite struct ThroughputStoreTests {
    @Test func theNewestSamplesPerEngineAndLevelAreKept() throws {
        let store = try StateStore.inMemory()
        for steps in 1...7 { try store.recordThroughput(engine: "unix:///var/run/docker.sock", ThroughputSample(parallel: 8, steps: steps, busyMilliseconds: 100)) }
        try store.recordThroughput(engine: "unix:///var/run/docker.sock", ThroughputSample(parallel: 12, steps: 40, busyMilliseconds: 100))
        try store.recordThroughput(engine: "tcp://10.0.0.2:2376", ThroughputSample(parallel: 8, steps: 99, busyMilliseconds: 100))
        #expect(try store.throughput(engine: "unix:///var/run/docker.sock").map(\.steps) == [3, 4, 5, 6, 7, 40])
        #expect(try store.throughput(engine: "tcp://10.0.0.2:2376") == [ThroughputSample(parallel: 8, steps: 99, busyMilliseconds: 100)])
        #expect(try store.throughputEngines() == ["tcp://10.0.0.2:2376", "unix:///var/run/docker.sock"])
    }
}
