import HostFiles
import EnvSpec
import Foundation
import Reconciler
import Registry
import StateStore

/// export, import and `diff --against`: sharing an environment with a teammate.
public enum SharingUseCases {
    /// The bundle of a revision; `withData` carries the snapshot archives themselves.
    /// `reproducible`: stamped with the revision's own time instead of now, so the same revision
    /// exported by the same person is the same bytes (a push then has the same digest).
    public static func export(workspace: Workspace, environment env: String, revision: Int?, withData: Bool,
                              reproducible: Bool = false) throws -> (bundle: ExportBundle, revision: Int) {
        let stored = try workspace.store.revision(environment: env, number: revision)
        var bundle = try BundleContents.make(stored, store: workspace.store, withData: withData)
        if reproducible { bundle.exportedAt = stored.summary.createdAt }
        return (bundle, stored.summary.number)
    }

    /// The bundle's bytes, signed with `key` when one is given.
    public static func bytes(_ bundle: ExportBundle, signedWith key: BundleSignature.PrivateKey?) throws -> Data {
        let data = Data(bundle.text.utf8)
        guard let key else { return data }
        return try BundleSignature.sign(data, with: key)
    }

    /// Writes an export: a new file is private (it carries host values); an existing regular file
    /// keeps its mode; a device or FIFO is written through; a folder is refused.
    public static func write(_ bundle: ExportBundle, to output: String, signedWith key: BundleSignature.PrivateKey? = nil) throws {
        try Files.writeOutput(try bytes(bundle, signedWith: key), to: output, newFileMode: Files.privateFileMode)
    }

    /// Reads and verifies a bundle file: its signature, when it has one, over its exact bytes;
    /// then its hashes.
    public static func read(_ file: String) throws -> (bundle: ExportBundle, provenance: String, signature: BundleSignature.Signature?) {
        let data: Data
        do { data = try LocalFiles.readData(file, limit: 2 << 30) } catch {
            throw UseCaseError("\(file): cannot read the bundle: \(LocalFiles.reason(error))", invalidInput: true)
        }
        return try open(data, source: file)
    }

    /// Verifies a bundle's bytes, from a file or a registry: the signature first, then the hashes.
    public static func open(_ data: Data, source file: String) throws -> (bundle: ExportBundle, provenance: String, signature: BundleSignature.Signature?) {
        let opened: (bundle: Data, signature: BundleSignature.Signature?)
        do { opened = try BundleSignature.unseal(data) } catch { throw UseCaseError("\(file): \(error); nothing was imported", invalidInput: true) }
        guard let text = String(data: opened.bundle, encoding: .utf8) else {
            throw UseCaseError("\(file): the bundle is not UTF-8 text", invalidInput: true)
        }
        let (bundle, provenance) = try ExportBundle.read(text, file: file)
        return (bundle, provenance, opened.signature)
    }

    /// A bundle file, or `oci://REF` from a registry (the bundle alone, for a comparison).
    public static func read(_ source: String, registry options: RegistryOptions) async throws -> (bundle: ExportBundle, provenance: String, signature: BundleSignature.Signature?) {
        guard OCIReference.isWritten(source) else { return try read(source) }
        let fetched = try await RegistryUseCases.fetch(source, options: options, archives: false, sink: { _ in })
        return try open(fetched.bundle, source: fetched.reference.description)
    }

    /// Records a bundle as a new revision. Someone else's bundle is someone else's code: what it
    /// asks of this machine is shown, and needs consent before anything is recorded.
    public static func importBundle(file: String, message: String?, allowHostAccess: Bool, trust: [String] = [], allowUnsigned: Bool = false,
                                    open: () throws -> Workspace, sink: @escaping ProgressSink) throws {
        try importBundle(try read(file), source: file, archiveFiles: [:], message: message, allowHostAccess: allowHostAccess,
                         trust: trust, allowUnsigned: allowUnsigned, open: open, sink: sink)
    }

