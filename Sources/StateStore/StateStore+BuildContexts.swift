import EnvSpec
import Foundation
import GRDB

extension StateStore {
    /// Opened for reading only: nothing can be recorded through it.
    public var isReadOnly: Bool { writer.configuration.readonly }

    /// The index of a build context folder (see migration 0009); nil when there is none yet or
    /// its bytes are not an index (then it is rebuilt). With `entries` false, only its
    /// fingerprint, digest and time.
    public func contextIndex(_ context: String, entries: Bool = true) throws(StoreError) -> ContextIndex? {
        let row = try read { db in
            try Row.fetchOne(db, sql: "SELECT \(entries ? "entries" : "NULL"), indexed_at, fingerprint, digest FROM build_context_index WHERE context = ?",
                             arguments: [context])
        }
        guard let row, let indexedAt = row[1] as Int64? else { return nil }
        var index = ContextIndex(indexedAt: indexedAt)
        if entries {
            guard let blob = row[0] as Data?, let decoded = ContextIndex(encoded: blob, indexedAt: indexedAt) else { return nil }
            index = decoded
        }
        index.fingerprint = row[2]
        index.digest = row[3]
        return index
    }

    public func saveContextIndex(_ context: String, _ index: ContextIndex) throws(StoreError) {
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO build_context_index (context, entries, indexed_at, fingerprint, digest) VALUES (?, ?, ?, ?, ?)
                """, arguments: [context, index.encoded(), index.indexedAt, index.fingerprint, index.digest])
        }
    }
}
