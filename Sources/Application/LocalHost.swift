import HostFiles
import EnvSpec
import Foundation
import Reconciler

/// Where build-context indexes are kept between runs: the state database.
public protocol ContextIndexKeeping: Sendable {
    /// With `entries` false, the index without its entries (fingerprint, digest, time): all a
    /// no-op needs, without decoding tens of thousands of entries.
    func contextIndex(_ context: String, entries: Bool) throws -> ContextIndex?
    func saveContextIndex(_ context: String, _ index: ContextIndex) throws
    /// False for a store opened read-only: the index is used but not updated.
    var canSaveContextIndex: Bool { get }
}

/// The live machine.
public struct LocalHost: HostAccess {
    public var environment: [String: String]
    /// Build contexts are hashed through this index when there is one.
    public var contextIndex: (any ContextIndexKeeping)?
    /// Asked before a build context is walked: a running `devstack fsmonitor`, or the
    /// controller's own monitor.
    public var contextMonitor: (any ContextMonitoring)?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, contextIndex: (any ContextIndexKeeping)? = nil,
                contextMonitor: (any ContextMonitoring)? = nil) {
        self.environment = environment
        self.contextIndex = contextIndex
        self.contextMonitor = contextMonitor
    }

    public var workingDirectory: String { FileManager.default.currentDirectoryPath }

    public func readSecret(_ source: SecretSource, projectDirectory: String) throws -> String {
        switch source {
        case let .environment(name):
            guard let value = environment[name] else { throw HostError("environment variable \(name) is not set") }
            return value
        case let .file(path):
            let full = PathMath.join(projectDirectory, path)
            if !source.isOutsideProject { try Self.checkStaysInside(full, projectDirectory: projectDirectory) }
            guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8) else {
                throw HostError("cannot read \(full)")
            }
            // A trailing newline is an editor's habit, not part of the secret.
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
    }

    public func readProjectFile(_ path: String, projectDirectory: String) throws -> Data {
        let full = PathMath.join(projectDirectory, path)
        try Self.checkStaysInside(full, projectDirectory: projectDirectory)
        guard let data = FileManager.default.contents(atPath: full) else { throw HostError("cannot read \(full)") }
        return data
    }

    /// Checked again when the file is read, not only when the environment was validated: a
    /// symlink swapped in between still cannot lead out of the project folder.
    static func checkStaysInside(_ full: String, projectDirectory: String) throws {
        guard PathMath.isInside(projectDirectory, full), let real = LocalFiles.realPath(full) else { return }
        let realProject = LocalFiles.realPath(projectDirectory) ?? projectDirectory
        guard PathMath.isInside(realProject, real) else {
            throw HostError("\(full) resolves to \(real), outside the project folder \(realProject): refused")
        }
    }

    /// The digest of the files a build would send (see `ContextDigest`). Files whose size,
    /// modification time and inode match the index are not read again; the others are hashed
    /// and the index updated, as git's index does for `git status`. When the walk finds exactly
    /// what the index was taken from, its digest is reused without looking at any entry. With a
    /// monitor (`devstack fsmonitor`, or the controller's own), there is no walk while it vouches that nothing in
    /// the folder changed since a walk whose digest it was given.
    public func contextHash(_ directory: String, dockerfile: String) throws -> String {
        let key = LocalFiles.realPath(directory) ?? directory
        // Asked before the walk: a change during the walk makes the monitor refuse its digest.
        let monitored = contextMonitor?.ask(folder: key, dockerfile: dockerfile)
        if case let .digest(_, digest)? = monitored { return digest }
        let digest = try walkedContextHash(directory, key: key, dockerfile: dockerfile)
        if case let .token(token)? = monitored {
            contextMonitor?.remember(folder: key, dockerfile: dockerfile, token: token, digest: digest)
        }
        return digest
    }

    /// The digest from a walk of the folder, through the index.
    func walkedContextHash(_ directory: String, key: String, dockerfile: String) throws -> String {
        let files: [ContextFile]
        do { files = try ContextWalker.listing(directory, dockerfile: dockerfile) } catch { throw HostError("\(error)") }
        let fingerprint = ContextIndex.fingerprint(of: files)
        let summary = (try? contextIndex?.contextIndex(key, entries: false)) ?? nil
        if let digest = summary?.knownContextDigest(files, fingerprint: fingerprint) { return digest }
        let known = summary == nil ? nil : (try? contextIndex?.contextIndex(key, entries: true)) ?? nil
        let indexedAt = Int64(Date().timeIntervalSince1970 * 1e9)
        var digests: [(path: String, sha256: String, size: Int)] = []
        digests.reserveCapacity(files.count)
        for file in files where !file.isDirectory {
            var sha256 = known?.knownDigest(file)
            if sha256 == nil {
                do { sha256 = try ContextWalker.sha256(directory + "/" + file.path) } catch {
                    throw HostError("cannot read \(directory)/\(file.path) of a build context: \(LocalFiles.reason(error))")
                }
            }
            digests.append((file.path, sha256!, file.size))
        }
        let digest = ContextDigest.combine(digests)
        if let keeper = contextIndex, keeper.canSaveContextIndex {
            var next = ContextIndex(indexedAt: indexedAt, fingerprint: fingerprint, digest: digest)
            next.entries.reserveCapacity(digests.count)
            for (file, entry) in zip(files.lazy.filter { !$0.isDirectory }, digests) {
                next.entries[file.path] = ContextIndex.Entry(size: file.size, modified: file.modified, inode: file.inode, sha256: entry.sha256)
            }
            // The index is a cache: failing to keep it costs time next run, not correctness.
            try? keeper.saveContextIndex(key, next)
        }
        return digest
    }

    /// Binds the port for a moment: if that fails, someone else holds it.
    public func isPortFree(hostIP: String, port: Int, proto: String) -> Bool {
        let type: Int32 = proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(hostIP)
        let result = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
