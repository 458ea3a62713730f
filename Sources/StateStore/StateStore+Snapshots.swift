import EnvSpec
import Foundation
import GRDB


extension StateStore {
    /// Archives live in files beside the database, not in it, so the database stays small.
    public var snapshotsDirectory: String {
        location == ":memory:" ? NSTemporaryDirectory() + "devstack-snapshots" : PathMath.join(PathMath.directory(of: location), "snapshots")
    }

    public func recordSnapshot(environment: String, _ snapshot: SnapshotRecord) throws(StoreError) {
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM snapshots WHERE environment_id = ? AND name = ?", arguments: [envID, snapshot.name]) == true {
                throw StoreError.snapshotExists(environment: environment, name: snapshot.name)
            }
            try db.execute(sql: "INSERT INTO snapshots (environment_id, name, revision_number, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [envID, snapshot.name, snapshot.revision, snapshot.createdAt])
            let id = db.lastInsertedRowID
            for v in snapshot.volumes {
                try db.execute(sql: "INSERT INTO snapshot_volumes (snapshot_id, volume, archive, sha256, bytes) VALUES (?, ?, ?, ?, ?)",
                               arguments: [id, v.volume, v.archive, v.sha256, v.bytes])
            }
        }
    }

    /// Newest first.
    public func snapshots(environment: String) throws(StoreError) -> [SnapshotRecord] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [] }
            let rows = try SnapshotRow.fetchAll(db, sql: "SELECT id, name, revision_number, created_at FROM snapshots WHERE environment_id = ? ORDER BY id DESC", arguments: [envID])
            return try rows.map { row in
                let volumes = try SnapshotVolumeRow.fetchAll(db, sql: "SELECT volume, archive, sha256, bytes FROM snapshot_volumes WHERE snapshot_id = ? ORDER BY volume",
                                                             arguments: [row.id]).map(\.volume)
                return SnapshotRecord(name: row.name, revision: row.revision, createdAt: row.createdAt, volumes: volumes)
            }
        }
    }

    public func snapshot(environment: String, name: String) throws(StoreError) -> SnapshotRecord {
        guard let found = try snapshots(environment: environment).first(where: { $0.name == name }) else {
            throw .noSnapshot(environment: environment, name: name, known: try snapshots(environment: environment).map(\.name))
        }
        return found
    }

    /// Forgets the snapshot; the caller removes its files once this has succeeded.
    public func removeSnapshot(environment: String, name: String) throws(StoreError) {
        try write { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return }
            try db.execute(sql: "DELETE FROM snapshots WHERE environment_id = ? AND name = ?", arguments: [envID, name])
        }
    }
}



extension StateStore {
    /// Journals a restore before any volume is emptied.
    public func beginRestore(environment: String, label: String, sources: [RestoreSource]) throws(StoreError) {
        let body = String(decoding: (try? JSONEncoder().encode(sources)) ?? Data("[]".utf8), as: UTF8.self)
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            try db.execute(sql: "INSERT OR REPLACE INTO pending_restores (environment_id, label, sources, started_at) VALUES (?, ?, ?, ?)",
                           arguments: [envID, label, body, Timestamp.now()])
        }
    }

    public func finishRestore(environment: String) throws(StoreError) {
        try write { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return }
            try db.execute(sql: "DELETE FROM pending_restores WHERE environment_id = ?", arguments: [envID])
        }
    }

    public func pendingRestore(environment: String) throws(StoreError) -> PendingRestore? {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return nil }
            let sql = "SELECT label, sources, started_at FROM pending_restores WHERE environment_id = ?"
            return try PendingRestoreRow.fetchOne(db, sql: sql, arguments: [envID])?.record()
        }
    }
}
