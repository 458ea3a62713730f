import EnvSpec
import Foundation

/// Walks a build context folder with the system calls themselves (readdir and fstatat), since a
/// monorepo's context has tens of thousands of files and every no-op apply walks it. Symbolic
/// links are skipped, so a context cannot reach outside itself; so is anything `skip` names
/// (the `.dockerignore` rules). Folders come before what they hold, in sorted order.
///
/// The stat calls are the cost (about 2 µs each here, a tenth of a second for 50,000 files), so
/// they run on every core while the folders are still being read: one thread reads folders
/// (readdir's entry types say which names are folders, so only folders are opened) and hands
/// each batch of names to the others to stat.
public enum ContextWalker {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// A name read from a folder, to be stat'ed.
    struct Pending: Sendable {
        /// The folder that holds it, relative to the context ("" for the context itself).
        var folder: String
        var name: String
        var relative: String
        var isDirectory: Bool
    }

    /// Names read, in batches, stat'ed by helper threads (one per other core) while the folders
    /// are still being read, and by the reading thread too once it is done.
    final class Batches: @unchecked Sendable {
        static let size = 1024
        private let root: Int32
        private let directory: String
        private let condition = NSCondition()
        private var queued: [[Pending]] = []
        private var results: [Result<[ContextFile], Failure>?] = []
        private var taken = 0
        private var reading = true
        private var helpersRunning = 0
        private var filling: [Pending] = []

        init(root: Int32, directory: String, helpers: Int) {
            self.root = root
            self.directory = directory
            filling.reserveCapacity(Self.size)
            helpersRunning = helpers
            for _ in 0..<helpers {
                let thread = Thread { [self] in
                    work()
                    condition.withLock {
                        helpersRunning -= 1
                        condition.broadcast()
                    }
                }
                thread.start()
            }
        }

        /// From the reading thread only.
        func add(_ item: Pending) {
            filling.append(item)
            if filling.count == Self.size { send() }
        }

        private func send() {
            guard !filling.isEmpty else { return }
            let batch = filling
            filling = []
            filling.reserveCapacity(Self.size)
            condition.withLock {
                queued.append(batch)
                results.append(nil)
                condition.signal()
            }
        }

        /// Takes batches until none is left and reading is over.
        private func work() {
            while true {
                let next: (Int, [Pending])? = condition.withLock {
                    while taken == queued.count && reading { condition.wait() }
                    guard taken < queued.count else { return nil }
                    taken += 1
                    return (taken - 1, queued[taken - 1])
                }
                guard let (number, batch) = next else { return }
                let result = Result { () throws(Failure) in try ContextWalker.inspect(batch, root: root, directory: directory) }
                condition.withLock { results[number] = result }
            }
        }

        /// Ends reading (also when it failed: the helpers must not outlive `root`), helps with
        /// what is left, waits for the helpers; the files in the order their names were read.
        func finish() throws -> [ContextFile] {
            send()
            condition.withLock {
                reading = false
                condition.broadcast()
            }
            work()
            let results = condition.withLock {
                while helpersRunning > 0 { condition.wait() }
                return self.results
            }
            var files: [ContextFile] = []
            files.reserveCapacity(results.count * Self.size)
            for result in results { files += try result!.get() }
            return files
        }
    }

    /// `skip(path)` for a path relative to `directory`; `descend(path)` whether to walk into a
    /// skipped folder anyway (an exception rule might bring back something inside it).
    public static func walk(_ directory: String, skip: (String) -> Bool, descend: (String) -> Bool) throws -> [ContextFile] {
        let root = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw Failure(description: "cannot read build context \(directory): \(String(cString: strerror(errno)).lowercased())") }
        defer { close(root) }
        let batches = Batches(root: root, directory: directory, helpers: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
        do {
            try list(dup(root), folder: "", into: batches, skip: skip, descend: descend, root: directory)
        } catch {
            _ = try? batches.finish()
            throw error
        }
        return try batches.finish()
    }

