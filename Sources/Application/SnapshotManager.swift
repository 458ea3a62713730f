import EnvSpec
import Foundation
import Reconciler
import StateStore

public enum SnapshotError: Error, CustomStringConvertible, Sendable {
    case noVolumes(String)
    case unknownVolume(String, known: [String])
    case unknownService(String)
    case volumeMissing(String)
    case archiveMissing(snapshot: String, path: String)
    case tampered(snapshot: String, volume: String, expected: String, actual: String)
    case unreadable(snapshot: String, volume: String, reason: String)
    case badName(String)

    public var description: String {
        switch self {
        case let .noVolumes(what): return "\(what) has no named volumes to snapshot"
        case let .unknownVolume(name, known): return "no named volume \"\(name)\" in the environment (known: \(known.joined(separator: ", ")))"
        case let .unknownService(name): return "no service named \"\(name)\" in the environment"
        case let .volumeMissing(name): return "volume \"\(name)\" does not exist in the engine yet: run devstack apply first"
        case let .archiveMissing(snapshot, path):
            return "\(snapshot): archive \(path) is missing; nothing was changed"
        case let .tampered(snapshot, volume, expected, actual):
            return "\(snapshot): the archive of volume \(volume) does not match its recorded sha256 (expected \(expected.prefix(12))…, found \(actual.prefix(12))…); refusing to restore it, nothing was changed"
        case let .unreadable(snapshot, volume, reason):
            return "\(snapshot): the archive of volume \(volume) cannot be restored: \(reason); nothing was changed"
        case let .badName(name): return "invalid snapshot name \"\(name)\": \(Names.ruleText)"
        }
    }
}

/// Saves named volumes as gzip-compressed tar archives beside the store, and restores them.
/// Saving and restoring stop the services that use the volumes, so what is copied is at rest.
public struct SnapshotManager: InterruptedWork {
    public let reconciler: Reconciler
    public let catalog: any SnapshotCatalog
    public var directory: String { catalog.snapshotsDirectory }

    public init(_ reconciler: Reconciler, catalog: any SnapshotCatalog) {
        self.reconciler = reconciler
        self.catalog = catalog
    }

    /// The volumes a snapshot covers: one, those of one service, or all of the environment's.
    public static func volumes(in spec: EnvironmentSpec, service: String?, volume: String?) throws -> [String] {
        let all = Set(spec.services.values.flatMap { $0.volumes.filter { $0.type == .volume }.map(\.source) }).sorted()
        if let volume {
            guard all.contains(volume) else { throw SnapshotError.unknownVolume(volume, known: all) }
            return [volume]
        }
        if let service {
            guard let s = spec.services[service] else { throw SnapshotError.unknownService(service) }
            let mine = Set(s.volumes.filter { $0.type == .volume }.map(\.source)).sorted()
            guard !mine.isEmpty else { throw SnapshotError.noVolumes("service \"\(service)\"") }
            return mine
        }
        guard !all.isEmpty else { throw SnapshotError.noVolumes("environment \"\(spec.name)\"") }
        return all
    }

    public func save(name: String, volumes: [String], desired: DesiredState, executor: Executor) async throws -> SnapshotRecord {
        guard Names.isValid(name) else { throw SnapshotError.badName(name) }
        if try catalog.snapshots(environment: desired.environment).contains(where: { $0.name == name }) {
            throw StoreError.snapshotExists(environment: desired.environment, name: name)
        }
        let observed = try await reconciler.observe(desired)
        for volume in volumes where !observed.volumes.contains(Naming.volume(desired.environment, volume)) {
            throw SnapshotError.volumeMissing(volume)
        }
        let access = VolumeAccess(engine: reconciler.engine, desired: desired)
        try await stopUsers(of: volumes, access: access, observed: observed, remove: false, stopTimeout: executor.stopTimeout)
        var saved: [SnapshotRecord.Volume] = []
        let folder = "\(desired.environment)/\(name)"
        do {
            try Files.createPrivateFolder(PathMath.join(directory, folder))
            for volume in volumes {
                let tar = try await access.read(volume, purpose: "snapshot")
                let compressed = try Gzip.compress(tar)
                let relative = "\(folder)/\(volume).tar.gz"
                try Files.writePrivate(compressed, to: PathMath.join(directory, relative))
                saved.append(SnapshotRecord.Volume(volume: volume, archive: relative, sha256: CanonicalJSON.sha256(compressed), bytes: compressed.count))
            }
            try catalog.recordSnapshot(environment: desired.environment, SnapshotRecord(name: name, revision: desired.revision, volumes: saved))
        } catch {
            // Nothing half-saved stays behind, and the services come back either way.
            try? FileManager.default.removeItem(atPath: PathMath.join(directory, folder))
            _ = try? await reconciler.converge(desired, executor: executor)
            throw error
        }
        let outcome = try await reconciler.converge(desired, executor: executor)
        if !outcome.converged {
            throw HostError("snapshot \"\(name)\" was saved, but the services did not come back: see devstack status")
        }
        return SnapshotRecord(name: name, revision: desired.revision, volumes: saved)
    }

