import Crypto
import Foundation
import Reconciler

/// Where the Docker engine is, found exactly as the docker CLI finds it: `--context` (passed
/// as `DEVSTACK_CONTEXT`), else `DOCKER_HOST`, else `DOCKER_CONTEXT`, else the `currentContext`
/// of docker's config.json, else the local socket. TLS for `tcp://` follows `DOCKER_TLS_VERIFY`
/// and `DOCKER_CERT_PATH`, or the context's own certificates.
public enum EngineEndpoint: Sendable, Hashable {
    case unix(path: String)
    case tcp(host: String, port: Int, tls: TLSFiles?)
    /// `ssh://[user@]host[:port]`: the remote `docker system dial-stdio`, through the system's ssh.
    case ssh(user: String?, host: String, port: Int?)

    public struct TLSFiles: Sendable, Hashable {
        public var ca: String?
        public var cert: String?
        public var key: String?
        /// False for `DOCKER_TLS` without `DOCKER_TLS_VERIFY`, or a context's `SkipTLSVerify`.
        public var verify: Bool
    }

    public static let defaultSocket = "/var/run/docker.sock"

    /// What messages call it: `unix:///var/run/docker.sock`, `tcp://host:2376`, `ssh://user@host`.
    public var display: String {
        switch self {
        case let .unix(path): return "unix://\(path)"
        case let .tcp(host, port, _): return "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case let .ssh(user, host, port): return "ssh://\(user.map { "\($0)@" } ?? "")\(host)\(port.map { ":\($0)" } ?? "")"
        }
    }

    public var isRemote: Bool { if case .unix = self { return false } else { return true } }

