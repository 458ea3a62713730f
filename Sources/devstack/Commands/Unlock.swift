import Application
import ArgumentParser

extension Devstack {
    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unlock", abstract: "Remove an environment's lease, for a controller or apply that is gone (like terraform force-unlock).")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let workspace = try store.openExisting()
            let env = try workspace.environment(environment.env)
            guard let lease = try workspace.breakLease(environment: env) else { return print("\(env) was not locked") }
            print("removed the lease on \(env) held by \(lease.holder) \(lease.holderID) since \(lease.acquiredAt)")
        }
    }
}
