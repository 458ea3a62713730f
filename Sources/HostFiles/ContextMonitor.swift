import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the digest of a build context is asked for before a walk, and handed back after one:
/// a monitor in this process (the controller's), or a running `devstack fsmonitor` through its
/// socket (`ContextMonitorSocket.Client`).
public protocol ContextMonitoring: Sendable {
    /// Nil when nothing can be said: the caller walks, as without a monitor.
    func ask(folder: String, dockerfile: String) -> ContextMonitor.Answer?
    @discardableResult
    func remember(folder: String, dockerfile: String, token: String, digest: String) -> Bool
}

/// Tells whether anything changed in a build context folder since a token it handed out, as
/// git's fsmonitor daemon does for `git status`: a no-op apply of a 50,000-file context then
/// asks one question instead of walking and stat'ing every file.
///
/// Each folder asked about gets an inotify instance of its own, watching every folder below it
/// (symbolic links are not followed). A token names one arming of those watches. Asked again,
/// the monitor reads whatever the kernel queued: nothing means nothing changed since the token
/// was handed out, and the same token is returned; anything (a write, a rename, an attribute,
/// lost events) re-arms the watches and hands out a new token. The kernel queues an event
/// before the write that caused it returns, so a change finished before the question is never
/// missed. A caller takes a token *before* it walks the folder and hands the monitor the digest
/// the walk gave with that token (`remember`): while the token holds, the next caller is given
/// the digest and walks nothing. Digests are kept per Dockerfile, since two services may build
/// one folder with different Dockerfiles, whose `.dockerignore` rules keep different files.
public final class ContextMonitor: ContextMonitoring, @unchecked Sendable {
    private struct Watched {
        var descriptor: Int32
        var token: String
        var lastAsked: UInt64
        /// The folder's device and inode when it was armed: a folder moved away (with a parent
        /// renamed, which tells its watches nothing) and another put at its path is not it.
        var identity: FolderIdentity
        /// Context digests by Dockerfile, good while `token` holds.
        var digests: [String: String] = [:]
    }

    struct FolderIdentity: Equatable {
        var device: UInt64
        var inode: UInt64

        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    public enum Answer: Sendable, Equatable {
        /// Nothing is known of the folder as it is now: walk it, then `remember` with this token.
        case token(String)
        /// Nothing changed since a walk that gave `digest` under this token.
        case digest(token: String, digest: String)
    }

    private let lock = NSLock()
    private var watched: [String: Watched] = [:]
    private var armings: UInt64 = 0
    private var questions: UInt64 = 0
    /// Distinguishes this monitor's tokens from another's: a digest walked under a token from a
    /// monitor that has since restarted is never taken for one walked under the new one's.
    private let instance = UUID().uuidString.lowercased()
    /// Folders watched at once; the one asked about longest ago is dropped first.
    public let maximumRoots: Int
    /// Dockerfiles remembered per folder.
    static let maximumDigests = 32

    static let mask = UInt32(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
                             | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

    public init(maximumRoots: Int = 64) {
        self.maximumRoots = maximumRoots
    }

    deinit {
        for entry in watched.values { close(entry.descriptor) }
    }

    /// What is known of `folder` (an absolute path, its real path) built with `dockerfile`. Nil
    /// when it cannot be watched (not a folder, the system's watch limit): then the caller walks,
    /// as without a monitor.
    public func ask(folder: String, dockerfile: String) -> Answer? {
        lock.withLock {
            guard let entry = current(folder) else { return nil }
            if let digest = entry.digests[dockerfile] { return .digest(token: entry.token, digest: digest) }
            return .token(entry.token)
        }
    }

    /// Keeps the digest a walk gave, taken under `token`. False (and nothing kept) when the
    /// folder changed since the token was handed out: the walk may have seen half a change.
    @discardableResult
    public func remember(folder: String, dockerfile: String, token: String, digest: String) -> Bool {
        lock.withLock {
            guard var entry = current(folder), entry.token == token else { return false }
            if entry.digests[dockerfile] == nil, entry.digests.count >= Self.maximumDigests { entry.digests.removeAll() }
            entry.digests[dockerfile] = digest
            watched[folder] = entry
            return true
        }
    }

    /// The token for `folder`: unchanged while nothing below it changed.
    public func token(for folder: String) -> String? { lock.withLock { current(folder)?.token } }

    /// The folder's entry after reading what the kernel queued, armed anew if anything was.
    /// Called with the lock held.
    private func current(_ folder: String) -> Watched? {
        questions += 1
        let identity = FolderIdentity(folder)
        if var entry = watched[folder] {
            if !Self.drain(entry.descriptor), entry.identity == identity {
                entry.lastAsked = questions
                watched[folder] = entry
                return entry
            }
            close(entry.descriptor)
            watched[folder] = nil
        }
        if watched.count >= maximumRoots, let oldest = watched.min(by: { $0.value.lastAsked < $1.value.lastAsked }) {
            close(oldest.value.descriptor)
            watched[oldest.key] = nil
        }
        // Armed after its identity is taken: if the folder is swapped in between, the swap is
        // reported (or the next question sees another identity).
        guard let identity, let descriptor = Self.arm(folder) else { return nil }
        armings += 1
        let entry = Watched(descriptor: descriptor, token: "\(instance).\(armings)", lastAsked: questions, identity: identity)
        watched[folder] = entry
        return entry
    }

    /// Folders being watched now.
    public var folders: [String] { lock.withLock { watched.keys.sorted() } }

    /// True when the kernel queued anything (or the descriptor failed): the folder may have changed.
    static func drain(_ descriptor: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var changed = false
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 { changed = true; continue }
            if count < 0 && errno == EINTR { continue }
            return changed || !(count < 0 && errno == EAGAIN)
        }
    }

    /// A new inotify instance watching `folder` and every folder below it. Each folder is watched
    /// before it is read, so a folder created meanwhile is either read or reported. Paths are
    /// built from the bytes readdir gives: a name that is not UTF-8 is watched like any other.
    static func arm(_ folder: String) -> Int32? {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { return nil }
        let root = Array(folder.utf8CString)
        var pending = [root]
        while let next = pending.popLast() {
            guard inotify_add_watch(descriptor, next, mask) >= 0 else {
                // The root must be watched; a folder below it that vanished meanwhile was reported.
                if next == root || errno != ENOENT && errno != ENOTDIR { close(descriptor); return nil }
                continue
            }
            guard let directory = opendir(next) else { continue }
            while let entry = readdir(directory) {
                var path = Array(next.dropLast()) + [CChar(UInt8(ascii: "/"))]
                let isDot = withUnsafeBytes(of: entry.pointee.d_name) { raw -> Bool in
                    let name = raw.prefix { $0 != 0 }
                    path += name.map { CChar(bitPattern: $0) }
                    return name.elementsEqual(".".utf8) || name.elementsEqual("..".utf8)
                }
                guard !isDot else { continue }
                path.append(0)
                var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
                if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                    var info = stat()
                    isFolder = lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
                }
                if isFolder { pending.append(path) }
            }
            closedir(directory)
        }
        return descriptor
    }
}
