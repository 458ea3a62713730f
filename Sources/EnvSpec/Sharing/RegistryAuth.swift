import Foundation

/// A registry's `WWW-Authenticate` answer: `Basic realm="…"` or `Bearer realm="…",service="…",scope="…"`
/// (the distribution spec's token flow).
public struct RegistryChallenge: Sendable, Equatable {
    public enum Scheme: String, Sendable, Equatable { case basic, bearer }
    public var scheme: Scheme
    public var parameters: [String: String]

    public init(scheme: Scheme, parameters: [String: String] = [:]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// Parses one challenge; nil for a scheme devstack does not speak. Quoted values may hold
    /// commas and escaped quotes.
    public static func parse(_ header: String) -> RegistryChallenge? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        let name = trimmed.prefix { !$0.isWhitespace }
        guard let scheme = Scheme(rawValue: name.lowercased()) else { return nil }
        var parameters: [String: String] = [:]
        var rest = trimmed.dropFirst(name.count)[...]
        while true {
            rest = rest.drop { $0 == " " || $0 == "," || $0 == "\t" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { break } else { value.append(c) }
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if !key.isEmpty { parameters[key] = value }
        }
        return RegistryChallenge(scheme: scheme, parameters: parameters)
    }
}

/// The docker CLI's `config.json`, as far as credentials go: `auths` (base64 `user:password`, or
/// an identity token), `credsStore` and `credHelpers`. devstack reads it and never writes it.
public struct DockerConfig: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var username: String?
        public var password: String?
        public var identityToken: String?
    }

    public var auths: [String: Entry] = [:]
    public var credsStore: String?
    public var credHelpers: [String: String] = [:]

    public init() {}

    /// Where a registry's credentials come from, in the docker CLI's order: a helper named for
    /// the registry, else the default store, else `auths`.
    public enum Source: Sendable, Equatable {
        case basic(username: String, password: String)
        case identityToken(String)
        /// Run `docker-credential-NAME get` with the server address on stdin.
        case helper(name: String, server: String)
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    public static func parse(_ data: Data, file: String) throws(Invalid) -> DockerConfig {
        guard let text = String(data: data, encoding: .utf8) else { throw Invalid(file: file, reason: "not UTF-8 text") }
        let root: JSONNode
        do { root = try JSONParser.parse(text) } catch { throw Invalid(file: file, reason: "line \(error.line): \(error.message)") }
        var config = DockerConfig()
        if case let .string(store)? = root["credsStore"]?.value, !store.isEmpty { config.credsStore = store }
        if case let .object(helpers)? = root["credHelpers"]?.value {
            for member in helpers { if case let .string(name) = member.value.value, !name.isEmpty { config.credHelpers[hostname(member.key)] = name } }
        }
        if case let .object(auths)? = root["auths"]?.value {
            for member in auths {
                var entry = Entry()
                if case let .string(auth)? = member.value["auth"]?.value, !auth.isEmpty {
                    guard let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }), let colon = decoded.firstIndex(of: ":") else {
                        throw Invalid(file: file, reason: "auths.\(member.key).auth: expected base64 of USER:PASSWORD")
                    }
                    entry.username = String(decoded[..<colon])
                    entry.password = String(decoded[decoded.index(after: colon)...])
                }
                if case let .string(user)? = member.value["username"]?.value, entry.username == nil { entry.username = user }
                if case let .string(password)? = member.value["password"]?.value, entry.password == nil { entry.password = password }
                if case let .string(token)? = member.value["identitytoken"]?.value, !token.isEmpty { entry.identityToken = token }
                config.auths[hostname(member.key)] = entry
            }
        }
        return config
    }

    public func source(for registry: String) -> Source? {
        let host = Self.hostname(registry)
        let server = host == Self.dockerHub ? Self.dockerHubServer : host
        if let helper = credHelpers[host] { return .helper(name: helper, server: server) }
        if let credsStore { return .helper(name: credsStore, server: server) }
        guard let entry = auths[host] else { return nil }
        if let token = entry.identityToken { return .identityToken(token) }
        guard let username = entry.username, let password = entry.password else { return nil }
        return .basic(username: username, password: password)
    }

    static let dockerHub = "docker.io"
    static let dockerHubServer = "https://index.docker.io/v1/"

    /// The docker CLI's key for a registry: no scheme, no path; Docker Hub's names are one.
    public static func hostname(_ key: String) -> String {
        var host = key
        for scheme in ["https://", "http://"] where host.lowercased().hasPrefix(scheme) { host = String(host.dropFirst(scheme.count)) }
        host = String(host.prefix { $0 != "/" })
        switch host.lowercased() {
        case "docker.io", "index.docker.io", "registry-1.docker.io": return dockerHub
        default: return host
        }
    }
}
