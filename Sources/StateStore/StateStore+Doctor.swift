import EnvSpec
import Foundation
import GRDB

/// What `devstack doctor` finds in the database, and what it can repair.
public struct StoreCheck: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable { case ok, warning, problem }
    public var name: String
    public var severity: Severity
    public var detail: String
    /// Set when `--repair` changed something.
    public var repaired: String?

    public init(name: String, severity: Severity, detail: String, repaired: String? = nil) {
        self.name = name
        self.severity = severity
        self.detail = detail
        self.repaired = repaired
    }
}

extension StateStore {
    /// SQLite's own integrity and foreign-key checks; empty when sound.
    public func integrityProblems() throws(StoreError) -> [String] {
        try read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            let keys = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").map { "foreign key broken in \($0[0] as String? ?? "?") row \($0[1] as Int64? ?? 0)" }
            return integrity + keys
        }
    }

    /// Leases whose holder stopped renewing them.
    public func expiredLeases() throws(StoreError) -> [Lease] {
        var out: [Lease] = []
        for name in try environmentNames() {
            if let lease = try currentLease(environment: name), lease.isExpired { out.append(lease) }
        }
        return out
    }

    /// Seed runs left `running` by a process that is gone: nothing holds the environment.
    public func interruptedSeedRuns() throws(StoreError) -> [(environment: String, seed: String)] {
        var out: [(String, String)] = []
        for name in try environmentNames() {
            if let lease = try currentLease(environment: name), !lease.isExpired { continue }
            for run in try seedLedger(environment: name).values where run.status == .running { out.append((name, run.seed)) }
        }
        return out.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    /// Marks interrupted seed runs failed, so the ledger says what happened; they rerun either way.
    public func closeInterruptedSeedRuns() throws(StoreError) -> Int {
        var closed = 0
        for (environment, _) in try interruptedSeedRuns() {
            closed += try write { db in
                guard let envID = try Self.environmentID(db, name: environment, create: false) else { return 0 }
                try db.execute(sql: "UPDATE seed_runs SET status = 'failed', finished_at = ?, output_tail = 'interrupted: the process running it stopped' WHERE environment_id = ? AND status = 'running'",
                               arguments: [Timestamp.now(), envID])
                return db.changesCount
            }
        }
        return closed
    }

    /// True for a regular file that devstack may repair: it starts like an SQLite database, or
    /// devstack took backups of it. Devices, FIFOs, folders and strangers' files are never touched.
    public static func isRecognisable(_ path: String) -> Bool {
        guard Files.isRegularFile(path) else { return false }
        if !backups(of: path).isEmpty { return true }
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 16)) == Data("SQLite format 3\0".utf8)
    }

    /// Copies what SQLite can still read into a fresh file (`VACUUM INTO`), for salvage.
    public static func salvage(_ path: String, into target: String) throws(StoreError) {
        do {
            var config = configuration()
            config.readonly = true
            let source = try DatabaseQueue(path: path, configuration: config)
            try source.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [target]) }
            try source.close()
        } catch {
            throw translate(error, location: path)
        }
    }
}
