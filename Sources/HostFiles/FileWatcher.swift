import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Changes under a set of folders and files, from the kernel (inotify), never from a polling
/// loop. Every folder below a root is watched, including folders created later (whose contents
/// are then reported as changed, since they may have been written before the watch was added).
/// A change is a path: whether it still exists is for the reader to look up when it acts.
public final class FileWatcher: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private let fd: Int32
    /// Written to wake the reading thread when the watcher is stopped.
    private let wake: (read: Int32, write: Int32)
    private let lock = NSLock()
    private var folders: [Int32: String] = [:]
    /// Roots that are files: their folder is watched, and only they are reported from it.
    private var fileRoots: Set<String> = []
    private var folderRoots: [String] = []
    private var stopped = false
    /// Folder names never watched or reported (version control internals).
    public static let skippedFolders: Set<String> = [".git", ".hg", ".svn"]

    static let mask: UInt32 = UInt32(IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF)

    /// Watches `roots` (absolute paths of folders or files). Paths that do not exist yet are
    /// refused: a rule's path must be there to be watched.
    public init(roots: [String]) throws {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw Failure(description: "cannot watch files: inotify_init1: \(String(cString: strerror(errno)).lowercased())") }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            Glibc.close(fd)
            throw Failure(description: "cannot watch files: pipe: \(String(cString: strerror(errno)).lowercased())")
        }
        wake = (pipeEnds[0], pipeEnds[1])
        for root in roots {
            var info = stat()
            guard lstat(root, &info) == 0 else {
                throw Failure(description: "cannot watch \(root): \(String(cString: strerror(errno)).lowercased())")
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                folderRoots.append(root)
                _ = try addTree(root)
            } else {
                fileRoots.insert(root)
                try add(folder: (root as NSString).deletingLastPathComponent)
            }
        }
    }

    deinit {
        Glibc.close(fd)
        Glibc.close(wake.read)
        Glibc.close(wake.write)
    }

    private func add(folder: String) throws {
        let wd = inotify_add_watch(fd, folder, Self.mask)
        guard wd >= 0 else {
            let reason = errno == ENOSPC
                ? "the system's limit of watched folders is reached (raise fs.inotify.max_user_watches, or watch fewer folders)"
                : String(cString: strerror(errno)).lowercased()
            throw Failure(description: "cannot watch \(folder): \(reason)")
        }
        lock.withLock { folders[wd] = folder }
    }

    /// Watches `folder` and everything below it; returns the files found there.
    private func addTree(_ folder: String) throws -> [String] {
        try add(folder: folder)
        var found: [String] = []
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return found }
        for name in names.sorted() where !Self.skippedFolders.contains(name) {
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                found.append(path)
                found += try addTree(path)
            } else {
                found.append(path)
            }
        }
        return found
    }

    /// Changed paths, in batches as the kernel reports them, until `stop`.
    public func changes() -> AsyncThrowingStream<[String], Error> {
        AsyncThrowingStream { continuation in
            let thread = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                var polls = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
                while true {
                    let ready = poll(&polls, 2, -1)
                    if ready < 0 && errno == EINTR { continue }
                    if ready < 0 || polls[1].revents != 0 { break }
                    let n = read(fd, &buffer, buffer.count)
                    if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                    guard n > 0 else { break }
                    do {
                        let paths = try parse(buffer[0..<n])
                        if !paths.isEmpty { continuation.yield(paths) }
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                }
                continuation.finish()
            }
            thread.start()
            continuation.onTermination = { [self] _ in stop() }
        }
    }

    private func parse(_ bytes: ArraySlice<UInt8>) throws -> [String] {
        var paths: [String] = []
        var offset = bytes.startIndex
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= bytes.endIndex {
            let (wd, mask, length) = bytes.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                let base = offset - bytes.startIndex
                return (raw.loadUnaligned(fromByteOffset: base, as: Int32.self),
                        raw.loadUnaligned(fromByteOffset: base + 4, as: UInt32.self),
                        Int(raw.loadUnaligned(fromByteOffset: base + 12, as: UInt32.self)))
            }
            let nameBytes = bytes[(offset + header)..<min(offset + header + length, bytes.endIndex)]
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            offset += header + length
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                // Events were lost: report every root, so the reader looks at everything again.
                paths += folderRoots + fileRoots
                continue
            }
            if mask & UInt32(IN_IGNORED) != 0 {
                lock.withLock { _ = folders.removeValue(forKey: wd) }
                continue
            }
            guard let folder = lock.withLock({ folders[wd] }) else { continue }
            if mask & UInt32(IN_DELETE_SELF) != 0 { continue }
            let path = name.isEmpty ? folder : folder + "/" + name
            if !fileRoots.isEmpty, !folderRoots.contains(where: { path.hasPrefix($0 + "/") }), !fileRoots.contains(path) { continue }
            if Self.skippedFolders.contains(name) { continue }
            paths.append(path)
            if mask & UInt32(IN_ISDIR) != 0, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                paths += try addTree(path)
            }
        }
        return paths
    }

    /// Ends `changes()`; the kernel's watches go with the descriptor.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        var byte: UInt8 = 1
        _ = Glibc.write(wake.write, &byte, 1)
    }
}
