import EnvSpec

// What the reconciler and the controller need of recorded state, as narrow protocols. The core
// never sees SQL: the application layer makes the state store conform, and unit tests use
// in-memory implementations.

/// The recorded desired state.
public protocol RevisionReading: Sendable {
    /// The newest revision of an environment.
    func currentRevision(of environment: String) throws -> StoredRevision
    /// The newest revision's number, or nil when none is recorded.
    func latestRevisionNumber(of environment: String) throws -> Int?
    /// Service specs recorded under these hashes, to say what changed in a running container.
    func recordedServiceSpecs(hashes: [String]) throws -> [String: ServiceSpec]
    /// The key the secret-digest labels are computed with.
    func secretLabelKey() throws -> String
}

/// The event log.
public protocol EventRecording: Sendable {
    func record(_ event: EventRecord) throws
}

/// The apply ledger and service conditions.
public protocol ApplyRecording: Sendable {
    func applyStarted(environment: String, revision: Int) throws -> Int64
    func applyFinished(id: Int64, converged: Bool, images: [String: String]) throws
    /// Nothing had to change: `revision` is what runs.
    func markConverged(environment: String, revision: Int) throws
    func setConditions(environment: String, _ conditions: [ServiceCondition]) throws
}

/// The environment's lease: one actor at a time converges an environment.
public protocol LeaseKeeping: Sendable {
    func acquire(environment: String, holder: LeaseHolderKind, holderID: String, ttl: Double) throws -> LeaseOutcome
    /// False when the lease is no longer ours.
    func renew(environment: String, holderID: String, ttl: Double) throws -> Bool
    func release(environment: String, holderID: String) throws
}

/// A restore cut short, finished before anything else uses its volumes.
public protocol InterruptedWork: Sendable {
    /// Finishes an interrupted restore, if any; returns what it finished.
    func resume(desired: DesiredState, executor: Executor) async throws -> String?
}

/// Nothing was interrupted.
public struct NoInterruptedWork: InterruptedWork {
    public init() {}
    public func resume(desired: DesiredState, executor: Executor) async throws -> String? { nil }
}

/// Everything the reconciler records.
public typealias ReconcileRecords = RevisionReading & EventRecording & ApplyRecording

extension EventRecording {
    /// An executor's event sink; a failed write is reported through `warn`, never swallowed.
    public func sink(warn: @escaping @Sendable (String) -> Void) -> @Sendable (EventRecord) -> Void {
        { event in
            do { try self.record(event) } catch { warn("could not record an event (\(event.action) \(event.service ?? "")): \(error)") }
        }
    }
}

/// The seed ledger: which seed ran with which inputs, and how it ended.
public protocol SeedLedgerRecording: EventRecording {
    func seedLedger(environment: String) throws -> [String: SeedRun]
    func beginSeedRun(environment: String, seed: String, checksum: String, revision: Int?) throws -> Int64
    func finishSeedRun(id: Int64, succeeded: Bool, durationMs: Int, outputTail: String) throws
}
