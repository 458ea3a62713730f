import EnvSpec
import Foundation
import GRDB


extension StateStore {
    /// Opens a ledger entry before the seed runs, so an interrupted run is never taken for a finished one.
    public func beginSeedRun(environment: String, seed: String, checksum: String, revision: Int?) throws(StoreError) -> Int64 {
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            try db.execute(sql: "INSERT INTO seed_runs (environment_id, seed, checksum, revision_number, started_at, status) VALUES (?, ?, ?, ?, ?, 'running')",
                           arguments: [envID, seed, checksum, revision, Timestamp.now()])
            return db.lastInsertedRowID
        }
    }

    public func finishSeedRun(id: Int64, succeeded: Bool, durationMs: Int, outputTail: String) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE seed_runs SET finished_at = ?, status = ?, duration_ms = ?, output_tail = ? WHERE id = ?",
                           arguments: [Timestamp.now(), (succeeded ? SeedRunStatus.succeeded : .failed).rawValue, durationMs, outputTail, id])
        }
    }

    /// The newest run of each seed.
    public func seedLedger(environment: String) throws(StoreError) -> [String: SeedRun] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [:] }
            let rows = try SeedRunRow.fetchAll(db, sql: """
                SELECT * FROM seed_runs WHERE id IN (SELECT MAX(id) FROM seed_runs WHERE environment_id = ? GROUP BY seed)
                """, arguments: [envID])
            return Dictionary(uniqueKeysWithValues: try rows.map { ($0.seed, try $0.record()) })
        }
    }
}
