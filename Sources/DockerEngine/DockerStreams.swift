import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Reconciler

/// Streaming endpoints: /events, container logs, exec output.
extension DockerClient {
    /// Opens a long-lived GET and yields its body as it arrives.
    func stream(_ path: String, query: [(String, String)] = [], method: HTTPMethod = .GET, body bodyData: Data? = nil) -> AsyncThrowingStream<Data, Error> {
        let url = self.url(path, query: query)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    guard FileManager.default.fileExists(atPath: socketPath) else {
                        throw EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint) (no such socket): is dockerd running?")
                    }
                    var request = HTTPClientRequest(url: url)
                    request.method = method
                    request.headers.add(name: "Host", value: "localhost")
                    if let bodyData {
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(bytes: bodyData))
                    }
                    let response: HTTPClientResponse
                    do {
                        response = try await Self.streamingHTTP.execute(request, timeout: .hours(24 * 365))
                    } catch {
                        throw self.unreachable(error)
                    }
                    guard (200..<300).contains(Int(response.status.code)) else {
                        var body = try await response.body.collect(upTo: 1 << 20)
                        let data = Data(body.readBytes(length: body.readableBytes) ?? [])
                        let message = (try? JSONDecoder().decode(EngineAPI.ErrorMessage.self, from: data))?.message ?? "engine answered \(response.status.code)"
                        throw EngineError(response.status.code == 404 ? .notFound : .server, message)
                    }
                    for try await var chunk in response.body {
                        continuation.yield(Data(chunk.readBytes(length: chunk.readableBytes) ?? []))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Splits Docker's multiplexed stdout/stderr stream into frames as bytes arrive.
public struct FrameDecoder: Sendable {
    var buffer = Data()
    public init() {}

    public mutating func push(_ data: Data) -> [(stream: UInt8, payload: Data)] {
        buffer.append(data)
        var frames: [(UInt8, Data)] = []
        while buffer.count >= 8 {
            let start = buffer.startIndex
            let stream = buffer[start]
            guard stream <= 2 else {
                // Not multiplexed (a TTY): pass everything through as output.
                frames.append((1, buffer))
                buffer = Data()
                break
            }
            let size = buffer[(start + 4)..<(start + 8)].reduce(0) { ($0 << 8) | Int($1) }
            guard buffer.count >= 8 + size else { break }
            frames.append((stream, Data(buffer[(start + 8)..<(start + 8 + size)])))
            buffer = Data(buffer[(start + 8 + size)...])
        }
        return frames
    }
}

extension DockerContainerEngine: EngineEventSource {
    public func events(environment: String, since: Double?) -> AsyncThrowingStream<EngineEvent, Error> {
        let filters = Self.filters(["label": ["\(Labels.environment)=\(environment)"], "type": ["container"]])
        var query = [("filters", filters)]
        if let since { query.append(("since", String(format: "%.3f", since))) }
        let raw = client.stream("/events", query: query)
        return AsyncThrowingStream { continuation in
            let task = Task {
                var pending = Data()
                do {
                    for try await chunk in raw {
                        pending.append(chunk)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = pending[pending.startIndex..<newline]
                            pending = Data(pending[(newline + 1)...])
                            guard let message = try? JSONDecoder().decode(EngineAPI.EventMessage.self, from: Data(line)) else { continue }
                            continuation.yield(EngineEvent(action: message.Action ?? message.status ?? "",
                                                           service: message.Actor?.Attributes?[Labels.service], containerID: message.Actor?.ID ?? ""))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Follows or dumps a container's output, frame by frame.
    public func logs(_ container: String, follow: Bool, tail: Int?, since: String?) -> AsyncThrowingStream<(stream: UInt8, payload: Data), Error> {
        Self.frames(client.stream("/containers/\(container)/logs", query: Self.logQuery(follow: follow, tail: tail, since: since)))
    }

    /// A Swarm service's output, every task's, gathered by the manager from the nodes.
    public func serviceLogs(_ service: String, follow: Bool, tail: Int?, since: String?) -> AsyncThrowingStream<(stream: UInt8, payload: Data), Error> {
        Self.frames(client.stream("/services/\(service)/logs", query: Self.logQuery(follow: follow, tail: tail, since: since)))
    }

    static func logQuery(follow: Bool, tail: Int?, since: String?) -> [(String, String)] {
        var query = [("stdout", "1"), ("stderr", "1"), ("follow", follow ? "1" : "0"), ("tail", tail.map(String.init) ?? "all")]
        if let since { query.append(("since", since)) }
        return query
    }

    /// Runs a command and streams its output; the exit code comes from `execExitCode` afterwards.
    public func execStream(_ container: String, command: [String], options: ProcessOptions) async throws -> (id: String, output: AsyncThrowingStream<(stream: UInt8, payload: Data), Error>) {
        let body = EngineAPI.ExecCreate(AttachStdout: true, AttachStderr: true, Cmd: command, Tty: false, WorkingDir: options.workingDir,
                                        User: options.user, Env: Self.envList(options.env))
        let id = try await client.request(.POST, "/containers/\(container)/exec", body: body, context: container).decode(EngineAPI.Created.self).Id
        let start = try JSONEncoder().encode(EngineAPI.ExecStart(Detach: false, Tty: false))
        return (id, Self.frames(client.stream("/exec/\(id)/start", method: .POST, body: start)))
    }

    /// Runs a command under a terminal on a hijacked connection (`docker exec -it`).
    public func execAttached(_ container: String, command: [String], options: ProcessOptions, size: TerminalSize?) async throws -> (id: String, session: AttachedSession) {
        let body = EngineAPI.ExecCreate(AttachStdout: true, AttachStderr: true, Cmd: command, Tty: true, WorkingDir: options.workingDir,
                                        AttachStdin: true, User: options.user, Env: Self.envList(options.env),
                                        ConsoleSize: size.map { [$0.rows, $0.columns] })
        let id = try await client.request(.POST, "/containers/\(container)/exec", body: body, context: container).decode(EngineAPI.Created.self).Id
        let start = try JSONEncoder().encode(EngineAPI.ExecStart(Detach: false, Tty: true))
        let (connection, initial) = try HijackedConnection.open(socketPath: client.socketPath, method: "POST", path: "/exec/\(id)/start", body: start, context: container)
        let client = self.client
        return (id, connection.session(initial: initial) { size in
            _ = try? await client.request(.POST, "/exec/\(id)/resize", query: [("h", String(size.rows)), ("w", String(size.columns))])
        })
    }

    /// Attaches to a created container with a terminal, before it starts (`docker run -it`).
    public func attach(_ id: String) async throws -> AttachedSession {
        let path = "/containers/\(id)/attach?stream=1&stdin=1&stdout=1&stderr=1"
        let (connection, initial) = try HijackedConnection.open(socketPath: client.socketPath, method: "POST", path: path, body: nil, context: id)
        return connection.session(initial: initial) { [self] size in try? await resizeContainer(id, to: size) }
    }

    public func resizeContainer(_ id: String, to size: TerminalSize) async throws {
        try await client.request(.POST, "/containers/\(id)/resize", query: [("h", String(size.rows)), ("w", String(size.columns))])
    }

    static func envList(_ env: [String: String]) -> [String]? {
        env.isEmpty ? nil : env.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }
    }

    public func execExitCode(_ id: String) async throws -> Int {
        try await client.request(.GET, "/exec/\(id)/json").decode(EngineAPI.ExecInspect.self).ExitCode ?? -1
    }

    static func frames(_ raw: AsyncThrowingStream<Data, Error>) -> AsyncThrowingStream<(stream: UInt8, payload: Data), Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var decoder = FrameDecoder()
                do {
                    for try await chunk in raw {
                        for frame in decoder.push(chunk) { continuation.yield(frame) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
extension DockerContainerEngine: ContainerStreams {}
