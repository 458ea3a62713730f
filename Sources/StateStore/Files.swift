import HostFiles
import EnvSpec
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files devstack writes, with two rules:
/// - what devstack keeps for itself (the state folder, the database, its backups, snapshots and
///   exports) is private to the user whatever the umask: folders 0700, files 0600;
/// - a path the user names for output is written over only when it is a regular file (atomically,
///   keeping its mode and owner); a device, a FIFO or a symlink to one is written through; a
///   directory is refused. Nothing that devstack did not create is ever replaced by something else.
public enum Files {
    public static let privateFileMode: mode_t = 0o600
    public static let privateFolderMode: mode_t = 0o700

    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    /// Creates `path` and its missing parents with mode 0700; existing folders are left as they are.
    public static func createPrivateFolder(_ path: String) throws(WriteError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR || isDirectoryFollowingLinks(path) else {
                throw WriteError(path: path, reason: "it exists and is not a folder")
            }
            return
        }
        let parent = PathMath.directory(of: path)
        if parent != path { try createPrivateFolder(parent) }
        if mkdir(path, privateFolderMode) != 0 && errno != EEXIST { throw WriteError(path: path, reason: errnoText()) }
        _ = chmod(path, privateFolderMode)
    }

    /// Creates an empty 0600 file when `path` does not exist yet, so that whatever opens it next
    /// (SQLite, a backup) finds it private. An existing file is left as it is.
    public static func createPrivateFile(_ path: String) throws(WriteError) {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, privateFileMode)
        if fd < 0 {
            if errno == EEXIST { return }
            throw WriteError(path: path, reason: errnoText())
        }
        _ = fchmod(fd, privateFileMode)
        close(fd)
    }

    /// Writes a file devstack owns (a snapshot archive, a bundle it keeps): atomically, mode 0600.
    public static func writePrivate(_ data: Data, to path: String) throws(WriteError) {
        try replaceAtomically(path, data: data, mode: privateFileMode, owner: nil)
    }

    /// Writes `data` where the user asked for it. `newFileMode` applies only to a file that did not
    /// exist: 0600 for exports (they carry host values), the umask's default otherwise.
    public static func writeOutput(_ data: Data, to path: String, newFileMode: mode_t? = nil) throws(WriteError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard errno == ENOENT else { throw WriteError(path: path, reason: errnoText()) }
            return try replaceAtomically(path, data: data, mode: newFileMode ?? defaultMode(), owner: nil)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return try replaceAtomically(path, data: data, mode: info.st_mode & 0o7777, owner: (info.st_uid, info.st_gid))
        case S_IFDIR:
            throw WriteError(path: path, reason: "it is a folder; name a file")
        case S_IFLNK:
            var target = stat()
            guard stat(path, &target) == 0 else { throw WriteError(path: path, reason: "it is a symlink to nothing (\(errnoText())); devstack does not create its target") }
            switch target.st_mode & S_IFMT {
            case S_IFREG:
                // Replace the file the link points to, so the link stays a link.
                guard let real = LocalFiles.realPath(path) else { throw WriteError(path: path, reason: "cannot resolve the symlink") }
                return try replaceAtomically(real, data: data, mode: target.st_mode & 0o7777, owner: (target.st_uid, target.st_gid))
            case S_IFDIR:
                throw WriteError(path: path, reason: "it is a symlink to a folder; name a file")
            default:
                return try writeThrough(path, data: data)
            }
        default:
            // A device or a FIFO (such as /dev/null or a pipe): written to, never replaced.
            return try writeThrough(path, data: data)
        }
    }

    /// True when `path` is a regular file (not following a symlink).
    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    // MARK: internals

    static func writeThrough(_ path: String, data: Data) throws(WriteError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteError(path: path, reason: errnoText()) }
        defer { close(fd) }
        try writeAll(fd, data, path: path)
    }

    /// Copies a file devstack owns (a downloaded archive) piece by piece into a private file.
    public static func copyPrivate(_ source: String, to path: String) throws(WriteError) {
        let handle: FileHandle
        do { handle = try LocalFiles.openRegular(source) } catch { throw WriteError(path: source, reason: LocalFiles.reason(error)) }
        defer { try? handle.close() }
        let file = try AtomicFile(privateAt: path)
        while true {
            let piece: Data
            do { piece = try handle.read(upToCount: 1 << 20) ?? Data() } catch { throw WriteError(path: source, reason: "\(error)") }
            if piece.isEmpty { break }
            try file.write(piece)
        }
        try file.commit()
    }

    static func replaceAtomically(_ path: String, data: Data, mode: mode_t, owner: (uid_t, gid_t)?) throws(WriteError) {
        let file = try AtomicFile(path, mode: mode, owner: owner)
        try file.write(data)
        try file.commit()
    }

    /// A file written piece by piece under a temporary name beside `path`, then renamed over it
    /// in one step: a reader sees the old file or the whole new one, and a write cut short
    /// leaves only the old one (the temporary file is removed unless committed).
    public final class AtomicFile {
        public let path: String
        let temporary: String
        let mode: mode_t
        let owner: (uid_t, gid_t)?
        var fd: Int32
        var committed = false

        /// A new private (0600) file at `path`.
        public convenience init(privateAt path: String) throws(WriteError) {
            try self.init(path, mode: Files.privateFileMode, owner: nil)
        }

        init(_ path: String, mode: mode_t, owner: (uid_t, gid_t)?) throws(WriteError) {
            let folder = PathMath.directory(of: path)
            self.path = path
            self.temporary = "\(folder)/.\(PathMath.components(path).last ?? "output").devstack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            self.mode = mode
            self.owner = owner
            self.fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw WriteError(path: path, reason: Files.errnoText()) }
        }

        deinit {
            if fd >= 0 { close(fd) }
            if !committed { unlink(temporary) }
        }

        public func write(_ data: Data) throws(WriteError) {
            try Files.writeAll(fd, data, path: path)
        }

        /// Flushes the file to disk and puts it in place.
        public func commit() throws(WriteError) {
            if let owner { _ = fchown(fd, owner.0, owner.1) }
            _ = fchmod(fd, mode)
            guard fsync(fd) == 0 else { throw WriteError(path: path, reason: Files.errnoText()) }
            close(fd)
            fd = -1
            guard rename(temporary, path) == 0 else { throw WriteError(path: path, reason: Files.errnoText()) }
            committed = true
        }
    }

    static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(WriteError) {
        let failure: WriteError? = data.withUnsafeBytes { raw -> WriteError? in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return WriteError(path: path, reason: errnoText())
                }
                offset += n
            }
            return nil
        }
        if let failure { throw failure }
    }

    static func defaultMode() -> mode_t {
        let mask = umask(0o022)
        umask(mask)
        return 0o666 & ~mask
    }

    static func isDirectoryFollowingLinks(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func errnoText() -> String { String(cString: strerror(errno)).lowercased() }
}
