import EnvSpec
import Foundation

/// Walks a build context folder with the system calls themselves (readdir and fstatat), since a
/// monorepo's context has tens of thousands of files and every no-op apply walks it. Symbolic
/// links are skipped, so a context cannot reach outside itself; so is anything `skip` names
/// (the `.dockerignore` rules). Folders come before what they hold, in sorted order.
public enum ContextWalker {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// `skip(path)` for a path relative to `directory`; `descend(path)` whether to walk into a
    /// skipped folder anyway (an exception rule might bring back something inside it).
    public static func walk(_ directory: String, skip: (String) -> Bool, descend: (String) -> Bool) throws -> [ContextFile] {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot read build context \(directory): \(String(cString: strerror(errno)).lowercased())") }
        var out: [ContextFile] = []
        try walk(fd, prefix: "", into: &out, skip: skip, descend: descend, root: directory)
        return out
    }

    /// Takes ownership of `fd` and closes it.
    static func walk(_ fd: Int32, prefix: String, into out: inout [ContextFile], skip: (String) -> Bool, descend: (String) -> Bool, root: String) throws {
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw Failure(description: "cannot read build context folder \(root)/\(prefix)")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        for name in names.sorted() {
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFREG || kind == S_IFDIR else { continue }
            let skipped = skip(relative)
            let file = ContextFile(path: relative, isDirectory: kind == S_IFDIR, size: Int(info.st_size),
                                   modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                                   inode: UInt64(info.st_ino), mode: Int(info.st_mode & 0o7777))
            if kind == S_IFREG {
                if !skipped { out.append(file) }
                continue
            }
            guard !skipped || descend(relative) else { continue }
            if !skipped { out.append(file) }
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw Failure(description: "cannot read build context folder \(root)/\(relative): \(String(cString: strerror(errno)).lowercased())") }
            try walk(child, prefix: relative, into: &out, skip: skip, descend: descend, root: root)
        }
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
