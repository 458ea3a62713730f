import EnvSpec
import Foundation

/// This machine's files, read with care: regular files only, under a size limit, by their real
/// paths. The one place besides the store where devstack reads files.
public enum LocalFiles {
    public static let realPath: @Sendable (String) -> String? = { path in
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static let read: EnvironmentLoader.ReadFile = { path in try readText(path) }

    public typealias ReadError = FileReadError

    /// The text of a regular file: a folder, a device or a FIFO (`/dev/zero` never ends) is
    /// refused, and so is a file over `limit` bytes or one that is not UTF-8.
    public static func readText(_ path: String, limit: Int = 64 << 20) throws -> String {
        let data = try readData(path, limit: limit)
        guard let text = String(data: data, encoding: .utf8) else { throw ReadError(reason: "not UTF-8 text") }
        return text
    }

    public static func readData(_ path: String, limit: Int) throws -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ReadError(reason: errorText(errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ReadError(reason: "it is a folder; expected a file")
        default: throw ReadError(reason: "not a regular file (a device, a socket or a pipe)")
        }
        guard Int(info.st_size) <= limit else { throw ReadError(reason: "\(info.st_size) bytes, over the \(limit >> 20) MiB devstack reads") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ReadError(reason: errorText(errno)) }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: limit + 1)) ?? Data()
        guard data.count <= limit else { throw ReadError(reason: "over the \(limit >> 20) MiB devstack reads") }
        return data
    }

    /// A regular file opened for reading piece by piece. It is checked after opening (no
    /// window between check and open) and opened without blocking, so a FIFO is refused rather
    /// than waited on.
    public static func openRegular(_ path: String) throws -> FileHandle {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(reason: errorText(errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = errorText(errno)
            close(fd)
            throw ReadError(reason: reason)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        case S_IFDIR:
            close(fd)
            throw ReadError(reason: "it is a folder; expected a file")
        default:
            close(fd)
            throw ReadError(reason: "not a regular file (a device, a socket or a pipe)")
        }
    }

    static func errorText(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        default: return String(cString: strerror(code)).lowercased()
        }
    }

    public static func reason(_ error: Error) -> String { FileReadError.reason(error) }
}

extension EnvironmentLoader {
    /// A loader that reads this machine: its files, its environment, its working directory.
    public static func live(profiles: Set<String> = []) -> EnvironmentLoader {
        EnvironmentLoader(readFile: LocalFiles.read, hostEnvironment: ProcessInfo.processInfo.environment,
                          currentDirectory: FileManager.default.currentDirectoryPath, realPath: LocalFiles.realPath, profiles: profiles)
    }
}
