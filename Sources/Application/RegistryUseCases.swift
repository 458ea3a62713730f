import EnvSpec
import Foundation
import HostFiles
import Registry
import StateStore

public typealias RegistryOptions = Registry.RegistryOptions
public typealias RegistryFailure = Registry.RegistryError

extension RegistryOptions {
    /// Flags first, then `DEVSTACK_REGISTRY_CA` and `DEVSTACK_REGISTRY_PLAIN_HTTP=1`: what a
    /// snapshot seed, which has no flags, uses.
    public static func live(ca: String? = nil, plainHTTP: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) -> RegistryOptions {
        let ca = ca ?? environment["DEVSTACK_REGISTRY_CA"].flatMap { $0.isEmpty ? nil : $0 }
        return RegistryOptions(caFile: ca, plainHTTP: plainHTTP || environment["DEVSTACK_REGISTRY_PLAIN_HTTP"] == "1", environment: environment)
    }
}

/// push, pull, `import oci://`, `diff --against oci://` and snapshot seeds from a registry: an
/// environment as an OCI artifact (docs/bundle.md#registry).
public enum RegistryUseCases {
    public static func reference(_ written: String) throws -> OCIReference {
        do { return try OCIReference.parse(written) } catch { throw UseCaseError("\(error)", invalidInput: true) }
    }

    /// What a push did: the pinned reference, and which blobs moved.
    public struct PushReport: Sendable {
        public var reference: OCIReference
        public var revision: Int
        public var uploaded: [OCIArtifact.Descriptor] = []
        public var mounted: [OCIArtifact.Descriptor] = []
        public var present: [OCIArtifact.Descriptor] = []
    }

