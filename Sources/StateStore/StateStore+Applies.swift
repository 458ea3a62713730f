import EnvSpec
import Foundation
import GRDB


extension StateStore {
    public func beginApply(environment: String, revision: Int) throws(StoreError) -> Int64 {
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            try db.execute(sql: "INSERT INTO applies (environment_id, revision_number, started_at) VALUES (?, ?, ?)",
                           arguments: [envID, revision, Timestamp.now()])
            return db.lastInsertedRowID
        }
    }

    public func finishApply(id: Int64, converged: Bool, images: [String: String]) throws(StoreError) {
        let json = CanonicalJSON.encode(.object(images.map { (key: $0.key, value: JSONNode(.string($0.value))) }))
        try write { db in
            try db.execute(sql: "UPDATE applies SET finished_at = ?, outcome = ?, images = ? WHERE id = ?",
                           arguments: [Timestamp.now(), (converged ? ApplyOutcome.converged : .failed).rawValue, json, id])
        }
    }

    /// Records `revision` as applied without any engine step, unless it already is.
    public func markConverged(environment: String, revision: Int) throws(StoreError) {
        guard try lastApply(environment: environment, convergedOnly: true)?.revision != revision else { return }
        try finishApply(id: try beginApply(environment: environment, revision: revision), converged: true, images: [:])
    }

    /// The newest apply, or the newest converged one.
    public func lastApply(environment: String, convergedOnly: Bool = false) throws(StoreError) -> ApplyRecord? {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return nil }
            let filter = convergedOnly ? "AND outcome = 'converged'" : ""
            let sql = "SELECT * FROM applies WHERE environment_id = ? \(filter) ORDER BY id DESC LIMIT 1"
            return try ApplyRow.fetchOne(db, sql: sql, arguments: [envID])?.record(environment: environment)
        }
    }

    /// Service specs by hash, for naming the fields a recreate changes.
    public func serviceSpecs(hashes: [String]) throws(StoreError) -> [String: ServiceSpec] {
        guard !hashes.isEmpty else { return [:] }
        return try read { db in
            var out: [String: ServiceSpec] = [:]
            for hash in Set(hashes) {
                guard let body = try String.fetchOne(db, sql: "SELECT body FROM specs WHERE hash = ?", arguments: [hash]),
                      let node = try? JSONParser.parse(body),
                      let spec = try? ServiceSpec.decodeCanonical(node, source: "store", path: "") else { continue }
                out[hash] = spec
            }
            return out
        }
    }
}
