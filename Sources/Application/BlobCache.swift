import EnvSpec
import Foundation
import HostFiles
import Registry
import StateStore

/// Blobs and manifests downloaded from registries, by digest, shared by every environment and
/// state database of this user: `$DEVSTACK_CACHE`, else `$XDG_CACHE_HOME/devstack`, else
/// `~/.cache/devstack`. A blob is written under a temporary name and renamed into place only
/// after its digest matched, so what is in the cache is always what its name says.
public struct BlobCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public static func live(environment: [String: String] = ProcessInfo.processInfo.environment) -> BlobCache {
        if let explicit = environment["DEVSTACK_CACHE"], !explicit.isEmpty { return BlobCache(root: explicit) }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return BlobCache(root: PathMath.join(xdg, "devstack")) }
        return BlobCache(root: PathMath.join(environment["HOME"] ?? NSHomeDirectory(), ".cache/devstack"))
    }

    var blobs: String { PathMath.join(root, "blobs/sha256") }
    var locations: String { PathMath.join(root, "locations") }

    public func path(_ descriptor: OCIArtifact.Descriptor) -> String { PathMath.join(blobs, descriptor.hex) }

    /// True when the blob is here with the size its descriptor gives (its digest was checked
    /// when it arrived; a restore checks it again as it reads).
    public func has(_ descriptor: OCIArtifact.Descriptor) -> Bool {
        var info = stat()
        return lstat(path(descriptor), &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && Int(info.st_size) == descriptor.size
    }

    /// Downloads a blob into the cache unless it is there already; its path.
    func fetch(_ descriptor: OCIArtifact.Descriptor, from session: RegistrySession, repository: String, meter: TransferMeter? = nil) async throws -> String {
        if has(descriptor) { return path(descriptor) }
        try prepare()
        let final = path(descriptor)
        let partial = "\(final).partial-\(UUID().uuidString.prefix(8))"
        try Files.createPrivateFile(partial)
        guard let handle = FileHandle(forWritingAtPath: partial) else { throw UseCaseError("\(partial): cannot write to the cache") }
        let progress = ProgressBox(meter)
        do {
            try await session.download(repository, descriptor, into: { try handle.write(contentsOf: $0) }, moved: { progress.moved($0) })
            try handle.close()
            guard rename(partial, final) == 0 else { throw UseCaseError("\(final): cannot move the download into the cache: \(String(cString: strerror(errno)))") }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        progress.finished(descriptor.size)
        return final
    }

    /// Keeps a small blob (a manifest) in the cache under its digest.
    public func keep(_ data: Data, digest: String) throws {
        try prepare()
        let descriptor = OCIArtifact.Descriptor.of(data, mediaType: "")
        guard descriptor.digest == digest else { return }
        if !has(descriptor) { try Files.writePrivate(data, to: path(descriptor)) }
    }

    /// A cached manifest by digest, if it is here and still hashes to it.
    public func manifest(_ digest: String) -> Data? {
        guard OCIArtifact.isDigest(digest), let data = try? LocalFiles.readData(PathMath.join(blobs, String(digest.dropFirst(7))), limit: OCIArtifact.manifestLimit),
              "sha256:" + CanonicalJSON.sha256(data) == digest else { return nil }
        return data
    }

    /// Where a blob was last pushed or pulled ("registry/repository"), for a cross-repository mount.
    public func locations(of digest: String) -> [String] {
        guard let text = try? LocalFiles.readText(PathMath.join(locations, String(digest.dropFirst(7))), limit: 1 << 16) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    public func remember(_ digest: String, at location: String) {
        guard OCIArtifact.isDigest(digest) else { return }
        var known = locations(of: digest).filter { $0 != location }
        known.insert(location, at: 0)
        try? Files.createPrivateFolder(root)
        try? Files.createPrivateFolder(locations)
        try? Files.writePrivate(Data(known.prefix(8).joined(separator: "\n").utf8), to: PathMath.join(locations, String(digest.dropFirst(7))))
    }

    func prepare() throws {
        do {
            try Files.createPrivateFolder(root)
            try Files.createPrivateFolder(PathMath.join(root, "blobs"))
            try Files.createPrivateFolder(blobs)
        } catch { throw UseCaseError("cannot create the download cache: \(error)") }
    }

    public struct Entry: Sendable, Equatable {
        public var digest: String
        public var bytes: Int
    }

    /// Every cached blob, largest first.
    public func entries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? []
        return names.compactMap { name -> Entry? in
            var info = stat()
            guard name.count == 64, lstat(PathMath.join(blobs, name), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            return Entry(digest: "sha256:" + name, bytes: Int(info.st_size))
        }.sorted { ($0.bytes, $0.digest) > ($1.bytes, $1.digest) }
    }

    /// Removes every blob not in `keep` (and half-finished downloads); what was removed.
    public func prune(keeping keep: Set<String>) -> [Entry] {
        var removed: [Entry] = []
        for entry in entries() where !keep.contains(entry.digest) {
            if (try? FileManager.default.removeItem(atPath: PathMath.join(blobs, String(entry.digest.dropFirst(7))))) != nil {
                removed.append(entry)
                try? FileManager.default.removeItem(atPath: PathMath.join(locations, String(entry.digest.dropFirst(7))))
            }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] where name.contains(".partial-") {
            try? FileManager.default.removeItem(atPath: PathMath.join(blobs, name))
        }
        return removed
    }
}

/// A transfer meter shared with the download's callback.
final class ProgressBox: @unchecked Sendable {
    let lock = NSLock()
    var meter: TransferMeter?
    init(_ meter: TransferMeter?) { self.meter = meter }
    func moved(_ bytes: Int) { lock.withLock { meter?.moved(bytes) } }
    func finished(_ bytes: Int) { lock.withLock { meter?.finished(bytes) } }
}