    /// Records an opened bundle; its snapshot archives are in the bundle (a file) or in
    /// `archiveFiles`, by "SNAPSHOT/VOLUME" (downloaded from a registry).
    static func importBundle(_ opened: (bundle: ExportBundle, provenance: String, signature: BundleSignature.Signature?), source file: String,
                             archiveFiles: [String: String], message: String?, allowHostAccess: Bool, trust: [String], allowUnsigned: Bool,
                             open: () throws -> Workspace, sink: @escaping ProgressSink) throws {
        var (bundle, provenance, signature) = opened
        let (trusted, sources) = try SigningUseCases.trustedKeys(extra: trust)
        if let line = try SigningUseCases.check(signature, file: file, trusted: trusted, sources: sources, allowUnsigned: allowUnsigned) { sink(.aside(line)) }
        if let signature { provenance += "\nsigned by ed25519 key \(signature.key.fingerprint) \(signature.key.name)" }
        if !bundle.provenanceVerified {
            sink(.warning("\(file) was written by an older devstack: its message, author and exporter are not covered by a hash"))
        }
        let capabilities = HostCapability.of(bundle.spec)
        if !capabilities.isEmpty {
            sink(.aside("\(file) asks this machine for:"))
            for capability in capabilities { sink(.aside("  \(capability)")) }
            guard allowHostAccess else {
                throw UseCaseError("\(file): the bundle asks for \(capabilities.count) host capabilit\(capabilities.count == 1 ? "y" : "ies") (listed above); nothing was imported. Read them, then run again with --allow-host-access to accept them", invalidInput: true)
            }
            provenance = ExportBundle.provenance(provenance, acceptingHostAccess: capabilities.map { $0.description })
        }
        // Archives join the catalog checked, so a restore from them needs only their digest.
        for (key, archive) in bundle.archives.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "/").map(String.init)
            do { try SnapshotManager.checkEntries(archive, snapshot: "snapshot \"\(parts[0])\"", volume: parts.last ?? key) } catch {
                throw UseCaseError("\(file): \(error); nothing was imported", invalidInput: true)
            }
        }
        for snapshot in bundle.snapshots {
            let sources = snapshot.volumes.compactMap { volume in
                archiveFiles["\(snapshot.name)/\(volume.volume)"].map { RestoreSource(volume: volume.volume, path: $0, sha256: volume.sha256) }
            }
            do { try SnapshotManager.verify(sources, label: "snapshot \"\(snapshot.name)\"", entries: true) } catch {
                throw UseCaseError("\(file): \(error); nothing was imported", invalidInput: true)
            }
        }
        func hasArchive(_ snapshot: SnapshotRecord, _ volume: SnapshotRecord.Volume) -> Bool {
            bundle.archives["\(snapshot.name)/\(volume.volume)"] != nil || archiveFiles["\(snapshot.name)/\(volume.volume)"] != nil
        }
        let db = try open().store
        let meta = RevisionMeta.local(message: message ?? "import of revision \(bundle.revision.number) by \(bundle.revision.author)@\(bundle.revision.host)",
                                      source: .import, provenance: provenance)
        let outcome = try db.record(bundle.spec, meta: meta)
        switch outcome {
        case let .recorded(s): sink(.info("imported \(file) as revision \(s.number) of \(s.environment)"))
        case let .unchanged(s): sink(.info("no changes: revision \(s.number) of \(s.environment) already has this desired state"))
        }
        let env = outcome.summary.environment
        try db.recordLock(environment: env, revision: outcome.summary.number, bundle.lock)
        if !bundle.lock.isEmpty { sink(.info("locked \(bundle.lock.count) image(s) to the digests they ran as on \(bundle.revision.host)")) }
        for snapshot in bundle.snapshots where snapshot.volumes.allSatisfy({ hasArchive(snapshot, $0) }) {
            if try db.snapshots(environment: env).contains(where: { $0.name == snapshot.name }) {
                sink(.warning("snapshot \(snapshot.name) already exists here; the imported one was not kept"))
                continue
            }
            for volume in snapshot.volumes {
                let path = PathMath.join(db.snapshotsDirectory, volume.archive)
                try Files.createPrivateFolder(PathMath.directory(of: path))
                if let data = bundle.archives["\(snapshot.name)/\(volume.volume)"] {
                    try Files.writePrivate(data, to: path)
                } else if let cached = archiveFiles["\(snapshot.name)/\(volume.volume)"] {
                    try Files.copyPrivate(cached, to: path)
                }
            }
            var imported = snapshot
            imported.revision = outcome.summary.number
            try db.recordSnapshot(environment: env, imported)
            sink(.info("imported snapshot \(snapshot.name) (\(snapshot.volumes.map(\.volume).joined(separator: ", ")))"))
        }
    }

    /// Mine against a teammate's bundle: spec, image digests, seeds and snapshots.
    public static func compare(workspace: Workspace, environment requested: String?, bundle: ExportBundle, version: String) async throws
        -> (environment: String, revision: Int, differences: [TeammateDiff.Difference]) {
        let db = workspace.store
        let env = try db.resolveEnvironment(requested ?? bundle.spec.name)
        let stored = try db.revision(environment: env)
        // What runs here now, when the engine answers; what was recorded otherwise.
        var lock = try BundleContents.lock(stored, store: db)
        if let reconciler = try? workspace.reconciler(), let desired = try? reconciler.desiredState(stored) {
            let running = await reconciler.currentLocks(desired)
            if !running.isEmpty { lock = running }
        }
        let mine = TeammateDiff.Side(spec: stored.spec, lock: lock, seeds: try BundleContents.seeds(stored, store: db),
                                     snapshots: try db.snapshots(environment: env), devstackVersion: version)
        let theirs = TeammateDiff.Side(spec: bundle.spec, lock: bundle.lock, seeds: bundle.seeds, snapshots: bundle.snapshots, devstackVersion: bundle.devstackVersion)
        return (env, stored.summary.number, TeammateDiff.compare(mine: mine, theirs: theirs))
    }
}

