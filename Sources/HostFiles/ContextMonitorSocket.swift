import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The local socket through which an apply asks a running `devstack fsmonitor` about a build
/// context. It sits beside the state database, readable and writable by its owner only. One line
/// each way; a request's fields are separated by NUL bytes:
///
///     get FOLDER DOCKERFILE            ->  digest TOKEN DIGEST | token TOKEN | none
///     put FOLDER DOCKERFILE TOKEN DIGEST  ->  ok | stale
public enum ContextMonitorSocket {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The socket of the monitor that serves the state database at `store`.
    public static func path(forStore store: String) -> String { store + ".fsmonitor" }

    /// A running `devstack fsmonitor`, asked through its socket.
    public struct Client: ContextMonitoring {
        public var socketPath: String
        public init(socketPath: String) { self.socketPath = socketPath }
        public func ask(folder: String, dockerfile: String) -> ContextMonitor.Answer? {
            ContextMonitorSocket.ask(socketPath, folder: folder, dockerfile: dockerfile)
        }
        @discardableResult
        public func remember(folder: String, dockerfile: String, token: String, digest: String) -> Bool {
            ContextMonitorSocket.remember(socketPath, folder: folder, dockerfile: dockerfile, token: token, digest: digest)
        }
    }

    /// How long an apply waits for an answer before it walks the folder itself.
    static let answerTimeout = timeval(tv_sec: 1, tv_usec: 0)
    static let longestRequest = 16 * 1024

    /// What the monitor knows of `folder` built with `dockerfile`, or nil when no monitor answers
    /// (none runs, it cannot watch the folder, or it is slow): the caller then walks the folder
    /// as it would without one.
    public static func ask(_ socketPath: String, folder: String, dockerfile: String) -> ContextMonitor.Answer? {
        guard folder.hasPrefix("/"), let reply = exchange(socketPath, ["get", folder, dockerfile]) else { return nil }
        let words = reply.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        switch (words.first, words.count) {
        case ("digest", 3): return .digest(token: words[1], digest: words[2])
        case ("token", 2): return .token(words[1])
        default: return nil
        }
    }

    /// Hands the monitor the digest a walk gave under `token`; true when it kept it.
    @discardableResult
    public static func remember(_ socketPath: String, folder: String, dockerfile: String, token: String, digest: String) -> Bool {
        exchange(socketPath, ["put", folder, dockerfile, token, digest]) == "ok"
    }

    /// Sends one request and reads its one-line answer; nil when anything fails.
    static func exchange(_ socketPath: String, _ fields: [String]) -> String? {
        guard fields.allSatisfy({ !$0.utf8.contains(0) && !$0.utf8.contains(UInt8(ascii: "\n")) }) else { return nil }
        let request = Array((fields.joined(separator: "\0") + "\n").utf8)
        guard request.count <= longestRequest, var address = address(socketPath) else { return nil }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var timeout = answerTimeout
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0, writeAll(descriptor, request), let reply = readLine(descriptor, limit: 512) else { return nil }
        return String(decoding: reply, as: UTF8.self)
    }

    /// The answer to one request line (without its newline).
    static func answer(_ request: [UInt8], monitor: ContextMonitor) -> String {
        let fields = request.split(separator: 0, omittingEmptySubsequences: false).map { String(validating: $0, as: UTF8.self) }
        guard fields.allSatisfy({ $0 != nil }), let folder = fields.count > 1 ? fields[1] : nil, folder.hasPrefix("/") else { return "none\n" }
        switch (fields[0], fields.count) {
        case ("get", 3):
            switch monitor.ask(folder: folder, dockerfile: fields[2]!) {
            case let .digest(token, digest)?: return "digest \(token) \(digest)\n"
            case let .token(token)?: return "token \(token)\n"
            case nil: return "none\n"
            }
        case ("put", 5):
            let digest = fields[4]!
            guard !digest.isEmpty, !digest.contains(" ") else { return "stale\n" }
            return monitor.remember(folder: folder, dockerfile: fields[2]!, token: fields[3]!, digest: digest) ? "ok\n" : "stale\n"
        default:
            return "none\n"
        }
    }

    static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path), !bytes.contains(0) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        return address
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    /// Bytes up to the first newline (not included); nil on end of stream, a time-out or a
    /// line longer than `limit`.
    static func readLine(_ descriptor: Int32, limit: Int) -> [UInt8]? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= limit {
            let count = recv(descriptor, &byte, 1, 0)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return line }
            line.append(byte)
        }
        return nil
    }
}

/// Serves a `ContextMonitor` on its socket until stopped. The socket is made by this server:
/// a socket left by a monitor that is gone is replaced, anything else at the path (a file, a
/// link, a folder, a monitor that still answers) is refused and left as it is.
public final class ContextMonitorServer: @unchecked Sendable {
    public typealias Failure = ContextMonitorSocket.Failure
    public let path: String
    public let monitor: ContextMonitor
    private let listener: Int32
    private let wake: (read: Int32, write: Int32)
    /// The socket file this server made (its inode), removed when it stops only if still there.
    private let madeInode: UInt64

    public init(path: String, monitor: ContextMonitor = ContextMonitor()) throws {
        self.path = path
        self.monitor = monitor
        guard var address = ContextMonitorSocket.address(path) else {
            throw Failure(description: "\(path): a socket path must be at most 107 bytes; choose a shorter --state path")
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw Failure(description: "\(path) exists and is not a socket; refusing to replace it (remove it if it is yours)")
            }
            guard !Self.answers(path) else {
                throw Failure(description: "a context monitor already answers at \(path)")
            }
            unlink(path)
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "cannot make a socket: \(String(cString: strerror(errno)).lowercased())") }
        // Owner only from the moment it exists: nobody else may ask what this user's folders hold.
        let previousMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previousMask)
        guard bound == 0, listen(descriptor, 64) == 0, lstat(path, &info) == 0 else {
            let reason = String(cString: strerror(errno)).lowercased()
            close(descriptor)
            throw Failure(description: "cannot listen at \(path): \(reason)")
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            close(descriptor)
            unlink(path)
            throw Failure(description: "cannot make a pipe: \(String(cString: strerror(errno)).lowercased())")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        listener = descriptor
        wake = (ends[0], ends[1])
        madeInode = UInt64(info.st_ino)
    }

    /// True when something accepts connections at `path`.
    static func answers(_ path: String) -> Bool {
        guard var address = ContextMonitorSocket.address(path) else { return false }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    deinit {
        close(listener)
        close(wake.read)
        close(wake.write)
    }

    /// Answers requests one at a time (each is a few reads of queued events) until `stop`.
    /// A client that sends nothing is dropped after the answer time-out.
    public func serve() {
        var polls = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&polls, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || polls[1].revents != 0 { break }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var timeout = ContextMonitorSocket.answerTimeout
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if let request = ContextMonitorSocket.readLine(client, limit: ContextMonitorSocket.longestRequest) {
                _ = ContextMonitorSocket.writeAll(client, Array(ContextMonitorSocket.answer(request, monitor: monitor).utf8))
            }
            close(client)
        }
        var info = stat()
        if lstat(path, &info) == 0, UInt64(info.st_ino) == madeInode { unlink(path) }
    }

    /// Ends `serve`; callable from any thread or a signal handler's queue.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }
}
