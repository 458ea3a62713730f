import AsyncHTTPClient
import EnvSpec
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A failure talking to a registry, said so that the person can act on it.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable { case unreachable, untrusted, unauthorized, notFound, invalid, server }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// How to reach a registry: TLS with the system's trust store plus an optional CA file (or
/// docker's `/etc/docker/certs.d/HOST/ca.crt`), or plain HTTP to a loopback registry when asked.
public struct RegistryOptions: Sendable {
    public var caFile: String?
    public var plainHTTP = false
    /// DOCKER_CONFIG, HOME and PATH: where credentials and their helpers are found.
    public var environment: [String: String]

    public init(caFile: String? = nil, plainHTTP: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.caFile = caFile
        self.plainHTTP = plainHTTP
        self.environment = environment
    }
}

/// One registry, spoken to over the OCI distribution API: blobs (checked, mounted, uploaded in
/// fixed-size chunks, downloaded with their digest verified as they arrive) and manifests.
/// Authentication follows the registry's challenge: Basic with docker's credentials, or the
/// Bearer token flow. Tokens live in memory only; nothing is written anywhere.
public actor RegistrySession {
    public let registry: String
    let base: String
    let http: HTTPClient
    let credentials: RegistryCredentials
    /// The Authorization header for each scope (Bearer), or for every request (Basic).
    var authorizations: [String: String] = [:]
    var basic: String?
    /// docker's credential for this registry, looked up once (a helper is a process to run).
    var credential: RegistryCredentials.Credential??
    /// Bytes per upload request: memory stays at one chunk whatever the blob's size.
    public static let chunkSize = 8 << 20

    public init(_ reference: OCIReference, options: RegistryOptions) throws {
        registry = reference.registry
        if options.plainHTTP, !reference.isLoopback {
            throw RegistryError(.invalid, "--plain-http is for a registry on this machine (localhost, 127.0.0.1, ::1), not \(reference.registry): use TLS, with --ca for a private CA")
        }
        base = "\(options.plainHTTP ? "http" : "https")://\(reference.apiHost)"
        var tls = TLSConfiguration.makeClientConfiguration()
        var roots: [NIOSSLAdditionalTrustRoots] = []
        if let ca = options.caFile {
            do { _ = try NIOSSLCertificate.fromPEMFile(ca) } catch {
                throw RegistryError(.invalid, "\(ca): cannot read a PEM certificate from it (--ca expects the registry's CA certificate in PEM)")
            }
            roots.append(.file(ca))
        }
        // The docker daemon's own place for a registry's CA.
        let dockerCA = "/etc/docker/certs.d/\(reference.registry)/ca.crt"
        if FileManager.default.isReadableFile(atPath: dockerCA), (try? NIOSSLCertificate.fromPEMFile(dockerCA)) != nil { roots.append(.file(dockerCA)) }
        tls.additionalTrustRoots = roots
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(120))
        // A refused connection or an untrusted certificate is reported at once, as docker does,
        // not retried until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        credentials = RegistryCredentials(environment: options.environment)
    }

    /// Must be called before the session goes away (the HTTP client's rule).
    public func close() async { try? await http.shutdown() }

    /// Runs `body` with a session that is closed afterwards, whatever happens.
    public static func with<T: Sendable>(_ reference: OCIReference, options: RegistryOptions, _ body: (RegistrySession) async throws -> T) async throws -> T {
        let session = try RegistrySession(reference, options: options)
        do {
            let result = try await body(session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    // MARK: blobs

    public func blobExists(_ repository: String, digest: String) async throws -> Bool {
        let response = try await send(.HEAD, "/v2/\(repository)/blobs/\(digest)", scopes: [pull(repository)])
        switch response.status.code {
        case 200: return true
        case 404: return false
        default: throw failure(response.status, nil, what: "checking blob \(digest.prefix(19)) in \(repository)")
        }
    }

    /// Asks the registry to link a blob it already holds in another repository. Nil when it did;
    /// otherwise the upload it started instead, to be used for uploading.
    public func mountBlob(_ repository: String, digest: String, from source: String) async throws -> String? {
        let path = "/v2/\(repository)/blobs/uploads/?mount=\(digest)&from=\(source)"
        let response = try await send(.POST, path, scopes: [push(repository), pull(source)])
        switch response.status.code {
        case 201: return nil
        case 202: return try location(response)
        default: throw failure(response.status, try? await body(response), what: "mounting \(digest.prefix(19)) into \(repository)")
        }
    }

    /// Uploads a blob whose bytes `read` hands over piece by piece (nil at the end): one request
    /// for a small blob, chunks of `chunkSize` with `Content-Range` for a large one. The registry
    /// checks the digest before it accepts the blob.
    public func upload(_ repository: String, _ descriptor: OCIArtifact.Descriptor, session started: String? = nil,
                       read: @Sendable (Int) throws -> Data?, moved: @Sendable (Int) -> Void = { _ in }) async throws {
        var location: String
        if let started { location = started } else {
            let response = try await send(.POST, "/v2/\(repository)/blobs/uploads/", scopes: [push(repository)])
            guard response.status.code == 202 else { throw failure(response.status, try? await body(response), what: "starting an upload to \(repository)") }
            location = try self.location(response)
        }
        var offset = 0
        var first = try read(Self.chunkSize) ?? Data()
        if descriptor.size <= Self.chunkSize {
            // Monolithic: the whole blob with the closing PUT.
            let response = try await send(.PUT, Self.appending(location, "digest=\(descriptor.digest)"), scopes: [push(repository)], body: first)
            guard response.status.code == 201 else { throw failure(response.status, try? await body(response), what: "uploading \(descriptor.digest.prefix(19))") }
            moved(first.count)
            return
        }
        while !first.isEmpty {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Range", value: "\(offset)-\(offset + first.count - 1)")
            let response = try await send(.PATCH, location, scopes: [push(repository)], body: first, headers: headers)
            guard response.status.code == 202 else { throw failure(response.status, try? await body(response), what: "uploading \(descriptor.digest.prefix(19)) at byte \(offset)") }
            location = try self.location(response)
            offset += first.count
            moved(offset)
            first = try read(Self.chunkSize) ?? Data()
        }
        let response = try await send(.PUT, Self.appending(location, "digest=\(descriptor.digest)"), scopes: [push(repository)], body: Data())
        guard response.status.code == 201 else { throw failure(response.status, try? await body(response), what: "finishing the upload of \(descriptor.digest.prefix(19))") }
    }

    /// Downloads a blob into `sink` as it arrives, verifying its size and SHA-256 on the way: a
    /// blob that does not match its descriptor is an error after its last byte, and the caller
    /// keeps nothing it wrote.
    public func download(_ repository: String, _ descriptor: OCIArtifact.Descriptor, into sink: @Sendable (Data) throws -> Void,
                         moved: @Sendable (Int) -> Void = { _ in }) async throws {
        var response = try await send(.GET, "/v2/\(repository)/blobs/\(descriptor.digest)", scopes: [pull(repository)])
        var redirects = 0
        // Registries may hand blobs out from elsewhere (object storage): followed without our
        // credentials.
        while [301, 302, 303, 307, 308].contains(Int(response.status.code)), redirects < 5 {
            let target = try location(response)
            redirects += 1
            var request = HTTPClientRequest(url: target)
            request.method = .GET
            response = try await execute(request, what: "downloading \(descriptor.digest.prefix(19))")
        }
        guard response.status.code == 200 else { throw failure(response.status, try? await body(response), what: "downloading \(descriptor.digest.prefix(19)) from \(repository)") }
        var hasher = CanonicalJSON.Hasher()
        var count = 0
        var received = false
        do {
            for try await var buffer in response.body {
                let piece = Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
                count += piece.count
                guard count <= descriptor.size else {
                    throw RegistryError(.invalid, "\(registry)/\(repository): blob \(descriptor.digest.prefix(19)) is larger than the \(descriptor.size) bytes its manifest says; nothing was kept")
                }
                hasher.update(piece)
                received = true
                try sink(piece)
                received = false
                moved(count)
            }
        } catch let error as RegistryError {
            throw error
        } catch where !received {
            // The connection failed, not the sink (whose own error goes up as it is).
            throw RegistryError(.unreachable, "\(registry) stopped sending blob \(descriptor.digest.prefix(19)) after \(count) bytes (\(String(describing: error).prefix(120))); nothing was kept")
        }
        let actual = "sha256:" + hasher.finalize()
        guard count == descriptor.size, actual == descriptor.digest else {
            throw RegistryError(.invalid, "\(registry)/\(repository): blob \(descriptor.digest.prefix(19)) arrived as \(count) bytes hashing to \(actual.prefix(19)), not the \(descriptor.size) bytes and digest asked for; nothing was kept")
        }
    }

    // MARK: manifests

    /// Pushes a manifest under a tag (or its digest); the digest the registry stored it under.
    public func putManifest(_ repository: String, reference: String, _ manifest: Data) async throws -> String {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: OCIArtifact.manifestMediaType)
        let response = try await send(.PUT, "/v2/\(repository)/manifests/\(reference)", scopes: [push(repository)], body: manifest, headers: headers)
        guard response.status.code == 201 else { throw failure(response.status, try? await body(response), what: "pushing the manifest to \(repository):\(reference)") }
        return "sha256:" + CanonicalJSON.sha256(manifest)
    }

    /// The manifest's bytes and digest; pinned by digest, the bytes must hash to it.
    public func manifest(_ repository: String, reference: String) async throws -> (data: Data, digest: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: OCIArtifact.manifestMediaType)
        let response = try await send(.GET, "/v2/\(repository)/manifests/\(reference)", scopes: [pull(repository)], headers: headers)
        guard response.status.code == 200 else {
            if response.status.code == 404 { throw RegistryError(.notFound, "\(registry)/\(repository): no manifest \(reference) (was it pushed?)") }
            throw failure(response.status, try? await body(response), what: "reading the manifest \(repository):\(reference)")
        }
        let data = try await body(response, limit: OCIArtifact.manifestLimit)
        let digest = "sha256:" + CanonicalJSON.sha256(data)
        if OCIArtifact.isDigest(reference), digest != reference {
            throw RegistryError(.invalid, "\(registry)/\(repository)@\(reference.prefix(19)): the registry answered a manifest hashing to \(digest.prefix(19)); refused")
        }
        return (data, digest)
    }

    // MARK: requests and authentication

    func pull(_ repository: String) -> String { "repository:\(repository):pull" }
    func push(_ repository: String) -> String { "repository:\(repository):pull,push" }

    func url(_ path: String) -> String { path.hasPrefix("http://") || path.hasPrefix("https://") ? path : base + path }

    static func appending(_ location: String, _ query: String) -> String { location + (location.contains("?") ? "&" : "?") + query }

    func location(_ response: HTTPClientResponse) throws -> String {
        guard let location = response.headers.first(name: "Location"), !location.isEmpty else {
            throw RegistryError(.server, "\(registry): the registry answered \(response.status.code) without a Location")
        }
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return base + (location.hasPrefix("/") ? location : "/" + location)
    }

    /// Sends a request with what this session knows of the registry's authentication; on a 401,
    /// answers the challenge once and sends it again.
    func send(_ method: HTTPMethod, _ path: String, scopes: [String], body: Data? = nil, headers: HTTPHeaders = HTTPHeaders()) async throws -> HTTPClientResponse {
        func request() -> HTTPClientRequest {
            var request = HTTPClientRequest(url: url(path))
            request.method = method
            request.headers = headers
            if let header = authorizations[scopes.joined(separator: " ")] ?? basic { request.headers.replaceOrAdd(name: "Authorization", value: header) }
            if let body {
                if !request.headers.contains(name: "Content-Type") { request.headers.add(name: "Content-Type", value: "application/octet-stream") }
                request.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            return request
        }
        let what = "\(method.rawValue) \(path.prefix(80))"
        let first = try await execute(request(), what: what)
        guard first.status.code == 401 else { return first }
        _ = try? await self.body(first, limit: 1 << 16)
        let hadAuthorization = authorizations[scopes.joined(separator: " ")] != nil || basic != nil
        guard let header = first.headers.first(name: "WWW-Authenticate"), let challenge = RegistryChallenge.parse(header) else {
            throw RegistryError(.unauthorized, "\(registry) refused the request (401) without a challenge devstack can answer")
        }
        if hadAuthorization, challenge.scheme == .basic {
            throw refusedCredentials()
        }
        try await answer(challenge, scopes: scopes)
        let second = try await execute(request(), what: what)
        if second.status.code == 401 {
            _ = try? await self.body(second, limit: 1 << 16)
            throw refusedCredentials()
        }
        return second
    }

    func dockerCredential() throws -> RegistryCredentials.Credential? {
        if let credential { return credential }
        let found = try credentials.credential(for: registry)
        credential = .some(found)
        return found
    }

    /// " (user NAME)" for messages, when a user name is known; never the password.
    var userNote: String {
        guard case let .basic(username, _)?? = credential else { return "" }
        return " (user \(username))"
    }

    func refusedCredentials(by who: String? = nil) -> RegistryError {
        RegistryError(.unauthorized, "\(who ?? registry) refused the credentials\(userNote): check them with docker login \(registry)")
    }

    func answer(_ challenge: RegistryChallenge, scopes: [String]) async throws {
        let credential = try dockerCredential()
        switch challenge.scheme {
        case .basic:
            guard case let .basic(username, password)? = credential else {
                throw RegistryError(.unauthorized, "\(registry) asks for a user name and password and none is configured: run docker login \(registry) (devstack reads docker's config.json and credential helpers)")
            }
            basic = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        case .bearer:
            guard let realm = challenge.realm, let realmURL = URL(string: realm), realmURL.scheme == "https" || realmURL.scheme == "http" else {
                throw RegistryError(.unauthorized, "\(registry) asks for a token without saying where to get it (no realm)")
            }
            var components = URLComponents(url: realmURL, resolvingAgainstBaseURL: false)
            var query = components?.queryItems ?? []
            if let service = challenge.service { query.append(URLQueryItem(name: "service", value: service)) }
            for scope in scopes { query.append(URLQueryItem(name: "scope", value: scope)) }
            components?.queryItems = query
            guard let tokenURL = components?.url?.absoluteString else { throw RegistryError(.unauthorized, "\(registry): the token realm \(realm) is not a URL") }
            var request = HTTPClientRequest(url: tokenURL)
            switch credential {
            case let .basic(username, password)?:
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
            case let .identityToken(token)?:
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                let form = "grant_type=refresh_token&client_id=devstack&refresh_token=\(Self.formEncoded(token))&service=\(Self.formEncoded(challenge.service ?? ""))&scope=\(Self.formEncoded(scopes.joined(separator: " ")))"
                request.body = .bytes(ByteBuffer(string: form))
            default: break
            }
            let response = try await execute(request, what: "asking \(realmURL.host ?? realm) for a token")
            guard response.status.code == 200 else {
                _ = try? await body(response, limit: 1 << 16)
                if response.status.code == 401 || response.status.code == 403 {
                    throw RegistryError(.unauthorized, credential == nil
                        ? "\(registry) needs credentials for \(scopes.joined(separator: " ")): run docker login \(registry) (devstack reads docker's config.json and credential helpers)"
                        : refusedCredentials(by: "\(registry)'s token service").message)
                }
                throw RegistryError(.unauthorized, "\(registry)'s token service answered \(response.status.code)")
            }
            let data = try await body(response, limit: 1 << 20)
            let answer = try? JSONParser.parse(String(decoding: data, as: UTF8.self))
            guard case let .string(token)? = (answer?["token"] ?? answer?["access_token"])?.value, !token.isEmpty else {
                throw RegistryError(.unauthorized, "\(registry)'s token service answered without a token")
            }
            authorizations[scopes.joined(separator: " ")] = "Bearer \(token)"
        }
    }

    static func formEncoded(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    func execute(_ request: HTTPClientRequest, what: String) async throws -> HTTPClientResponse {
        var request = request
        request.headers.replaceOrAdd(name: "User-Agent", value: "devstack/\(DevstackVersion.current)")
        do { return try await http.execute(request, timeout: .minutes(30)) } catch {
            throw Self.transportError(error, registry: registry, what: what)
        }
    }

    static func transportError(_ error: Error, registry: String, what: String) -> RegistryError {
        let text = String(describing: error)
        if error is NIOSSLError || text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshakeFailed") {
            let reason = text.contains("CERTIFICATE_VERIFY_FAILED") ? "certificate verify failed" : String(text.prefix(120))
            return RegistryError(.untrusted, "cannot reach \(registry): its TLS certificate is not trusted (\(reason)); pass --ca with the registry's CA certificate, or put it in /etc/docker/certs.d/\(registry)/ca.crt")
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") {
            return RegistryError(.unreachable, "cannot reach \(registry): connection refused: is the registry running, and is the address right?")
        }
        if text.contains("connectTimeout") || text.contains("connect(descriptor") {
            return RegistryError(.unreachable, "cannot reach \(registry) (\(text.prefix(160))): is the registry running, and is the address right?")
        }
        return RegistryError(.unreachable, "cannot reach \(registry) while \(what) (\(text.prefix(200)))")
    }

    func body(_ response: HTTPClientResponse, limit: Int = 1 << 20) async throws -> Data {
        var buffer: ByteBuffer
        do { buffer = try await response.body.collect(upTo: limit) } catch is NIOTooManyBytesError {
            throw RegistryError(.invalid, "\(registry): an answer was over \(limit) bytes, more than devstack reads")
        } catch {
            throw RegistryError(.unreachable, "\(registry) stopped answering mid-response (\(String(describing: error).prefix(120)))")
        }
        return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func failure(_ status: HTTPResponseStatus, _ body: Data?, what: String) -> RegistryError {
        // The distribution spec's error body: {"errors": [{"code", "message"}]}.
        var detail = ""
        if let body, let node = try? JSONParser.parse(String(decoding: body, as: UTF8.self)), case let .array(errors)? = node["errors"]?.value,
           let first = errors.first, case let .string(message)? = first["message"]?.value {
            detail = ": \(message)"
        }
        let kind: RegistryError.Kind = status.code == 404 ? .notFound : status.code == 401 || status.code == 403 ? .unauthorized : .server
        return RegistryError(kind, "\(registry): \(what) failed (\(status.code)\(detail))")
    }
}
