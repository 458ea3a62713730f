import EnvSpec
import Foundation
import Reconciler
import StateStore

/// The checks behind `devstack doctor`, in the order a person would look.
public struct StoreDoctor: Sendable {
    public var path: String
    public var repair: Bool

    public init(path: String, repair: Bool) {
        self.path = path
        self.repair = repair
    }

    public func run() -> [StoreCheck] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var checks: [StoreCheck] = []
        let backups = StateStore.backups(of: path)
        let store: StateStore
        do {
            // Without --repair, doctor only reads: the database's bytes stay as they were.
            store = repair ? try StateStore.open(path: path) : try StateStore.openReadOnly(path: path)
        } catch {
            var check = StoreCheck(name: "database", severity: .problem, detail: "\(error)")
            if case .newerSchema = error {
                check.detail += " (nothing to repair: upgrade devstack)"
            } else if repair && !StateStore.isRecognisable(path) {
                check.detail += "; --repair acts only on a regular file that starts as an SQLite database or has devstack backups beside it, so it was left as it is"
            } else if repair {
                check.repaired = recover(backups: backups)
                if check.repaired == nil {
                    check.detail += "; nothing could be salvaged and there is no backup: move the file aside to start a new database, and devstack import an export to get revisions back"
                }
            }
            checks.append(check)
            checks.append(backupsCheck(backups))
            return checks
        }
        checks.append(StoreCheck(name: "database", severity: .ok, detail: "\(path), schema \(store.schemaVersion)"))
        checks.append(contentsOf: inspect(store))
        checks.append(backupsCheck(backups))
        return checks
    }

    func inspect(_ store: StateStore) -> [StoreCheck] {
        var checks: [StoreCheck] = []
        do {
            let problems = try store.integrityProblems()
            checks.append(problems.isEmpty ? StoreCheck(name: "integrity", severity: .ok, detail: "PRAGMA integrity_check and foreign_key_check pass")
                                           : StoreCheck(name: "integrity", severity: .problem, detail: problems.prefix(5).joined(separator: "; ")))
            for lease in try store.expiredLeases() {
                var check = StoreCheck(name: "lease", severity: .warning,
                                       detail: "\(lease.environment) is held by \(lease.holder) \(lease.holderID), whose lease expired (last heartbeat \(lease.heartbeatAt))")
                if repair { _ = try store.breakLease(environment: lease.environment); check.repaired = "lease broken" }
                checks.append(check)
            }
            let interrupted = try store.interruptedSeedRuns()
            if !interrupted.isEmpty {
                var check = StoreCheck(name: "seeds", severity: .warning,
                                       detail: "interrupted runs: \(interrupted.map { "\($0.environment)/\($0.seed)" }.joined(separator: ", ")); they rerun on the next apply")
                if repair { check.repaired = "\(try store.closeInterruptedSeedRuns()) run(s) recorded as failed (interrupted)" }
                checks.append(check)
            }
            for environment in try store.environmentNames() {
                if let pending = try store.pendingRestore(environment: environment) {
                    checks.append(StoreCheck(name: "restore", severity: .warning,
                                             detail: "\(environment): a restore of \(pending.label) was interrupted at \(pending.startedAt); devstack apply finishes it"))
                }
                checks.append(contentsOf: try snapshotChecks(store, environment: environment))
            }
            for engine in try store.throughputEngines() {
                checks.append(parallelismCheck(engine, samples: try store.throughput(engine: engine)))
            }
        } catch {
            checks.append(StoreCheck(name: "database", severity: .problem, detail: "\(error)"))
        }
        return checks
    }

    /// What the engine's measured throughput says, and the level an apply without --parallel runs at.
    func parallelismCheck(_ engine: String, samples: [ThroughputSample]) -> StoreCheck {
        let rates = ParallelismTuner.rates(samples).sorted { $0.key < $1.key }
            .map { "\($0.key) at once \(String(format: "%.1f", $0.value)) operations/s" }
        let choice = ParallelismTuner.choose(samples)
        return StoreCheck(name: "parallelism", severity: .ok,
                          detail: "\(engine): \(rates.joined(separator: ", ")); apply runs \(choice.parallel) at once (\(choice.reason))")
    }

    func snapshotChecks(_ store: StateStore, environment: String) throws -> [StoreCheck] {
        var checks: [StoreCheck] = []
        for snapshot in try store.snapshots(environment: environment) {
            for volume in snapshot.volumes {
                let file = PathMath.join(store.snapshotsDirectory, volume.archive)
                guard let data = FileManager.default.contents(atPath: file) else {
                    var check = StoreCheck(name: "snapshot", severity: .problem, detail: "\(environment)/\(snapshot.name): archive \(file) is missing")
                    if repair {
                        try SnapshotManager.remove(store: store, environment: environment, name: snapshot.name)
                        check.repaired = "snapshot \(snapshot.name) forgotten"
                    }
                    checks.append(check)
                    break
                }
                if CanonicalJSON.sha256(data) != volume.sha256 {
                    checks.append(StoreCheck(name: "snapshot", severity: .problem,
                                             detail: "\(environment)/\(snapshot.name): archive \(file) does not match its recorded sha256; it will not be restored (devstack snapshot rm \(snapshot.name) removes it)"))
                }
            }
        }
        return checks
    }

    func backupsCheck(_ backups: [String]) -> StoreCheck {
        backups.isEmpty ? StoreCheck(name: "backups", severity: .ok, detail: "none yet (one is taken before every migration)")
                        : StoreCheck(name: "backups", severity: .ok, detail: "\(backups.count), newest \(backups[0])")
    }

    /// Salvages what SQLite can read; failing that, puts back the newest backup. The damaged
    /// file is always kept beside the database.
    func recover(backups: [String]) -> String? {
        let fm = FileManager.default
        let stamp = Timestamp.compact()
        let damaged = "\(path).damaged-\(stamp)"
        let salvaged = "\(path).salvage-\(stamp)"
        func setAside() throws {
            try fm.moveItem(atPath: path, toPath: damaged)
            for suffix in ["-wal", "-shm"] where fm.fileExists(atPath: path + suffix) { try fm.moveItem(atPath: path + suffix, toPath: damaged + suffix) }
        }
        if (try? StateStore.salvage(path, into: salvaged)) != nil,
           let probe = try? StateStore.open(path: salvaged), (try? probe.integrityProblems())?.isEmpty == true {
            do {
                try setAside()
                try fm.moveItem(atPath: salvaged, toPath: path)
                return "salvaged what was readable into a fresh database; the damaged file is kept at \(damaged)"
            } catch { return nil }
        }
        try? fm.removeItem(atPath: salvaged)
        guard let newest = backups.first else { return nil }
        do {
            try setAside()
            try fm.copyItem(atPath: newest, toPath: path)
            return "put back the backup \(newest); the damaged file is kept at \(damaged)"
        } catch { return nil }
    }
}
