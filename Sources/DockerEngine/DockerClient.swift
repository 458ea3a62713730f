import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Reconciler

/// A minimal Docker Engine API client over the unix socket, on async-http-client.
public struct DockerClient: Sendable {
    public static let apiVersion = "v1.41"
    public let socketPath: String
    let http: HTTPClient

    /// Honours DOCKER_HOST (unix:// only), defaulting to /var/run/docker.sock.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DockerClient {
        let host = environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "unix:///var/run/docker.sock"
        guard host.hasPrefix("unix://") else {
            throw EngineError(.badRequest, "DOCKER_HOST=\(host) is not supported: devstack talks to the engine over a unix socket (unix:///path)")
        }
        return DockerClient(socketPath: String(host.dropFirst("unix://".count)))
    }

    /// The largest answer this client reads whole.
    public var bodyLimit = DockerClient.maxBodyBytes

    public init(socketPath: String) {
        self.socketPath = socketPath
        self.http = Self.sharedHTTP
    }

    /// One client for the process, never shut down: it lives as long as the CLI does. A short
    /// connect timeout, because an absent engine should be reported at once, not retried.
    static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(3))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public var endpoint: String { "unix://\(socketPath)" }

    /// The largest answer read whole (volume archives are the large ones).
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
        public var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    }

    /// One request; a non-2xx answer becomes an EngineError carrying the engine's message.
    @discardableResult
    public func request(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: Any? = nil,
                        body: Data? = nil, contentType: String? = nil, timeout: TimeAmount = .seconds(120),
                        context: String? = nil) async throws -> Response {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        // dockerd rejects requests without a Host header, which the client omits on unix sockets.
        request.headers.add(name: "Host", value: "localhost")
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        } else if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        guard FileManager.default.fileExists(atPath: socketPath) else {
            throw EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint) (no such socket): is dockerd running?")
        }
        let response: HTTPClientResponse
        var buffer: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw EngineError(.unreachable, "cannot reach the Docker engine at \(endpoint) (\(Self.reason(error))): is dockerd running?")
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
        guard (200..<300).contains(status) || status == 304 else {
            let message = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["message"] as? String
                ?? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let prefix = context.map { "\($0): " } ?? ""
            let kind: EngineError.Kind = status == 404 ? .notFound : status == 409 ? .conflict : status >= 500 ? .server : .badRequest
            throw EngineError(kind, "\(prefix)\(message.isEmpty ? "engine answered \(status)" : message)")
        }
        return Response(status: status, body: data)
    }

    static func describe(bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }

    static func reason(_ error: Error) -> String {
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        if text.contains("No such file") || text.contains("ENOENT") { return "no such socket" }
        if text.contains("Permission denied") || text.contains("EACCES") { return "permission denied" }
        if text.contains("deadlineExceeded") || text.contains("timeout") { return "timed out" }
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }

    /// Docker's multiplexed stdout/stderr stream, read whole.
    public static func demultiplex(_ data: Data) -> [(stream: UInt8, payload: Data)] {
        var decoder = FrameDecoder()
        return decoder.push(data)
    }
}
