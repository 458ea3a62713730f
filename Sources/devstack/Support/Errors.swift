import Application
import EnvSpec
import Reconciler

// Library errors the CLI prints as they describe themselves.
extension EngineError: UserFacingError {}
extension RegistryFailure: UserFacingError {}
extension DesiredState.ResolveError: UserFacingError {}
extension LeaseHeldError: UserFacingError {}
extension LeaseLostError: UserFacingError {}
extension HostError: UserFacingError {}
extension SnapshotError: UserFacingError {}
extension VolumeAccess.NoOwner: UserFacingError {}
