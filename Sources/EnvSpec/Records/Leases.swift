import Foundation

/// Who holds an environment: a controller, or an apply that runs without one.
public struct Lease: Sendable, Equatable, Codable {
    public var environment: String
    public var holder: String
    public var holderID: String
    public var acquiredAt: String
    public var heartbeatAt: String
    public var expiresAt: Double

    public var isExpired: Bool { expiresAt < Date().timeIntervalSince1970 }

    public init(environment: String, holder: String, holderID: String, acquiredAt: String, heartbeatAt: String, expiresAt: Double) {
        self.environment = environment
        self.holder = holder
        self.holderID = holderID
        self.acquiredAt = acquiredAt
        self.heartbeatAt = heartbeatAt
        self.expiresAt = expiresAt
    }
}

public enum LeaseOutcome: Sendable, Equatable {
    case acquired
    /// Someone else holds a live lease.
    case heldBy(Lease)
}

public struct ServiceCondition: Sendable, Equatable, Codable {
    public var service: String
    public var condition: String
    public var status: Bool
    public var reason: String
    public var since: String

    public init(service: String, condition: String, status: Bool, reason: String, since: String = Timestamp.now()) {
        self.service = service
        self.condition = condition
        self.status = status
        self.reason = reason
        self.since = since
    }
}

/// Who takes an environment's lease.
public enum LeaseHolderKind: String, Sendable, Codable, CaseIterable {
    case controller, apply, seed, down, bisect
    case snapshotSave = "snapshot save"
    case snapshotRestore = "snapshot restore"
}

extension Lease {
    /// The kind of holder, when it is one this version knows.
    public var holderKind: LeaseHolderKind? { LeaseHolderKind(rawValue: holder) }
}
