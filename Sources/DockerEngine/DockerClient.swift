import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Reconciler

/// A minimal Docker Engine API client over the unix socket, on async-http-client.
public struct DockerClient: Sendable {
    public static let apiVersion = "v1.41"
    public let socketPath: String
    let http: HTTPClient

    /// The engine the docker CLI would use (EngineEndpoint): a local socket as it is, a remote
    /// one through a private local socket this process carries to it (EngineProxy).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DockerClient {
        let endpoint = try EngineEndpoint.resolve(environment: environment)
        if case let .unix(path) = endpoint { return DockerClient(socketPath: path) }
        if case .tcp(_, _, nil) = endpoint, environment["DEVSTACK_INSECURE_ENGINE"] == "1" {
            FileHandle.standardError.write(Data("devstack: warning: \(endpoint.display) is plain TCP without TLS (DEVSTACK_INSECURE_ENGINE=1)\n".utf8))
        }
        let proxy = try EngineProxy.shared(for: endpoint, environment: environment)
        var client = DockerClient(socketPath: proxy.socketPath)
        client.endpoint = endpoint.display
        client.remoteHost = endpoint.machine
        client.proxy = proxy
        return client
    }

    /// Set for a remote engine: the local end of its connection, which knows why it last failed.
    var proxy: EngineProxy?
    /// The machine a remote engine runs on; nil for a local socket.
    public var remoteHost: String?

    /// The largest answer this client reads whole.
    public var bodyLimit = DockerClient.maxBodyBytes

    public init(socketPath: String) {
        self.socketPath = socketPath
        self.endpoint = "unix://\(socketPath)"
        self.http = Self.sharedHTTP
    }

    /// One client for the process, never shut down: it lives as long as the CLI does. A short
    /// connect timeout, because an absent engine should be reported at once, not retried.
    static let sharedHTTP = makeHTTPClient()

    /// Long-lived streams (engine events, followed logs, exec output) get a client of their own:
    /// in the shared pool, a subscription could wait behind a burst of short requests, and the
    /// controller would hear of a killed container late.
    static let streamingHTTP = makeHTTPClient()

    /// The pool keeps the client's default of 8 connections per host: with a larger limit the
    /// controller stopped hearing of engine events (not understood yet), so more than 8
    /// concurrent operations wait for a connection. A wait longer than the connect timeout ends
    /// the attempt, not the request: `request` sends it again until its own deadline.
    static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(3))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// The engine as messages name it: the socket, or the remote address.
    public var endpoint: String

    /// Why the engine cannot be reached, from the remote connection when there is one.
    func unreachable(_ error: Error) -> EngineError {
        if let proxy {
            // ssh says why it failed on its stderr, which may come a moment after the connection closed.
            for _ in 0..<30 {
                if let failure = proxy.failure { return EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint): \(failure)") }
                usleep(50_000)
            }
        }
        return EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint) (\(Self.reason(error))): is dockerd running?")
    }

    /// The largest answer read whole; archives stream through `transfer` and are never read whole.
    public static let maxBodyBytes = 512 << 20

    func url(_ path: String, query: [(String, String)] = []) -> String {
        let socket = socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
        var url = "http+unix://\(socket)/\(Self.apiVersion)\(path)"
        if !query.isEmpty {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            url += "?" + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        }
        return url
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: Data
        /// What the request was, for messages.
        var context: String

        /// The body as the engine's documented model; an answer of another shape is a typed
        /// error that says which request got it, never a silent default.
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do { return try JSONDecoder().decode(type, from: body) } catch {
                throw EngineError(.server, "\(context): the engine's answer is not the \(T.self) expected (\(DockerClient.decodingReason(error)))")
            }
        }
    }

    static func decodingReason(_ error: Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, _)?: return "no \(key.stringValue)"
        case let .typeMismatch(_, context)?, let .valueNotFound(_, context)?:
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted?: return "not JSON"
        default: return "unreadable"
        }
    }

    /// One request with a JSON body: the engine's request model, encoded.
    @discardableResult
    public func request<Body: Encodable>(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Body,
                                         timeout: TimeAmount = .seconds(120), context: String? = nil) async throws -> Response {
        try await request(method, path, query: query, body: try JSONEncoder().encode(body), contentType: "application/json", timeout: timeout, context: context)
    }

    /// One request; a non-2xx answer becomes an EngineError carrying the engine's message.
    @discardableResult
    public func request(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
                        body: Data? = nil, contentType: String? = nil, timeout: TimeAmount = .seconds(120),
                        context: String? = nil) async throws -> Response {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        // dockerd rejects requests without a Host header, which the client omits on unix sockets.
        request.headers.add(name: "Host", value: "localhost")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        guard FileManager.default.fileExists(atPath: socketPath) else {
            throw EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint) (no such socket): is dockerd running?")
        }
        let response: HTTPClientResponse
        var buffer: ByteBuffer
        do {
            response = try await execute(request, deadline: .now() + timeout)
        } catch {
            throw unreachable(error)
        }
        do {
            buffer = try await response.body.collect(upTo: bodyLimit)
        } catch is NIOTooManyBytesError {
            let prefix = context.map { "\($0): " } ?? ""
            throw EngineError(.bodyTooLarge, "\(prefix)the engine's answer to \(method.rawValue) \(path) is over \(Self.describe(bytes: bodyLimit)), more than devstack holds in memory")
        } catch {
            throw EngineError(.unreachable, "the Docker engine at \(endpoint) stopped answering mid-response (\(Self.reason(error)))")
        }
        let data = Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        let status = Int(response.status.code)
        // 304: already started or stopped, which is what we wanted.
        guard (200..<300).contains(status) || status == 304 else { throw Self.failure(status: status, body: data, context: context) }
        return Response(status: status, body: data, context: context ?? "\(method.rawValue) \(path)")
    }

    /// `request`, sent again while every pooled connection stays busy for longer than the
    /// connect timeout (more operations at once than the pool holds, some of them slow): such a
    /// request was never sent, and the engine is busy, not unreachable.
    private func execute(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> HTTPClientResponse {
        while true {
            do {
                return try await http.execute(request, deadline: deadline)
            } catch let error as HTTPClientError where error == .getConnectionFromPoolTimeout && NIODeadline.now() < deadline {
                continue
            }
        }
    }

    /// A request whose body and answer both stream: the body is pulled from `chunks` as the
    /// engine reads it, and the answer is handed to `sink` as it arrives, so an archive of any
    /// size passes through without being held whole.
    public func transfer(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], chunks: ByteChunks? = nil,
                         contentType: String = "application/x-tar", context: String, sink: (Data) async throws -> Void = { _ in }) async throws {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        request.headers.add(name: "Host", value: "localhost")
        if let chunks {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .stream(chunks.map { ByteBuffer(bytes: $0) }, length: .unknown)
        }
        guard FileManager.default.fileExists(atPath: socketPath) else {
            throw EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint) (no such socket): is dockerd running?")
        }
        let response: HTTPClientResponse
        do {
            // No deadline: the transfer takes as long as the data does; the caller can cancel it.
            response = try await http.execute(request, timeout: .hours(24))
        } catch let error as EngineError {
            throw error
        } catch where Self.isConnectionFailure(error) {
            throw unreachable(error)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            var body = try await response.body.collect(upTo: 1 << 20)
            throw Self.failure(status: status, body: Data(body.readBytes(length: body.readableBytes) ?? []), context: context)
        }
        do {
            for try await buffer in response.body { try await sink(Data(buffer.readableBytesView)) }
        } catch where Self.isConnectionFailure(error) {
            throw EngineError(.unreachable, "\(context): the Docker engine at \(endpoint) stopped answering mid-transfer (\(Self.reason(error)))")
        }
    }

    /// Errors of the connection itself, as opposed to ones our own body or sink threw.
    static func isConnectionFailure(_ error: Error) -> Bool {
        error is IOError || error is NIOConnectionError || error is HTTPClientError || error is ChannelError
    }

    /// A non-2xx answer as an EngineError carrying the engine's own message.
    static func failure(status: Int, body data: Data, context: String?) -> EngineError {
        let message = (try? JSONDecoder().decode(EngineAPI.ErrorMessage.self, from: data))?.message
            ?? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = context.map { "\($0): " } ?? ""
        let kind: EngineError.Kind = status == 404 ? .notFound : status == 409 ? .conflict : status >= 500 ? .server : .badRequest
        return EngineError(kind, "\(prefix)\(message.isEmpty ? "engine answered \(status)" : message)")
    }

    static func describe(bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }

    /// Why the engine could not be reached, from the error's type: a system call's errno, or
    /// one of the HTTP client's time-outs.
    static func reason(_ error: Error) -> String {
        if let io = error as? IOError { return reason(errno: io.errnoCode) }
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return reason(first.error)
        }
        if let http = error as? HTTPClientError {
            switch http {
            case .connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout: return "timed out"
            case .remoteConnectionClosed: return "the engine closed the connection"
            default: break
            }
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel { return "timed out" }
        let text = "\(error)"
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }

    static func reason(errno code: Int32) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ENOENT: return "no such socket"
        case EACCES, EPERM: return "permission denied"
        case ETIMEDOUT: return "timed out"
        default: return String(cString: strerror(code)).lowercased()
        }
    }

    /// Docker's multiplexed stdout/stderr stream, read whole.
    public static func demultiplex(_ data: Data) -> [(stream: UInt8, payload: Data)] {
        var decoder = FrameDecoder()
        return decoder.push(data)
    }
}
