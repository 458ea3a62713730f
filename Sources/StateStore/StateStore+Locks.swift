import EnvSpec
import Foundation
import GRDB


extension StateStore {
    /// Records a revision's lock once; a revision's lock, like the revision, never changes.
    public func recordLock(environment: String, revision: Int, _ locks: [String: ImageLock]) throws(StoreError) {
        guard !locks.isEmpty else { return }
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            for (service, lock) in locks {
                try db.execute(sql: "INSERT OR IGNORE INTO image_locks (environment_id, revision_number, service, reference, digest) VALUES (?, ?, ?, ?, ?)",
                               arguments: [envID, revision, service, lock.reference, lock.digest])
            }
        }
    }

    public func lock(environment: String, revision: Int) throws(StoreError) -> [String: ImageLock] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [:] }
            let rows = try Row.fetchAll(db, sql: "SELECT service, reference, digest FROM image_locks WHERE environment_id = ? AND revision_number = ?",
                                        arguments: [envID, revision])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0[0] as String, ImageLock(reference: $0[1], digest: $0[2])) })
        }
    }

    /// The newest pin of each service at or before `revision`: what `apply --locked` runs.
    public func latestLocks(environment: String, upTo revision: Int) throws(StoreError) -> [String: ImageLock] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [:] }
            let rows = try ImageLockRow.fetchAll(db, sql: """
                SELECT service, reference, digest FROM image_locks
                WHERE environment_id = ? AND revision_number <= ? ORDER BY revision_number
                """, arguments: [envID, revision])
            var out: [String: ImageLock] = [:]
            for row in rows { out[row.service] = row.lock }
            return out
        }
    }
}

extension StateStore {
    /// A random key made when the database was created; see migration 0008.
    public func secretKey() throws(StoreError) -> String {
        let key = try read { db in try String.fetchOne(db, sql: "SELECT value FROM store_settings WHERE key = 'secret-key'") }
        // The key decides which containers a rotated secret recreates: without it, say so.
        guard let key, !key.isEmpty else { throw .corrupt("\(location): the secret-label key is missing from store_settings; devstack doctor --repair or a backup brings it back") }
        return key
    }
}
