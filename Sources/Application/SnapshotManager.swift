import EnvSpec
import Foundation
import HostFiles
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
    case unsaveable(volume: String, reason: String)

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
        case let .unsaveable(volume, reason):
            return "volume \(volume) cannot be saved in a snapshot devstack could restore: \(reason); nothing was saved"
        }
    }
}

/// Saves named volumes as gzip-compressed tar archives beside the store, and restores them.
/// Saving and restoring stop the services that use the volumes, so what is copied is at rest.
public struct SnapshotManager: InterruptedWork {
    public let reconciler: Reconciler
    public let catalog: any SnapshotCatalog
    public var directory: String { catalog.snapshotsDirectory }
    /// Where byte counts of long copies go, for a progress line.
    public var progress: ProgressSink?

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
                let relative = "\(folder)/\(volume).tar.gz"
                let writer = try ArchiveWriter(path: PathMath.join(directory, relative))
                var meter = TransferMeter(volume, sink: progress)
                do {
                    try await access.read(volume, purpose: "snapshot") { piece in
                        try writer.write(piece)
                        meter.moved(writer.bytesTaken)
                    }
                } catch let entry as Tar.UnsafeEntry {
                    throw SnapshotError.unsaveable(volume: volume, reason: entry.description)
                }
                let sha256 = try writer.commit()
                meter.finished(writer.bytesTaken)
                saved.append(SnapshotRecord.Volume(volume: volume, archive: relative, sha256: sha256, bytes: writer.bytesWritten))
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

    /// Checks every archive before anything is touched: a missing file or a digest mismatch
    /// refuses the whole restore, and so does an unsafe entry when `entries` is set. Archives in
    /// the catalog had their entries checked when they were saved or imported, so their digest
    /// is enough; files from elsewhere (a seed's snapshot) are read through once.
    public static func verify(_ sources: [RestoreSource], label: String, entries: Bool) throws {
        for source in sources {
            let reader = try open(source, label: label)
            do {
                if entries {
                    var validator = Tar.Validator(allowRelativeLinks: true)
                    while let piece = try reader.next() { try validator.feed(piece) }
                } else {
                    try reader.drain()
                }
            } catch {
                // A damaged archive is reported as tampered when its digest says so.
                try? reader.drain()
                try check(reader, source, label: label)
                throw SnapshotError.unreadable(snapshot: label, volume: source.volume, reason: "\(error)")
            }
            try check(reader, source, label: label)
        }
    }

    /// Checks the entries of an archive held in memory (an imported bundle's), inflating it
    /// piece by piece, before it joins the catalog.
    public static func checkEntries(_ archive: Data, snapshot: String, volume: String) throws {
        var validator = Tar.Validator(allowRelativeLinks: true)
        do {
            guard archive.starts(with: [0x1f, 0x8b]) else { return try validator.feed(archive) }
            let inflater = try Gzip.Inflater()
            try inflater.push(archive) { try validator.feed($0) }
            guard inflater.finished else { throw Gzip.Failure(description: "not a valid gzip archive (it ends early)") }
        } catch {
            throw SnapshotError.unreadable(snapshot: snapshot, volume: volume, reason: "\(error)")
        }
    }

    static func open(_ source: RestoreSource, label: String) throws -> ArchiveReader {
        do { return try ArchiveReader(path: source.path) } catch let error as FileReadError where error.reason == "no such file" {
            throw SnapshotError.archiveMissing(snapshot: label, path: source.path)
        } catch {
            throw SnapshotError.unreadable(snapshot: label, volume: source.volume, reason: "\(source.path): \(LocalFiles.reason(error))")
        }
    }

    static func check(_ reader: ArchiveReader, _ source: RestoreSource, label: String) throws {
        let actual = reader.sha256
        guard actual == source.sha256 else {
            throw SnapshotError.tampered(snapshot: label, volume: source.volume, expected: source.sha256, actual: actual)
        }
    }

    /// Verifies every archive, stops and removes the volumes' users, recreates the volumes from
    /// the archives, then converges the environment and waits for it to be healthy again. The
    /// store journals the restore while volumes are emptied, so one cut short is finished later.
    public func restore(_ sources: [RestoreSource], label: String, desired: DesiredState, executor: Executor,
                        checkEntries: Bool = true) async throws -> Reconciler.Outcome {
        try Self.verify(sources, label: label, entries: checkEntries)
        let access = VolumeAccess(engine: reconciler.engine, desired: desired)
        let observed = try await reconciler.observe(desired)
        try await stopUsers(of: sources.map(\.volume), access: access, observed: observed, remove: true, stopTimeout: executor.stopTimeout)
        try catalog.beginRestore(environment: desired.environment, label: label, sources: sources)
        for source in sources.sorted(by: { $0.volume < $1.volume }) {
            let engineName = Naming.volume(desired.environment, source.volume)
            do { try await reconciler.engine.removeVolume(engineName) } catch let error as EngineError where error.kind == .notFound {}
            try await reconciler.engine.createVolume(engineName, environment: desired.environment)
            FaultInjection.reach(.midRestore, source.volume)
            let reader = try Self.open(source, label: label)
            reader.meter = TransferMeter(source.volume, sink: progress)
            try await access.write(source.volume, chunks: reader.chunks, purpose: "restore")
            reader.meter?.finished(reader.bytesOut)
            // The file was checked before; one changed since then is refused, not trusted.
            try Self.check(reader, source, label: label)
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
