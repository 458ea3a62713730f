import Foundation
import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP request on the engine's socket that the engine upgrades to a raw two-way stream
/// (`Upgrade: tcp`): what `docker exec -it` and `docker attach` use. The HTTP client cannot hand
/// over its connection, so this speaks HTTP/1.1 on a socket of its own, for this one request.
final class HijackedConnection: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var closed = false

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Connects, sends the request and reads the answer's head; a refusal is an EngineError with
    /// the engine's message. Returns the connection and any stream bytes that came with the head.
    static func open(socketPath: String, method: String, path: String, body: Data?, context: String) throws -> (HijackedConnection, Data) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EngineError(.unreachable, "cannot open a socket: \(String(cString: strerror(errno)))") }
        let connection = HijackedConnection(fd: fd)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw EngineError(.badRequest, "the engine's socket path is too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            throw EngineError(.unreachable, "cannot reach the Docker engine at unix://\(socketPath) (\(String(cString: strerror(errno)))): is dockerd running?")
        }
        var head = "\(method) /\(DockerClient.apiVersion)\(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: devstack\r\n"
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try connection.write(Data(head.utf8) + (body ?? Data()))

        // The answer's head, byte by byte up to the blank line (it is small), then what follows.
        var answer = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while answer.range(of: Data("\r\n\r\n".utf8)) == nil {
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { throw EngineError(.unreachable, "\(context): the engine closed the connection before answering") }
            answer.append(contentsOf: chunk[0..<n])
            guard answer.count < 1 << 20 else { throw EngineError(.server, "\(context): the engine's answer has no end of headers") }
        }
        let end = answer.range(of: Data("\r\n\r\n".utf8))!
        let headText = String(decoding: answer[answer.startIndex..<end.lowerBound], as: UTF8.self)
        var rest = Data(answer[end.upperBound...])
        let status = headText.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        guard status == 101 || status == 200 else {
            // An error answer carries a JSON message; read what the engine sends (bounded).
            let length = headText.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            while rest.count < min(length, 1 << 16) {
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { break }
                rest.append(contentsOf: chunk[0..<n])
            }
            let message = (try? JSONDecoder().decode(EngineAPI.ErrorMessage.self, from: rest))?.message ?? "engine answered \(status)"
            let kind: EngineError.Kind = status == 404 ? .notFound : status == 409 ? .conflict : status == 400 ? .badRequest : .server
            throw EngineError(kind, "\(context): \(message)")
        }
        return (connection, rest)
    }

    func write(_ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw EngineError(.unreachable, "the connection to the engine closed: \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }

    /// Bytes from the engine until it closes the stream, read on a thread of their own (a
    /// blocking read, as the stream lives as long as the process in the container).
    func output(initial: Data) -> AsyncThrowingStream<Data, Error> {
        AsyncThrowingStream { continuation in
            if !initial.isEmpty { continuation.yield(initial) }
            let thread = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    continuation.yield(Data(buffer[0..<n]))
                }
                continuation.finish()
            }
            thread.start()
            continuation.onTermination = { [self] _ in shutdownBoth() }
        }
    }

    func closeWrite() {
        lock.lock(); defer { lock.unlock() }
        if !closed { shutdown(fd, Int32(SHUT_WR)) }
    }

    private func shutdownBoth() {
        lock.lock(); defer { lock.unlock() }
        if !closed { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func close() {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// The session the engine seam hands out.
    func session(initial: Data, resize: @escaping @Sendable (TerminalSize) async -> Void) -> AttachedSession {
        AttachedSession(output: output(initial: initial),
                        send: { [self] data in try? write(data) },
                        closeInput: { [self] in closeWrite() },
                        resize: resize,
                        close: { [self] in shutdownBoth() })
    }
}