/// What an export carries beyond the spec: the lock, the seed ledger, the snapshots.
enum BundleContents {
    static func make(_ stored: StoredRevision, store db: StateStore, withData: Bool) throws -> ExportBundle {
        let env = stored.summary.environment
        let meta = RevisionMeta.local(source: .apply)
        var bundle = ExportBundle(revision: stored, exportedBy: meta.author, exportedFrom: meta.host)
        bundle.lock = try lock(stored, store: db)
        bundle.seeds = try seeds(stored, store: db)
        bundle.snapshots = try db.snapshots(environment: env)
        if withData {
            for snapshot in bundle.snapshots {
                for volume in snapshot.volumes {
                    let path = PathMath.join(db.snapshotsDirectory, volume.archive)
                    guard let data = FileManager.default.contents(atPath: path), CanonicalJSON.sha256(data) == volume.sha256 else {
                        throw UseCaseError("snapshot \(snapshot.name): the archive \(path) is missing or does not match its sha256; devstack doctor shows which")
                    }
                    bundle.archives["\(snapshot.name)/\(volume.volume)"] = data
                }
            }
        }
        return bundle
    }

    /// The revision's own lock, or else the newest digests recorded for its images.
    static func lock(_ stored: StoredRevision, store db: StateStore) throws -> [String: ImageLock] {
        let env = stored.summary.environment
        let own = try db.lock(environment: env, revision: stored.summary.number)
        guard own.isEmpty else { return own }
        return try db.latestLocks(environment: env, upTo: stored.summary.number).filter { stored.spec.services[$0.key]?.image == $0.value.reference }
    }

    /// The ledger's last run of each seed the revision declares.
    static func seeds(_ stored: StoredRevision, store db: StateStore) throws -> [String: SeedState] {
        try db.seedLedger(environment: stored.summary.environment).filter { stored.spec.seeds[$0.key] != nil }
            .mapValues { SeedState(checksum: $0.checksum, status: $0.status.rawValue, revision: $0.revision) }
    }
}
