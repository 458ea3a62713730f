import EnvSpec
import Foundation
import GRDB

extension StateStore {
    /// Opened for reading only: nothing can be recorded through it.
    public var isReadOnly: Bool { writer.configuration.readonly }

    /// The index of a build context folder (see migration 0009); nil when there is none yet or
    /// its bytes are not an index (then it is rebuilt).
    public func contextIndex(_ context: String) throws(StoreError) -> ContextIndex? {
        let row = try read { db in try Row.fetchOne(db, sql: "SELECT entries, indexed_at FROM build_context_index WHERE context = ?", arguments: [context]) }
        guard let row, let entries = row[0] as Data?, let indexedAt = row[1] as Int64? else { return nil }
        return ContextIndex(encoded: entries, indexedAt: indexedAt)
    }

    public func saveContextIndex(_ context: String, _ index: ContextIndex) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO build_context_index (context, entries, indexed_at) VALUES (?, ?, ?)",
                           arguments: [context, index.encoded(), index.indexedAt])
        }
    }
}