    /// The sorted names of the folder `fd` (owned and closed here), and of every folder under
    /// it, in the order they are sent.
    static func list(_ fd: Int32, folder prefix: String, into batches: Batches, skip: (String) -> Bool,
                     descend: (String) -> Bool, root: String) throws {
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw Failure(description: "cannot read build context folder \(root)/\(prefix)")
        }
        defer { closedir(dir) }
        var names: [(name: String, type: UInt8)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append((name, entry.pointee.d_type))
        }
        names.sort { $0.name < $1.name }
        let dirFD = dirfd(dir)
        for (name, type) in names {
            var type = type
            if type == UInt8(DT_UNKNOWN) {
                // Some file systems do not say; ask.
                var info = stat()
                guard fstatat(dirFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                type = info.st_mode & S_IFMT == S_IFDIR ? UInt8(DT_DIR) : info.st_mode & S_IFMT == S_IFREG ? UInt8(DT_REG) : UInt8(DT_UNKNOWN)
            }
            guard type == UInt8(DT_REG) || type == UInt8(DT_DIR) else { continue }
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            let skipped = skip(relative)
            if type == UInt8(DT_REG) {
                if !skipped { batches.add(Pending(folder: prefix, name: name, relative: relative, isDirectory: false)) }
                continue
            }
            guard !skipped || descend(relative) else { continue }
            if !skipped { batches.add(Pending(folder: prefix, name: name, relative: relative, isDirectory: true)) }
            let child = openat(dirFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw Failure(description: "cannot read build context folder \(root)/\(relative): \(String(cString: strerror(errno)).lowercased())") }
            try list(child, folder: relative, into: batches, skip: skip, descend: descend, root: root)
        }
    }

    /// `path` under `root`, one component at a time and never through a symbolic link: a folder
    /// swapped for a link since it was read cannot lead the walk out of the context.
    static func openFolder(_ path: String, in root: Int32) -> Int32? {
        var fd = dup(root)
        for component in path.split(separator: "/") where fd >= 0 {
            let next = openat(fd, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            fd = next
        }
        return fd >= 0 ? fd : nil
    }

    /// Size, modification time, inode and mode of each name of a batch. A name that vanished or
    /// changed kind since it was read is left out, as a walk a moment later would have.
    static func inspect(_ batch: [Pending], root: Int32, directory: String) throws(Failure) -> [ContextFile] {
        var out: [ContextFile] = []
        out.reserveCapacity(batch.count)
        var open: (folder: String, fd: Int32)? = nil
        defer { if let open { close(open.fd) } }
        for item in batch {
            if open?.folder != item.folder {
                if let open { close(open.fd) }
                open = nil
                guard let fd = openFolder(item.folder, in: root) else {
                    throw Failure(description: "cannot read build context folder \(directory)/\(item.folder): \(String(cString: strerror(errno)).lowercased())")
                }
                open = (item.folder, fd)
            }
            var info = stat()
            guard fstatat(open!.fd, item.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            guard info.st_mode & S_IFMT == (item.isDirectory ? S_IFDIR : S_IFREG) else { continue }
            out.append(ContextFile(path: item.relative, isDirectory: item.isDirectory, size: Int(info.st_size),
                                   modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                                   inode: UInt64(info.st_ino), mode: Int(info.st_mode & 0o7777)))
        }
        return out
    }

    /// The folders and files of a build context as they are sent: what its `.dockerignore`
    /// keeps, and always the Dockerfile and the `.dockerignore` itself.
    public static func listing(_ directory: String, dockerfile: String) throws -> [ContextFile] {
        let rules = try ignoreRules(directory, dockerfile: dockerfile)
        return try walk(directory, skip: rules.excludes, descend: rules.mustDescend)
    }

    public static func ignoreRules(_ directory: String, dockerfile: String) throws -> DockerIgnore {
        let path = directory + "/.dockerignore"
        var info = stat()
        guard lstat(path, &info) == 0 else { return DockerIgnore(text: "", keep: [dockerfile]) }
        do {
            return DockerIgnore(text: try LocalFiles.readText(path, limit: 1 << 20), keep: [dockerfile, ".dockerignore"])
        } catch {
            throw Failure(description: "cannot read \(path): \(LocalFiles.reason(error))")
        }
    }

    /// SHA-256 of one file, read in pieces.
    public static func sha256(_ path: String) throws -> String {
        let handle = try LocalFiles.openRegular(path)
        defer { try? handle.close() }
        var hasher = CanonicalJSON.Hasher()
        while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty { hasher.update(piece) }
        return hasher.finalize()
    }
}