    /// The archives of a recorded snapshot, as absolute paths with their digests.
    public func sources(_ record: SnapshotRecord) -> [RestoreSource] {
        record.volumes.map { RestoreSource(volume: $0.volume, path: PathMath.join(directory, $0.archive), sha256: $0.sha256) }
    }

    /// Reads and checks every archive before anything is touched: a missing file, a digest
    /// mismatch or an unsafe entry refuses the whole restore.
    public static func load(_ sources: [RestoreSource], label: String) throws -> [String: Data] {
        var archives: [String: Data] = [:]
        for source in sources {
            guard let data = FileManager.default.contents(atPath: source.path) else { throw SnapshotError.archiveMissing(snapshot: label, path: source.path) }
            archives[source.volume] = try unpack(data, sha256: source.sha256, snapshot: label, volume: source.volume)
        }
        return archives
    }

    /// Checks a compressed archive against its digest, inflates it and checks its entries.
    public static func unpack(_ data: Data, sha256 expected: String, snapshot: String, volume: String) throws -> Data {
        let actual = CanonicalJSON.sha256(data)
        guard actual == expected else { throw SnapshotError.tampered(snapshot: snapshot, volume: volume, expected: expected, actual: actual) }
        do {
            let tar = data.starts(with: [0x1f, 0x8b]) ? try Gzip.decompress(data) : data
            try Tar.validate(tar, allowRelativeLinks: true)
            return tar
        } catch {
            throw SnapshotError.unreadable(snapshot: snapshot, volume: volume, reason: "\(error)")
        }
    }

    /// Verifies every archive, stops and removes the volumes' users, recreates the volumes from
    /// the archives, then converges the environment and waits for it to be healthy again. The
    /// store journals the restore while volumes are emptied, so one cut short is finished later.
    public func restore(_ sources: [RestoreSource], label: String, desired: DesiredState, executor: Executor) async throws -> Reconciler.Outcome {
        let archives = try Self.load(sources, label: label)
        let access = VolumeAccess(engine: reconciler.engine, desired: desired)
        let observed = try await reconciler.observe(desired)
        try await stopUsers(of: Array(archives.keys), access: access, observed: observed, remove: true, stopTimeout: executor.stopTimeout)
        try catalog.beginRestore(environment: desired.environment, label: label, sources: sources)
        for (volume, tar) in archives.sorted(by: { $0.key < $1.key }) {
            let engineName = Naming.volume(desired.environment, volume)
            do { try await reconciler.engine.removeVolume(engineName) } catch let error as EngineError where error.kind == .notFound {}
            try await reconciler.engine.createVolume(engineName, environment: desired.environment)
            FaultInjection.reach(.midRestore, volume)
            try await access.write(volume, archive: tar, purpose: "restore")
        }
        try catalog.finishRestore(environment: desired.environment)
        return try await reconciler.converge(desired, executor: executor)
    }

    /// Finishes a restore that was cut short, before anything else uses the volumes. Returns
    /// what was restored, or nil when nothing was pending.
    public func resume(desired: DesiredState, executor: Executor) async throws -> String? {
        guard let pending = try catalog.pendingRestore(environment: desired.environment) else { return nil }
        _ = try await restore(pending.sources, label: pending.label, desired: desired, executor: executor)
        return pending.label
    }

    func stopUsers(of volumes: [String], access: VolumeAccess, observed: ObservedState, remove: Bool, stopTimeout: Int) async throws {
        let users = Set(access.users(of: Set(volumes)))
        for container in observed.containers where container.service.map(users.contains) ?? false {
            do { try await reconciler.engine.stopContainer(container.id, timeoutSeconds: stopTimeout) } catch let error as EngineError where error.kind == .notFound {}
            if remove {
                do { try await reconciler.engine.removeContainer(container.id) } catch let error as EngineError where error.kind == .notFound {}
            }
        }
    }

    /// Forgets a snapshot and deletes its archives; needs no engine.
    public static func remove(store: StateStore, environment: String, name: String) throws {
        _ = try store.snapshot(environment: environment, name: name)
        try store.removeSnapshot(environment: environment, name: name)
        try? FileManager.default.removeItem(atPath: PathMath.join(store.snapshotsDirectory, "\(environment)/\(name)"))
    }
}

/// Where snapshots are recorded, and the journal of a restore under way.
public protocol SnapshotCatalog: Sendable {
    var snapshotsDirectory: String { get }
    func snapshots(environment: String) throws -> [SnapshotRecord]
    func recordSnapshot(environment: String, _ snapshot: SnapshotRecord) throws
    func beginRestore(environment: String, label: String, sources: [RestoreSource]) throws
    func finishRestore(environment: String) throws
    func pendingRestore(environment: String) throws -> PendingRestore?
}
