import ArgumentParser
import Foundation
import Reconciler
import StateStore

extension SnapshotError: UserFacingError {}
extension VolumeAccess.NoOwner: UserFacingError {}

extension Devstack {
    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save, restore, list and remove snapshots of an environment's named volumes.",
            subcommands: [Save.self, Restore.self, List.self, Remove.self])

        struct Save: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Archive named volumes (all, one service's, or one) while their services are stopped, then start them again.")

            @Argument(help: "A name for the snapshot.") var name: String
            @Option(name: .long, help: "Only the volumes this service mounts.") var service: String?
            @Option(name: .long, help: "Only this volume (its name in the environment file).") var volume: String?
            @OptionGroup var store: StoreOptions
            @OptionGroup var environment: EnvironmentOption
            @OptionGroup var converge: ConvergeOptions

            func validate() throws {
                if service != nil && volume != nil { throw ValidationError("pass --service or --volume, not both") }
            }

            func run() async throws {
                let db = try store.openExisting()
                let env = try db.resolveEnvironment(environment.env)
                let stored = try db.revision(environment: env)
                let volumes = try SnapshotManager.volumes(in: stored.spec, service: service, volume: volume)
                let started = ContinuousClock.now
                let reconciler = try EngineFactory.reconciler(store: db)
                let record = try await ExclusiveLease.run(db, environment: env, holder: "snapshot save") {
                    try await SnapshotManager(reconciler).save(name: name, volumes: volumes, desired: try reconciler.desiredState(stored),
                                                               executor: .cli(engine: reconciler.engine, store: db, timeoutSeconds: converge.timeout, parallel: converge.parallel, quiet: true))
                }
                print(Terminal.green("saved snapshot \(name)") + " of \(env) at revision \(stored.summary.number) in \(Elapsed.since(started))")
                for v in record.volumes { print("  \(v.volume): \(Bytes.format(v.bytes)) sha256 \(v.sha256)") }
            }
        }

        struct Restore: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put a snapshot back: stop the services using its volumes, restore them, start the services and wait until they are healthy.")

            @Argument(help: "The snapshot to restore.") var name: String
            @OptionGroup var store: StoreOptions
            @OptionGroup var environment: EnvironmentOption
            @OptionGroup var converge: ConvergeOptions

            func run() async throws {
                let db = try store.openExisting()
                let env = try db.resolveEnvironment(environment.env)
                let record = try db.snapshot(environment: env, name: name)
                try await SnapshotRestore.run(record, store: db, environment: env, revision: nil, options: converge)
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List an environment's snapshots, newest first.")

            @OptionGroup var store: StoreOptions
            @OptionGroup var environment: EnvironmentOption
            @OptionGroup var output: OutputOptions

            func run() throws {
                let db = try store.openForReading()
                let env = try db.resolveEnvironment(environment.env)
                let snapshots = try db.snapshots(environment: env)
                if output.json { return try JSONOutput.print(snapshots) }
                if snapshots.isEmpty { return print("\(env) has no snapshots; take one with devstack snapshot save NAME") }
                print(Terminal.table(["NAME", "REV", "TAKEN (UTC)", "VOLUMES", "SIZE"], snapshots.map { s in
                    [s.name, s.revision.map(String.init) ?? "-", History.time(s.createdAt), s.volumes.map(\.volume).joined(separator: " "),
                     Bytes.format(s.volumes.reduce(0) { $0 + $1.bytes })]
                }))
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "rm", abstract: "Forget a snapshot and delete its archives.")

            @Argument(help: "The snapshot to remove.") var name: String
            @OptionGroup var store: StoreOptions
            @OptionGroup var environment: EnvironmentOption

            func run() throws {
                let db = try store.openExisting()
                let env = try db.resolveEnvironment(environment.env)
                try SnapshotManager.remove(store: db, environment: env, name: name)
                print("removed snapshot \(name) of \(env)")
            }
        }
    }
}

/// Shared by snapshot restore and rollback --with-data. `SnapshotManager.restore` checks every
/// archive before it touches anything.
enum SnapshotRestore {
    static func run(_ record: SnapshotRecord, store db: StateStore, environment env: String, revision: Int?, options: ConvergeOptions) async throws {
        let reconciler = try EngineFactory.reconciler(store: db)
        let manager = SnapshotManager(reconciler)
        let sources = manager.sources(record)
        let stored = try db.revision(environment: env, number: revision)
        let started = ContinuousClock.now
        let outcome = try await ExclusiveLease.run(db, environment: env, holder: "snapshot restore") {
            try await manager.restore(sources, label: "snapshot \"\(record.name)\"", desired: try reconciler.desiredState(stored),
                                      executor: .cli(engine: reconciler.engine, store: db, timeoutSeconds: options.timeout, parallel: options.parallel))
        }
        guard outcome.converged else {
            for failure in outcome.report.failures { Terminal.error(failure.message) }
            for problem in outcome.plan.problems { Terminal.error(problem) }
            throw UserError("the volumes of snapshot \(record.name) were restored, but \(env) did not come back healthy; see devstack status")
        }
        print(Terminal.green("restored snapshot \(record.name)") + " (\(record.volumes.map(\.volume).joined(separator: ", "))) into \(env) at revision \(stored.summary.number) in \(Elapsed.since(started))")
    }
}
