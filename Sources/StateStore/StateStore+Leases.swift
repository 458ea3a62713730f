import EnvSpec
import Foundation
import GRDB



extension StateStore {
    /// Takes the lease when it is free, expired, already ours, or held by a process that
    /// `isAbandoned` says is gone. One transaction, so two processes can never both succeed.
    public func acquireLease(environment: String, holder: String, holderID: String, ttl: TimeInterval,
                             isAbandoned: (Lease) -> Bool = { _ in false }) throws(StoreError) -> LeaseOutcome {
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            let now = Date().timeIntervalSince1970
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM leases WHERE environment_id = ?", arguments: [envID]) {
                let current = Self.lease(row, environment: environment)
                if current.holderID != holderID && current.expiresAt >= now && !isAbandoned(current) { return .heldBy(current) }
            }
            let stamp = Timestamp.now()
            try db.execute(sql: """
                INSERT INTO leases (environment_id, holder, holder_id, acquired_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (environment_id) DO UPDATE SET holder = excluded.holder, holder_id = excluded.holder_id,
                    acquired_at = CASE WHEN leases.holder_id = excluded.holder_id THEN leases.acquired_at ELSE excluded.acquired_at END,
                    heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
                """, arguments: [envID, holder, holderID, stamp, stamp, now + ttl])
            return .acquired
        }
    }

    /// Extends our lease; false when it was taken from us (for example by `devstack unlock`).
    public func renewLease(environment: String, holderID: String, ttl: TimeInterval) throws(StoreError) -> Bool {
        try write { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return false }
            try db.execute(sql: "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE environment_id = ? AND holder_id = ?",
                           arguments: [Timestamp.now(), Date().timeIntervalSince1970 + ttl, envID, holderID])
            return db.changesCount == 1
        }
    }

    public func releaseLease(environment: String, holderID: String) throws(StoreError) {
        try write { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return }
            try db.execute(sql: "DELETE FROM leases WHERE environment_id = ? AND holder_id = ?", arguments: [envID, holderID])
        }
    }

    /// `devstack unlock`: removes whatever lease there is, returning it.
    public func breakLease(environment: String) throws(StoreError) -> Lease? {
        try write { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false),
                  let row = try Row.fetchOne(db, sql: "SELECT * FROM leases WHERE environment_id = ?", arguments: [envID]) else { return nil }
            try db.execute(sql: "DELETE FROM leases WHERE environment_id = ?", arguments: [envID])
            return Self.lease(row, environment: environment)
        }
    }

    public func currentLease(environment: String) throws(StoreError) -> Lease? {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false),
                  let row = try Row.fetchOne(db, sql: "SELECT * FROM leases WHERE environment_id = ?", arguments: [envID]) else { return nil }
            let lease = Self.lease(row, environment: environment)
            return lease.isExpired ? nil : lease
        }
    }

    static func lease(_ row: Row, environment: String) -> Lease {
        Lease(environment: environment, holder: row["holder"], holderID: row["holder_id"], acquiredAt: row["acquired_at"],
              heartbeatAt: row["heartbeat_at"], expiresAt: row["expires_at"])
    }
}


extension StateStore {
    /// Writes conditions; `since` changes only when the status or reason does.
    public func setConditions(environment: String, _ conditions: [ServiceCondition]) throws(StoreError) {
        try write { db in
            let envID = try Self.environmentID(db, name: environment, create: true)!
            for c in conditions {
                try db.execute(sql: """
                    INSERT INTO service_conditions (environment_id, service, condition, status, reason, since) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (environment_id, service, condition) DO UPDATE SET
                        since = CASE WHEN service_conditions.status = excluded.status AND service_conditions.reason = excluded.reason
                                     THEN service_conditions.since ELSE excluded.since END,
                        status = excluded.status, reason = excluded.reason
                    """, arguments: [envID, c.service, c.condition, c.status ? 1 : 0, c.reason, c.since])
            }
        }
    }

    public func conditions(environment: String) throws(StoreError) -> [ServiceCondition] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM service_conditions WHERE environment_id = ? ORDER BY service, condition", arguments: [envID]).map {
                ServiceCondition(service: $0["service"], condition: $0["condition"], status: ($0["status"] as Int) == 1, reason: $0["reason"], since: $0["since"])
            }
        }
    }
}