    /// Pushes a revision (with its snapshot archives when `withData`) as an artifact. A blob the
    /// repository has is not sent again; one this machine pushed to another repository of the
    /// same registry is mounted from there; the rest is uploaded in chunks.
    public static func push(workspace: Workspace, environment env: String, revision: Int?, to written: String, withData: Bool,
                            key: BundleSignature.PrivateKey?, options: RegistryOptions, sink: @escaping ProgressSink) async throws -> PushReport {
        let target = try reference(written)
        guard target.digest == nil else {
            throw UseCaseError("\(written): push to a tag (REGISTRY/PATH:TAG); the digest is what the registry answers", invalidInput: true)
        }
        let (bundle, number) = try SharingUseCases.export(workspace: workspace, environment: env, revision: revision, withData: false, reproducible: true)
        let bundleData = try SharingUseCases.bytes(bundle, signedWith: key)
        var blobs: [(OCIArtifact.Descriptor, Blob)] = [
            (.of(OCIArtifact.emptyConfig, mediaType: OCIArtifact.emptyMediaType), .data(OCIArtifact.emptyConfig)),
            (.of(bundleData, mediaType: OCIArtifact.bundleMediaType, annotations: [OCIArtifact.Annotation.title: "\(env)-\(number).bundle.json"]), .data(bundleData)),
        ]
        if withData {
            for snapshot in bundle.snapshots.sorted(by: { $0.name < $1.name }) {
                for volume in snapshot.volumes {
                    let path = PathMath.join(workspace.store.snapshotsDirectory, volume.archive)
                    var info = stat()
                    guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                        throw UseCaseError("snapshot \(snapshot.name): the archive \(path) is missing; devstack doctor shows which")
                    }
                    let descriptor = OCIArtifact.Descriptor(mediaType: OCIArtifact.snapshotMediaType, digest: "sha256:" + volume.sha256, size: Int(info.st_size), annotations: [
                        OCIArtifact.Annotation.title: "\(snapshot.name)-\(volume.volume).tar.gz",
                        OCIArtifact.Annotation.snapshot: snapshot.name, OCIArtifact.Annotation.volume: volume.volume,
                    ])
                    blobs.append((descriptor, .file(path)))
                }
            }
        }
        let manifest = OCIArtifact.Manifest(config: blobs[0].0, layers: blobs.dropFirst().map(\.0), annotations: [
            OCIArtifact.Annotation.created: bundle.exportedAt, OCIArtifact.Annotation.environment: env,
            OCIArtifact.Annotation.revision: String(number),
        ])
        let cache = BlobCache.live()
        var report = PushReport(reference: target, revision: number)
        let here = "\(target.registry)/\(target.repository)"
        try await RegistrySession.with(target, options: options) { session in
            for (descriptor, blob) in blobs {
                if try await session.blobExists(target.repository, digest: descriptor.digest) {
                    report.present.append(descriptor)
                    continue
                }
                // Mounted from where this machine last put it on the same registry, when it can be.
                var started: String?
                var mounted = false
                if let location = cache.locations(of: descriptor.digest).first(where: { $0 != here && $0.hasPrefix("\(target.registry)/") }) {
                    started = try await session.mountBlob(target.repository, digest: descriptor.digest, from: String(location.dropFirst(target.registry.count + 1)))
                    mounted = started == nil
                }
                if mounted {
                    report.mounted.append(descriptor)
                    continue
                }
                let meter = TransferMeter("uploading \(descriptor.annotations[OCIArtifact.Annotation.title] ?? descriptor.digest)", sink: sink, total: descriptor.size)
                let progress = ProgressBox(meter)
                let reader = try blob.reader()
                try await session.upload(target.repository, descriptor, session: started, read: { try reader.read($0) }, moved: { progress.moved($0) })
                progress.finished(descriptor.size)
                report.uploaded.append(descriptor)
            }
            let digest = try await session.putManifest(target.repository, reference: target.tag ?? "latest", manifest.data)
            report.reference = target.with(digest: digest)
        }
        for (descriptor, _) in blobs { cache.remember(descriptor.digest, at: here) }
        return report
    }

    enum Blob {
        case data(Data)
        case file(String)

        func reader() throws -> ChunkReader {
            switch self {
            case let .data(data): return ChunkReader(data: data)
            case let .file(path):
                do { return ChunkReader(handle: try LocalFiles.openRegular(path)) } catch {
                    throw UseCaseError("\(path): cannot read the archive: \(LocalFiles.reason(error))")
                }
            }
        }
    }

    /// Hands a blob over in pieces: a file is read as it is sent, never whole.
    final class ChunkReader: @unchecked Sendable {
        var data: Data?
        let handle: FileHandle?
        init(data: Data) { self.data = data; handle = nil }
        init(handle: FileHandle) { self.handle = handle; data = nil }
        deinit { try? handle?.close() }

        func read(_ count: Int) throws -> Data? {
            if let handle { return try handle.read(upToCount: count) }
            guard let rest = data, !rest.isEmpty else { return nil }
            let piece = rest.prefix(count)
            data = rest.count > count ? Data(rest.dropFirst(count)) : Data()
            return Data(piece)
        }
    }

    /// An artifact brought here: its pinned reference, manifest, bundle bytes and (when asked
    /// for) its snapshot archives in the download cache, by "SNAPSHOT/VOLUME".
    public struct Fetched: Sendable {
        public var reference: OCIReference
        public var manifest: OCIArtifact.Manifest
        public var bundle: Data
        public var archives: [String: String] = [:]
    }

    /// The bundle blob is read whole: without archives it is small, and it is refused above this.
    static let bundleLimit = 256 << 20

    public static func fetch(_ written: String, options: RegistryOptions, archives: Bool, sink: @escaping ProgressSink) async throws -> Fetched {
        let source = try reference(written)
        let cache = BlobCache.live()
        return try await RegistrySession.with(source, options: options) { session in
            let (data, digest) = try await manifest(source, session: session, cache: cache)
            let pinned = source.with(digest: digest)
            let manifest: OCIArtifact.Manifest
            do { manifest = try OCIArtifact.parse(data, source: pinned.description) } catch { throw UseCaseError("\(error)", invalidInput: true) }
            let bundleLayer = manifest.bundle!
            guard bundleLayer.size <= bundleLimit else { throw UseCaseError("\(pinned): the bundle layer is \(bundleLayer.size) bytes, over the \(bundleLimit >> 20) MiB a bundle may have", invalidInput: true) }
            let bundlePath = try await cache.fetch(bundleLayer, from: session, repository: source.repository)
            let bundle = try LocalFiles.readData(bundlePath, limit: bundleLimit)
            var fetched = Fetched(reference: pinned, manifest: manifest, bundle: bundle)
            if archives {
                for archive in manifest.archives {
                    let meter = TransferMeter("downloading \(archive.snapshot)/\(archive.volume)", sink: sink, total: archive.layer.size)
                    fetched.archives["\(archive.snapshot)/\(archive.volume)"] = try await cache.fetch(archive.layer, from: session, repository: source.repository, meter: meter)
                }
            }
            cache.remember(digest, at: "\(source.registry)/\(source.repository)")
            return fetched
        }
    }

    /// A manifest pinned by digest comes from the cache when it is there (so a seed downloads
    /// once); otherwise from the registry, verified, and kept.
    static func manifest(_ source: OCIReference, session: RegistrySession, cache: BlobCache) async throws -> (Data, String) {
        if let digest = source.digest, let data = cache.manifest(digest) { return (data, digest) }
        let (data, digest) = try await session.manifest(source.repository, reference: source.manifestReference)
        try cache.keep(data, digest: digest)
        return (data, digest)
    }

    /// `pull REF` and `import oci://REF`: the artifact's bundle, verified and recorded like a
    /// file's, its snapshots joining the catalog. Every archive must be one the bundle lists
    /// (and so one its signature covers).
    public static func pull(_ written: String, options: RegistryOptions, message: String?, allowHostAccess: Bool, trust: [String], allowUnsigned: Bool,
                            open: () throws -> Workspace, sink: @escaping ProgressSink) async throws {
        let fetched = try await fetch(written, options: options, archives: true, sink: sink)
        let name = fetched.reference.description
        let opened = try SharingUseCases.open(fetched.bundle, source: name)
        for archive in fetched.manifest.archives {
            let listed = opened.bundle.snapshots.first { $0.name == archive.snapshot }?.volumes.first { $0.volume == archive.volume }
            guard let listed, "sha256:" + listed.sha256 == archive.layer.digest else {
                throw UseCaseError("\(name): the layer for \(archive.snapshot)/\(archive.volume) is not the archive the bundle lists; nothing was imported", invalidInput: true)
            }
        }
        sink(.aside("pulled \(name)"))
        try SharingUseCases.importBundle(opened, source: name, archiveFiles: fetched.archives, message: message, allowHostAccess: allowHostAccess,
                                         trust: trust, allowUnsigned: allowUnsigned, open: open, sink: sink)
    }

    /// A snapshot seed's archive from `oci://REF@sha256:…`: the layer for `volume`, in the
    /// download cache (fetched once), with the digest a restore checks again.
    public static func seedArchive(_ written: String, volume: String, options: RegistryOptions, sink: @escaping ProgressSink) async throws -> (path: String, sha256: String) {
        let source = try reference(written)
        guard source.digest != nil else { throw UseCaseError("\(written): a snapshot seed from a registry is pinned by digest (@sha256:…)", invalidInput: true) }
        let cache = BlobCache.live()
        func pick(_ data: Data) throws -> OCIArtifact.Descriptor {
            do { return try OCIArtifact.layer(for: volume, in: try OCIArtifact.parse(data, source: source.description), source: source.description) } catch {
                throw UseCaseError("\(error)", invalidInput: true)
            }
        }
        if let digest = source.digest, let data = cache.manifest(digest) {
            let layer = try pick(data)
            if cache.has(layer) { return (cache.path(layer), layer.hex) }
        }
        return try await RegistrySession.with(source, options: options) { session in
            let (data, _) = try await manifest(source, session: session, cache: cache)
            let layer = try pick(data)
            let meter = TransferMeter("downloading \(volume) from \(source.registry)", sink: sink, total: layer.size)
            return (try await cache.fetch(layer, from: session, repository: source.repository, meter: meter), layer.hex)
        }
    }

    /// Brings every registry snapshot seed of `spec` into the download cache before anything is
    /// recorded or changed: a wrong digest or an unreachable registry stops the apply there.
    public static func prefetchSeeds(_ spec: EnvironmentSpec, sink: @escaping ProgressSink) async throws {
        for (name, seed) in spec.seeds.sorted(by: { $0.key < $1.key }) {
            guard case let .registrySnapshot(written) = seed.action else { continue }
            do { _ = try await seedArchive(written, volume: seed.volume ?? "", options: .live(), sink: sink) } catch {
                throw UseCaseError("seed \(name): \(error); nothing was recorded or changed", invalidInput: (error as? UseCaseError)?.invalidInput ?? false)
            }
        }
    }

    /// `cache prune`: removes what no environment's latest revision seeds from (its manifest and
    /// archive stay; a bundle fetched for a comparison goes), or everything with `all`; what was
    /// removed and what was kept.
    public static func prune(workspace: Workspace?, all: Bool) throws -> (removed: [BlobCache.Entry], kept: [BlobCache.Entry]) {
        let cache = BlobCache.live()
        var keep: Set<String> = []
        if !all, let store = workspace?.store {
            for environment in try store.environmentNames() {
                guard let revision = try? store.revision(environment: environment, number: nil) else { continue }
                for seed in revision.spec.seeds.values {
                    guard case let .registrySnapshot(written) = seed.action, let digest = try? OCIReference.parse(written).digest else { continue }
                    keep.insert(digest)
                    if let data = cache.manifest(digest), let manifest = try? OCIArtifact.parse(data, source: written) {
                        manifest.archives.forEach { keep.insert($0.layer.digest) }
                    }
                }
            }
        }
        let removed = cache.prune(keeping: keep)
        return (removed, cache.entries())
    }
}