    /// The machine a remote engine runs on: where its published ports are.
    public var machine: String? {
        switch self {
        case .unix: return nil
        case let .tcp(host, _, _): return host
        case let .ssh(_, host, _): return host
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    public static func resolve(environment: [String: String], readFile: (String) -> Data? = { FileManager.default.contents(atPath: $0) }) throws -> EngineEndpoint {
        let configFolder = environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
        if let context = environment["DEVSTACK_CONTEXT"], !context.isEmpty { return try fromContext(context, configFolder: configFolder, environment: environment, readFile: readFile) }
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return try parse(host, environment: environment, certFolder: environment["DOCKER_CERT_PATH"] ?? configFolder) }
        if let context = environment["DOCKER_CONTEXT"], !context.isEmpty { return try fromContext(context, configFolder: configFolder, environment: environment, readFile: readFile) }
        if let data = readFile(configFolder + "/config.json"), let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let current = config["currentContext"] as? String, !current.isEmpty {
            return try fromContext(current, configFolder: configFolder, environment: environment, readFile: readFile)
        }
        return .unix(path: defaultSocket)
    }

    /// A `DOCKER_HOST` value.
    public static func parse(_ host: String, environment: [String: String], certFolder: String, contextTLS: TLSFiles? = nil) throws -> EngineEndpoint {
        guard let schemeEnd = host.range(of: "://") else {
            throw EngineError(.badRequest, "DOCKER_HOST=\(host) is not an address devstack understands: expected unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]")
        }
        let scheme = host[..<schemeEnd.lowerBound].lowercased()
        let rest = String(host[schemeEnd.upperBound...])
        switch scheme {
        case "unix":
            guard rest.hasPrefix("/") else { throw EngineError(.badRequest, "DOCKER_HOST=\(host): a unix socket is an absolute path (unix:///var/run/docker.sock)") }
            return .unix(path: rest)
        case "tcp", "https", "http":
            let (hostName, port) = try hostAndPort(String(rest.prefix { $0 != "/" }), in: host)
            let verify = !(environment["DOCKER_TLS_VERIFY"] ?? "").isEmpty
            let tls: TLSFiles?
            if let contextTLS {
                tls = contextTLS
            } else if verify || !(environment["DOCKER_TLS"] ?? "").isEmpty || scheme == "https" {
                tls = TLSFiles(ca: certFolder + "/ca.pem", cert: certFolder + "/cert.pem", key: certFolder + "/key.pem", verify: verify || scheme == "https")
            } else {
                tls = nil
            }
            if tls == nil, !isLoopback(hostName), environment["DEVSTACK_INSECURE_ENGINE"] != "1" {
                throw EngineError(.badRequest, "DOCKER_HOST=\(host) has no TLS: anyone on the network could run containers as root there. Set DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH, or DEVSTACK_INSECURE_ENGINE=1 if you accept that")
            }
            return .tcp(host: hostName, port: port ?? (tls == nil ? 2375 : 2376), tls: tls)
        case "ssh":
            var authority = String(rest.prefix { $0 != "/" })
            var user: String?
            if let at = authority.lastIndex(of: "@") {
                user = String(authority[..<at])
                authority = String(authority[authority.index(after: at)...])
            }
            let (hostName, port) = try hostAndPort(authority, in: host)
            // Arguments to ssh: nothing that could be read as an option.
            for part in [user ?? "", hostName] where part.hasPrefix("-") || part.contains(where: { $0.isWhitespace }) {
                throw EngineError(.badRequest, "DOCKER_HOST=\(host): \"\(part)\" is not a user or host name")
            }
            return .ssh(user: user, host: hostName, port: port)
        default:
            throw EngineError(.badRequest, "DOCKER_HOST=\(host): the scheme \(scheme):// is not supported (unix, tcp or ssh)")
        }
    }

    static func hostAndPort(_ authority: String, in written: String) throws -> (String, Int?) {
        var host = authority
        var port: Int?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) ; if port == nil { throw EngineError(.badRequest, "\(written): the port is not a number") } }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]) else { throw EngineError(.badRequest, "\(written): the port is not a number") }
            port = number
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw EngineError(.badRequest, "\(written): no host") }
        if let port, !(1...65535).contains(port) { throw EngineError(.badRequest, "\(written): the port \(port) is out of range") }
        return (host, port)
    }

    /// A context from docker's context store (`docker context create`): its endpoint and TLS files.
    static func fromContext(_ name: String, configFolder: String, environment: [String: String], readFile: (String) -> Data?) throws -> EngineEndpoint {
        if name == "default" { return .unix(path: defaultSocket) }
        let id = SHA256.hash(data: Data(name.utf8)).map { String(format: "%02x", $0) }.joined()
        let meta = "\(configFolder)/contexts/meta/\(id)/meta.json"
        guard let data = readFile(meta) else {
            throw EngineError(.badRequest, "no docker context named \"\(name)\" (looked for \(meta)); docker context ls lists them")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let endpoints = root["Endpoints"] as? [String: Any],
              let docker = endpoints["docker"] as? [String: Any], let host = docker["Host"] as? String else {
            throw EngineError(.badRequest, "\(meta): expected Endpoints.docker.Host in docker's context metadata")
        }
        let tlsFolder = "\(configFolder)/contexts/tls/\(id)/docker"
        let skip = docker["SkipTLSVerify"] as? Bool ?? false
        var contextTLS: TLSFiles?
        if readFile(tlsFolder + "/ca.pem") != nil || readFile(tlsFolder + "/cert.pem") != nil {
            contextTLS = TLSFiles(ca: readFile(tlsFolder + "/ca.pem") != nil ? tlsFolder + "/ca.pem" : nil,
                                  cert: readFile(tlsFolder + "/cert.pem") != nil ? tlsFolder + "/cert.pem" : nil,
                                  key: readFile(tlsFolder + "/key.pem") != nil ? tlsFolder + "/key.pem" : nil, verify: !skip)
        }
        var env = environment
        env["DOCKER_TLS_VERIFY"] = nil
        env["DOCKER_TLS"] = nil
        return try parse(host, environment: env, certFolder: tlsFolder, contextTLS: contextTLS)
    }
}
