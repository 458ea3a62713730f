import EnvSpec
import Reconciler
import StateStore

// The state store is what the core's record protocols describe. The conformances live here, in
// the application layer, so neither the store nor the core knows the other.

extension StateStore: RevisionReading, EventRecording, ApplyRecording,
    SeedLedgerRecording, SnapshotCatalog {
    public func currentRevision(of environment: String) throws -> StoredRevision { try revision(environment: environment) }
    public func latestRevisionNumber(of environment: String) throws -> Int? { try latestNumber(environment: environment) }
    public func recordedServiceSpecs(hashes: [String]) throws -> [String: ServiceSpec] { try serviceSpecs(hashes: hashes) }
    public func secretLabelKey() throws -> String { try secretKey() }
    public func record(_ event: EventRecord) throws { try appendEvent(event) }
    public func applyStarted(environment: String, revision: Int) throws -> Int64 { try beginApply(environment: environment, revision: revision) }
    public func applyFinished(id: Int64, converged: Bool, images: [String: String]) throws {
        try finishApply(id: id, converged: converged, images: images)
    }
}

/// The store's leases, where a holder whose process is gone from this host no longer counts.
public struct StoreLeases: LeaseKeeping {
    public let store: StateStore
    public init(_ store: StateStore) { self.store = store }

    public func acquire(environment: String, holder: LeaseHolderKind, holderID: String, ttl: Double) throws -> LeaseOutcome {
        try store.acquireLease(environment: environment, holder: holder.rawValue, holderID: holderID, ttl: ttl, isAbandoned: LeaseHolder.isGone)
    }

    public func renew(environment: String, holderID: String, ttl: Double) throws -> Bool {
        try store.renewLease(environment: environment, holderID: holderID, ttl: ttl)
    }

    public func release(environment: String, holderID: String) throws {
        try store.releaseLease(environment: environment, holderID: holderID)
    }
}

extension StateStore: ContextIndexKeeping {
    public var canSaveContextIndex: Bool { !isReadOnly }
}
