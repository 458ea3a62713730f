import Foundation
import Reconciler
import StateStore

/// Runs work that must not overlap an apply, a seed run or a controller: it refuses at once,
/// rather than waiting, when another process holds the environment.
enum ExclusiveLease {
    static func run<T>(_ store: StateStore, environment: String, holder: String, _ body: () async throws -> T) async throws -> T {
        let holderID = LeaseHolder.id()
        switch try store.acquireLease(environment: environment, holder: holder, holderID: holderID, ttl: 3600, isAbandoned: LeaseHolder.isGone) {
        case let .heldBy(lease):
            throw UserError("cannot run \(holder) now: \(lease.holder) \(lease.holderID) holds \(environment) since \(lease.acquiredAt); "
                + "nothing was changed. Try again when it has finished (devstack unlock --env \(environment) if that process is gone)")
        case .acquired:
            defer { try? store.releaseLease(environment: environment, holderID: holderID) }
            return try await body()
        }
    }
}
